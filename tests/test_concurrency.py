"""Runs sharing one results folder: per-cell claims, stale claims and scratch folders of killed
runs, a failed save, four concurrent `harness run`, and a race of Store writers."""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from harness.results import claims
from harness.results.claims import HOST, Claim, read_holder, remove_scratch
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store

REPO = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


@pytest.fixture
def other_process():
    """A live process standing in for another `harness run`."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def hold(path: Path, pid: int, host: str = HOST, age_s: float = 0.0) -> None:
    path.write_text(json.dumps({"pid": pid, "host": host, "started_at": "then"}))
    os.utime(path, (time.time() - age_s,) * 2)


def test_a_claim_is_exclusive_and_released(tmp_path):
    first, second = Claim(tmp_path / "c.claim"), Claim(tmp_path / "c.claim")
    assert first.acquire() is None
    holder = second.acquire()
    assert (holder["pid"], holder["host"]) == (os.getpid(), HOST)
    first.release()
    assert not (tmp_path / "c.claim").exists()
    assert second.acquire() is None


@pytest.mark.parametrize("pid, host, age_s, broken", [
    ("dead", HOST, 0, True),  # killed holder on this host
    ("live", HOST, 0, False),
    ("live", HOST, claims.CLAIM_TIMEOUT_S + 60, True),  # timed out
    ("dead", "elsewhere", 0, False),  # another host's pid cannot be checked: only the timeout
    (None, None, 0, False),  # being written right now
    (None, None, claims.UNWRITTEN_CLAIM_S + 5, True),  # created, then killed before writing
])
def test_a_stale_claim_is_broken_and_a_live_one_is_not(tmp_path, other_process, pid, host,
                                                       age_s, broken):
    path = tmp_path / "c.claim"
    if pid is None:
        path.write_bytes(b"")
        os.utime(path, (time.time() - age_s,) * 2)
    else:
        hold(path, dead_pid() if pid == "dead" else other_process.pid, host, age_s)
    claim = Claim(path)
    assert (claim.acquire() is None) is broken
    if broken:
        assert read_holder(path)["pid"] == os.getpid()
    claim.release()
    assert path.exists() is not broken  # release never removes another process's claim


def cells_for(data_dir, seeds=(0, 1, 2)):
    return build_cells(GridRequest(tasks=["agnews"], strategies="toy-first-label", n_train=20,
                                   n_eval=12, data_dir=data_dir, seeds=seeds))


def test_a_cell_claimed_by_a_live_run_is_left_for_the_end_then_waited_for(
        toys, data_dir, store, other_process):
    cells = cells_for(data_dir)
    hold(store.claim_path(cells[0].keys[0]), other_process.pid)
    threading.Timer(1.0, other_process.kill).start()  # the other run dies without finishing
    lines = []
    summary = run_cells(cells, store, isolate=False, echo=lines.append)
    assert (summary.ran, summary.by_others, summary.failed) == (3, 0, 0)
    held = f"claimed by pid {other_process.pid} on host {HOST}"
    assert f"{held}, coming back to it at the end" in lines[0]
    assert sum("coming back to it" in line for line in lines) == 1  # said once, not per look
    waited = next(i for i, line in enumerate(lines) if line.endswith(f"{held}, waiting"))
    assert all("[1/3]" not in line for line in lines[1:waited])  # cells 2 and 3 ran first
    assert not list(store.root.glob("*.claim"))


def test_a_cell_another_run_finishes_is_counted_as_theirs(toys, data_dir, store, tmp_path,
                                                          other_process):
    cells = cells_for(data_dir, seeds=(0, 1))
    claim = store.claim_path(cells[0].keys[0])
    hold(claim, other_process.pid)
    finished_elsewhere = Store(tmp_path / "elsewhere")
    finished_elsewhere.prepare()
    run_cells(cells[:1], finished_elsewhere, isolate=False, echo=lambda _: None)

    def other_run_finishes():
        for name in ("predictions.csv", "json"):
            src = finished_elsewhere.root / f"{cells[0].keys[0]}.{name}"
            (store.root / src.name).write_bytes(src.read_bytes())
        claim.unlink()

    threading.Timer(1.0, other_run_finishes).start()
    summary = run_cells(cells, store, isolate=False, echo=lambda _: None)
    assert (summary.ran, summary.by_others, summary.skipped) == (1, 1, 0)
    assert "1 ran in other processes" in summary.line(2, "results")


def test_a_failed_save_fails_that_cell_only(toys, data_dir, store, monkeypatch):
    cells = cells_for(data_dir)
    real_save = store.save

    def disk_full_once(record, predictions=None):
        if record["seed"] == 1:
            raise OSError(28, "No space left on device")
        real_save(record, predictions)

    monkeypatch.setattr(store, "save", disk_full_once)
    lines = []
    summary = run_cells(cells, store, isolate=False, echo=lines.append)
    assert (summary.ran, summary.failed) == (2, 1)
    assert any("FAILED: cannot save its record: OSError: [Errno 28] No space left" in line
               for line in lines)
    assert sorted(r["seed"] for r in store.records()) == [0, 2]
    assert not list(store.root.glob("*.claim"))


def test_scratch_folders_of_dead_processes_are_removed_at_start(store, other_process):
    tmp = Path(tempfile.gettempdir())
    dead = tmp / f"{claims.SCRATCH_PREFIX}{dead_pid()}-abc"
    live = tmp / f"{claims.SCRATCH_PREFIX}{other_process.pid}-abc"
    log = tmp / f"{claims.SCRATCH_PREFIX}{dead_pid()}-abc.log"
    for folder in (dead, live):
        (folder / "trainer").mkdir(parents=True)
    log.write_text("output")
    try:
        run_cells([], store, echo=lambda _: None)
        assert not dead.exists() and not log.exists() and live.is_dir()
    finally:
        remove_scratch(other_process.pid)
    assert not live.exists()


def test_four_concurrent_runs_share_six_cells(data_dir, tmp_path):
    args = [sys.executable, "-m", "harness.cli.main", "run", "-s", "tfidf-logreg",
            "--task", "agnews",
            # data seeds, not seeds: tfidf-logreg is deterministic and runs once per data seed
            "--n-train", "40", "--n-eval", "20", "--data-seeds", "0,1,2,3,4,5", "--data-dir",
            str(data_dir), "--out", str(tmp_path / "results")]
    runs = [subprocess.Popen([*args, "--reports", str(tmp_path / f"reports{i}")], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(4)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, [err[-2000:] for _, err in outputs]
    ran = [int(re.search(r"(\d+) ran", out).group(1)) for out, _ in outputs]
    print(f"cells ran per process: {ran}")
    assert sum(ran) == 6
    assert len(Store(tmp_path / "results").records(strict=True)) == 6
    assert not list((tmp_path / "results").glob("*.claim"))


def test_a_store_race_of_three_processes_has_no_failures():
    result = subprocess.run([sys.executable, str(REPO / "bench" / "store_race.py"),
                             "--processes", "3", "--seconds", "5"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(" 0 failures"), result.stdout
