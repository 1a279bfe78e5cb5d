"""Busy-machine honesty (Step 15): a cell's record says how crowded the machine was while it
was timed (runnable threads per phase, CPU seconds, the load average), a phase that ranks is
marked busy when more threads wanted a core than the machine has, the report says so per row,
and `--jobs` never runs more cells than there are cores."""

import multiprocessing as mp
import os
import time

import pytest

from harness.cell.measure import MIN_RUNNABLE_READINGS, PhaseMemory, runnable_threads
from harness.execution.local import LocalPool
from harness.execution.settings import Execution
from harness.results.store import Store
from test_report import leaderboard_rows, record, report, save


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def test_a_phase_timed_while_other_processes_take_every_core_is_marked_busy():
    """cores + 2 processes spinning (a machine kept busy by other work) while a phase runs."""
    if runnable_threads() is None:
        pytest.skip("no /proc/stat here")
    cores = os.cpu_count()
    context = mp.get_context("spawn")
    stop = context.Event()
    spinners = [context.Process(target=_spin, args=(stop,), daemon=True)
                for _ in range(cores + 2)]
    for process in spinners:
        process.start()
    memory = PhaseMemory("cpu")
    try:
        time.sleep(1.0)  # the spinners are up
        with memory.phase("fit"):
            deadline = time.monotonic() + 10
            while memory.runnable.get("fit", [0, 0])[1] < MIN_RUNNABLE_READINGS + 3 \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
        with memory.phase("load"):
            pass  # too short to have a reading: never called busy
    finally:
        stop.set()
        for process in spinners:
            process.join(10)
        memory.close()
    fields = memory.record()
    assert fields["fit_runnable_threads"] >= cores + 1, fields
    assert fields["machine_busy"] is True and fields["busy_phases"] == ["fit"]
    assert fields["fit_cpu_s"] >= 0 and "load_cpu_s" in fields
    assert fields["load_average_1m_start"] is not None


def test_the_report_marks_a_row_timed_on_a_busy_machine(tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    save(store, record("tfidf-logreg", machine_busy=False, fit_runnable_threads=1.9))
    save(store, record("zero-shot", machine_busy=True, busy_phases=["predict"],
                       predict_runnable_threads=4.6, fit_runnable_threads=1.0))
    markdown, html = report(store, tmp_path / "reports")
    assert "*zero-shot (tiny)*: **⏱ timed on a busy machine** (1 of 1 record(s)" in markdown
    assert "up to 2.3 runnable threads per core" in markdown
    assert markdown.count("timed on a busy machine") == 1  # not the quiet row
    assert "timed on a busy machine" in html
    assert {row["row"] for row in leaderboard_rows(markdown)} == {"tfidf-logreg (tiny)",
                                                                  "zero-shot (tiny)"}


def test_jobs_never_run_more_cells_than_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    said = []
    pool = LocalPool(Execution(jobs=5), said.append)
    assert pool.jobs == 2 and pool.slices == [(0,), (1,)]
    assert said == ["note: --jobs 5 on 2 cores: 2 cells at once, a core each (cells sharing "
                    "cores would time each other)"]
    pool.pool.shutdown()
