"""The Ray executor on a local Ray instance with two fake GPUs: the same records as the local
executor, resume, GPU placement, a lost worker retried, a cell's error not retried, one driver
per results folder. The two-node cluster with a node removed mid-run is bench/ray_node_loss.py,
run by the last test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results.claims import HOST, Claim
from harness.errors import HarnessError
from harness.execution.settings import Execution
from harness.execution.ray_cluster import DRIVER_CLAIM
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[1]
RAY = Execution(executor="ray", max_retries=2)


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Workers import the test strategies (toy_strategies) by name, as the driver does.
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR", runtime_env={"env_vars": {
                 "PYTHONPATH": os.pathsep.join([str(REPO / "tests"),
                                                os.environ.get("PYTHONPATH", "")])}})
    yield
    ray.shutdown()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def cells_for(spec, data_dir, tasks=("agnews",), **kwargs):
    return build_cells(GridRequest(tasks=tasks, strategies=spec, n_train=40, n_eval=20,
                                   data_dir=data_dir, **kwargs))


def comparable(store: Store) -> dict:
    """What must not depend on the executor: the identity and the numbers, not the timings."""
    kept = {}
    for record in store.records(strict=True):
        predictions = store.predictions_path(record["key"]).read_text()
        kept[record["key"]] = (record["status"], record["accuracy"], record["macro_f1"],
                               record["confusion_matrix"], record["ece"], predictions)
    return kept


def test_records_match_the_local_executors_and_a_rerun_submits_nothing(toys, data_dir,
                                                                      tmp_path):
    cells = cells_for("tfidf-logreg,toy-first-label", data_dir, tasks=("agnews", "sst2"))
    stores = {name: Store(tmp_path / name) for name in ("local", "ray")}
    for name, store in stores.items():
        store.prepare()
        lines = []
        # The local side in this process, for speed: a cell computes the same either way.
        summary = run_cells(cells, store, echo=lines.append,
                            execution=RAY if name == "ray" else Execution(isolate=False))
        assert (summary.ran, summary.failed) == (4, 0), lines
    assert comparable(stores["local"]) == comparable(stores["ray"])
    assert {r["executor"] for r in stores["ray"].records()} == {"ray"}
    assert {r["attempts"] for r in stores["ray"].records()} == {1}
    lines = []
    again = run_cells(cells, stores["ray"], echo=lines.append, execution=RAY)
    assert (again.skipped, again.ran) == (4, 0)
    assert not any("Ray task" in line for line in lines)


def test_concurrent_gpu_cells_see_distinct_gpus_and_cpu_cells_none(toys, data_dir, store,
                                                                   monkeypatch):
    monkeypatch.setenv("TOY_FIT_SLEEP_S", "3")
    gpu_cells = cells_for("toy-reports-placement", data_dir, seeds=[0, 1])
    asks_gpus = Execution(executor="ray", resources={"toy-reports-placement": {"gpus": 1.0}})
    summary = run_cells(gpu_cells, store, echo=lambda _: None, execution=asks_gpus)
    assert summary.ran == 2
    first, second = sorted(store.records(), key=lambda r: r["footprint_fit_started"])
    assert second["footprint_fit_started"] < first["footprint_fit_ended"]  # at once
    assert {first["footprint_cuda_visible_devices"],
            second["footprint_cuda_visible_devices"]} == {"0", "1"}
    assert first["footprint_omp_threads"] == "1"  # as many threads as CPUs asked
    cpu_cell = cells_for("toy-reports-placement", data_dir, seeds=[2])
    run_cells(cpu_cell, store, echo=lambda _: None, execution=RAY)
    (third,) = [r for r in store.records() if r["seed"] == 2]
    assert third["footprint_cuda_visible_devices"] == ""


def test_cells_never_share_the_cpus_each_was_given(toys, data_dir, store, monkeypatch):
    """Two cells asking for both CPUs run one after the other, not side by side."""
    monkeypatch.setenv("TOY_FIT_SLEEP_S", "1")
    whole = Execution(executor="ray", resources={"toy-reports-placement": {"cpus": 2.0}})
    run_cells(cells_for("toy-reports-placement", data_dir, seeds=[0, 1]), store,
              echo=lambda _: None, execution=whole)
    first, second = sorted(store.records(), key=lambda r: r["footprint_fit_started"])
    assert second["footprint_fit_started"] >= first["footprint_fit_ended"]
    assert first["cpu_threads"] == second["cpu_threads"] == 2


def test_a_worker_killed_mid_cell_is_retried_and_the_record_written_once(toys, data_dir, store,
                                                                         tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    cells = cells_for("toy-kills-its-worker-once", data_dir,
                      config={"toy-kills-its-worker-once": {
                          "marker_dir": str(markers)}})
    lines = []
    summary = run_cells(cells, store, echo=lines.append, execution=RAY)
    assert (summary.ran, summary.failed) == (1, 0), lines
    assert len(list(markers.iterdir())) == 2  # killed once, then finished
    (record,) = store.records()
    assert record["status"] == "ok" and record["attempts"] == 2
    assert len(list(store.root.glob("*.json"))) == 1
    assert any("retried by Ray after a lost worker or node: attempts 1 on node" in line
               for line in lines), lines


def test_a_cells_own_error_is_recorded_and_not_retried(toys, data_dir, store):
    summary = run_cells(cells_for("toy-raising", data_dir), store, echo=lambda _: None,
                        execution=RAY)
    (record,) = store.records()
    assert summary.failed == 1 and record["status"] == "failed"
    assert "refuses to train" in record["error"] and record["attempts"] == 1


def test_a_second_ray_driver_on_the_same_folder_stops(toys, data_dir, store):
    other = subprocess.Popen(["sleep", "60"])
    try:
        (store.root / DRIVER_CLAIM).write_text(json.dumps({"pid": other.pid, "host": HOST}))
        with pytest.raises(HarnessError, match=f"in use by the Ray driver pid {other.pid}"):
            run_cells(cells_for("toy-first-label", data_dir), store, echo=lambda _: None,
                      execution=RAY)
        assert store.records() == []
    finally:
        other.kill()
        other.wait()
    # Its driver gone, the folder is free again.
    assert run_cells(cells_for("toy-first-label", data_dir), store, echo=lambda _: None,
                     execution=RAY).ran == 1
    assert Claim(store.root / DRIVER_CLAIM).acquire() is None  # released after the run


def test_a_second_ray_driver_exits_2_from_the_command_line(data_dir, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        (out / DRIVER_CLAIM).write_text(json.dumps({"pid": other.pid, "host": HOST}))
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli.main", "run", "--executor", "ray", "-s",
             "tfidf-logreg", "-t", "agnews", "--n-train", "40", "--n-eval", "20",
             "--data-dir", str(data_dir), "--out", str(out)],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    finally:
        other.kill()
        other.wait()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "one Ray driver per results folder" in result.stderr
    assert not list(out.glob("*.json"))


@pytest.mark.slow
def test_a_node_removed_mid_run_loses_no_cell_and_duplicates_none(tmp_path, data_dir):
    """Two-node ray.cluster_utils.Cluster in its own process (this module's instance stays)."""
    report = tmp_path / "node_loss.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ray_node_loss.py"), "--data-dir", str(data_dir),
         "--work", str(tmp_path / "work"), "--out", str(report), "--tasks", "agnews",
         "--data-seeds", "2",
         "--n-eval", "100"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(report.read_text())["figures"]
    assert found["records"] == found["cells"] and found["duplicates"] == 0
    assert found["failed"] == 0
    retried = [cell for cell in found["attempts"] if len(cell["nodes"]) > 1]
    assert retried and all(cell["nodes"][0] == found["removed_node"] for cell in retried)
