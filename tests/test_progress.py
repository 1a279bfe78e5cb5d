"""A long cell shows how far it has come: its process says its phase and counts, the run
prints a line per cell at most every EVERY_S seconds while it waits (harness.cell.progress)."""

import time

import pytest
from toy_strategies import FirstLabel

from harness.api import registry
from harness.cell import isolation, progress
from harness.execution.driver import run_cells
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.results.store import Store


class SlowSteps(FirstLabel):
    name = "toy-slow-steps"

    def __init__(self, config, context):
        super().__init__(config, context)
        self.probe = context.probe

    def fit(self, tasks):
        for step in range(1, 7):
            time.sleep(0.4)
            self.probe.progress(step, 6, "steps")


@pytest.fixture
def slow():
    registry.register(SlowSteps)
    yield
    registry.unregister(SlowSteps.name)


def test_the_line_says_the_phase_counts_rate_and_time_left():
    state = {"phase": "training", "since": 0.0, "done": 120, "total": 300, "unit": "steps",
             "at": 100.0, "first": (20, 50.0)}
    assert progress.line(state, 100.0) == "training 120/300 steps, 2 steps/s, ~1.5 min left"
    assert progress.line({"phase": "predicting", "since": 10.0}, 40.0) == \
        "predicting, 30 s so far"


def test_a_running_cell_prints_its_progress_and_nothing_is_left_behind(slow, data_dir, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    monkeypatch.setattr(isolation, "WATCH_EVERY_S", 0.2)
    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="toy-slow-steps", n_train=20,
                                    n_eval=12, data_dir=data_dir))
    lines = []
    summary = run_cells(cells, store, echo=lines.append)
    assert summary.ran == 1, lines
    shown = [line for line in lines if line.startswith(f"{cells[0].label}: training")]
    assert shown and any("/6 steps" in line for line in shown), lines
    assert progress._listener is None  # the run's listener is gone with it


def test_outside_a_watched_process_saying_progress_does_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    progress.say(phase="fit")
    progress.say(done=1, total=2, unit="steps")
    assert not list(tmp_path.iterdir())


def test_a_phase_with_nothing_counted_yet_says_what_is_under_way():
    from harness.cell.progress import line

    state = {"phase": "predicting", "done": 0, "total": 5, "unit": "trials", "since": 100.0}
    assert line(state, 140.0) == "predicting (5 trials), 40 s so far"
    state.update(done=2, first=(0, 110.0), at=130.0)
    assert line(state, 140.0) == "predicting 2/5 trials, 0.1 trials/s, ~30 s left"
