"""The local executor: `--jobs` placement (cores, GPUs), cell time limits, kept artifacts,
Ctrl-C, resource requests and the execution options' errors."""

import json
import os
import signal
import subprocess
import sys
import time
from multiprocessing.context import SpawnProcess
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.execution.settings import Execution
from harness.cell.isolation import allow_cells, run_isolated, stop_all
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.api.resources import GIB, Resources, parse_overrides, request_for
from harness.execution.driver import run_cells
from harness.results.store import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def cells_for(spec, data_dir, **kwargs):
    return build_cells(GridRequest(tasks=["agnews"], strategies=spec, n_train=20, n_eval=12,
                                   data_dir=data_dir, **kwargs))


def test_jobs_run_cells_at_once_each_on_its_own_cores(toys, data_dir, store, monkeypatch):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    monkeypatch.setenv("TOY_FIT_SLEEP_S", "3")
    cells = cells_for("toy-reports-placement", data_dir, seeds=[0, 1])
    lines = []
    summary = run_cells(cells, store, echo=lines.append, execution=Execution(jobs=2))
    assert (summary.ran, summary.failed) == (2, 0), lines
    first, second = sorted(store.records(), key=lambda r: r["footprint_fit_started"])
    assert first["footprint_fit_started"] < second["footprint_fit_started"] \
        < first["footprint_fit_ended"]  # they overlapped
    assert first["footprint_cores"] != second["footprint_cores"]
    assert len(first["footprint_cores"]) == len(os.sched_getaffinity(0)) // 2
    assert first["cpu_threads"] == len(first["footprint_cores"])
    # A CPU cell sees no GPU, whatever the machine has.
    assert first["footprint_cuda_visible_devices"] == ""
    assert any(line.startswith("[2/2 done, 0 running]") for line in lines), lines


def test_a_cell_past_its_time_limit_is_stopped_and_recorded(toys, data_dir, store, monkeypatch):
    monkeypatch.setenv("TOY_FIT_SLEEP_S", "60")
    started = time.monotonic()
    summary = run_cells(cells_for("toy-reports-placement", data_dir), store,
                        echo=lambda _: None, execution=Execution(cell_timeout_s=3))
    assert time.monotonic() - started < 40
    (record,) = store.records()
    assert summary.failed == 1 and record["status"] == "failed"
    assert record["timed_out"] is True and "timed out after 3 s" in record["error"]


def test_exported_artifacts_are_kept_under_the_cells_key(toys, data_dir, store, tmp_path):
    artifacts = tmp_path / "artifacts"
    run_cells(cells_for("toy-writes-artifact,toy-first-label", data_dir), store,
              echo=lambda _: None, execution=Execution(artifacts=str(artifacts), isolate=False))
    by_strategy = {r["strategy"]: r for r in store.records()}
    kept = Path(by_strategy["toy-writes-artifact"]["artifact_path"])
    assert kept == artifacts / by_strategy["toy-writes-artifact"]["key"]
    assert (kept / "weights.bin").stat().st_size == 12345
    assert by_strategy["toy-first-label"].get("artifact_path") is None  # exported nothing
    assert not [p for p in artifacts.iterdir() if p.name.startswith(".")]  # no partial copy


def test_ctrl_c_cancels_running_cells_keeps_finished_ones_and_releases_claims(
        data_dir, tmp_path):
    """tfidf-logreg cells finish in a second; the toy cells sleep until interrupted."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores: --jobs 2 runs one cell per core")
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(
        f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "import toy_strategies\nfrom harness.api import registry\n"
        "registry.register(toy_strategies.ReportsPlacement)\n")
    env = {**os.environ, "PYTHONPATH": str(plugin), "TOY_FIT_SLEEP_S": "600",
           "PYTHONFAULTHANDLER": "1"}
    out = tmp_path / "results"
    run = subprocess.Popen(
        [sys.executable, "-m", "harness.cli.main", "run",
         "-s", "tfidf-logreg,toy-reports-placement",
         "-t", "agnews", "--n-train", "40", "--n-eval", "20", "--data-seeds", "0,1",
         "--jobs", "2", "--data-dir", str(data_dir), "--out", str(out),
         "--reports", str(tmp_path / "reports")], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As from a terminal: a test suite started in the background of a non-interactive
        # shell inherits SIGINT ignored, and so would the run, which Ctrl-C could not stop.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300  # a loaded machine starts cells slowly
    while len(list(out.glob("*tfidf*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    try:
        stdout, stderr = run.communicate(timeout=180)  # a loaded machine stops cells slowly
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGABRT)  # faulthandler prints where each thread waits
        stdout, stderr = run.communicate(timeout=60)
        pytest.fail(f"the interrupted run did not end:\n{stdout[-3000:]}\n{stderr[-12000:]}")
    assert run.returncode == 130, stdout + stderr
    assert "interrupted: 2 cells finished and kept, 2 cancelled" in stderr
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert sorted(r["strategy"] for r in records) == ["tfidf-logreg"] * 2
    assert not list(out.glob("*.claim"))


def test_a_cell_process_starting_while_the_run_stops_is_stopped_too(monkeypatch):
    """Ctrl-C can land while a pool thread is still starting its cell's process (seconds, on a
    loaded machine): that process must not live on, holding the run open."""
    started = time.monotonic()
    stop_all()
    try:
        before_start = run_isolated(time.sleep, 600)
    finally:
        allow_cells()
    original = SpawnProcess.start

    def start_then_stop(process):
        original(process)
        stop_all()  # the stop arrives before the process is registered

    monkeypatch.setattr(SpawnProcess, "start", start_then_stop)
    try:
        during_start = run_isolated(time.sleep, 600)
    finally:
        allow_cells()
    monkeypatch.undo()
    assert time.monotonic() - started < 60
    assert (before_start["status"], before_start["error"]) == (
        "failed", "cancelled: the run was interrupted")
    assert during_start["status"] == "failed" and "SIGKILL" in during_start["error"]
    assert run_isolated(dict, {"status": "ok"}) == {"status": "ok"}  # the next run starts cells


def test_a_request_follows_the_declaration_the_device_and_the_overrides(data_dir):
    zero_shot, = cells_for("zero-shot", data_dir)
    tfidf, = cells_for("tfidf-logreg", data_dir)
    assert request_for(tfidf).gpus == 0 and request_for(tfidf).memory_bytes == GIB
    assert zero_shot.device == "cpu" and request_for(zero_shot).gpus == 0  # no CUDA here
    declared = zero_shot.strategy_class.resources
    assert request_for(zero_shot).memory_bytes > declared.memory_gib * GIB  # + the model
    overrides = parse_overrides(("gpus=1", "zero-shot.memory=8", "zero-shot.cpus=4"),
                                ["zero-shot", "tfidf-logreg"])
    asked = request_for(zero_shot, overrides)
    assert (asked.gpus, asked.cpus) == (1, 4)  # an explicit GPU request holds on a CPU cell
    assert asked.memory_bytes > 8 * GIB
    assert request_for(tfidf, overrides).cpus == 1


@pytest.mark.parametrize("value, message", [
    ("gpu=1", "FIELD one of gpus, cpus, memory"),
    ("lora.gpus=1", "strategy 'lora' is not being run"),
    ("cpus=-1", "is not a number from 0 to 1,000,000"),
    ("cpus=many", "is not a number from 0 to 1,000,000"),
])
def test_bad_resource_overrides_are_one_line(value, message):
    with pytest.raises(HarnessError, match=message):
        parse_overrides((value,), ["zero-shot"])


def test_a_strategy_must_declare_sound_resources():
    with pytest.raises(ValueError, match="gpus must be a number >= 0"):
        Resources(gpus=-1)


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs 0 must be at least 1"),
    (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    (["--max-retries", "5"], "--max-retries applies to --executor ray"),
    (["--cell-timeout", "0"], "--cell-timeout 0 must be positive"),
    (["--jobs", "2", "--no-isolation"], "cannot be combined with --jobs"),
    (["--resources", "cpus=x"], "'x' is not a number"),
])
def test_bad_execution_options_fail_in_one_line_before_anything_is_written(
        data_dir, tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "run", "-s", "tfidf-logreg", "-t", "agnews",
         "--data-dir", str(data_dir), "--out", str(tmp_path / "results"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_the_ray_executor_without_ray_says_how_to_install_it(toys, data_dir, store,
                                                             monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(HarnessError, match=r"pip install 'adapt-harness\[ray\]'"):
        run_cells(cells_for("toy-first-label", data_dir), store, echo=lambda _: None,
                  execution=Execution(executor="ray"))
    assert not list(store.root.iterdir())  # no driver claim left behind, no record
