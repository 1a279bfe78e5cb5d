"""Executors are found by name (harness.execution.executors): the built-ins from their modules,
another from one class registered here. Adding an executor is one file and its test: this one
runs a grid through the driver and gets records, with no other file touched."""

from dataclasses import replace

import pytest
from click.testing import CliRunner

from harness.cell.runner import compute
from harness.cli.main import main
from harness.errors import HarnessError
from harness.execution import executors
from harness.execution.driver import run_cells
from harness.execution.local import LocalPool, Serial
from harness.execution.ray_cluster import RayExecutor
from harness.execution.settings import Execution
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.results.store import Store


class LastFirst:
    """Takes every cell it is sent, then runs them in this process, the last sent first."""

    name = "last-first"
    concurrent = False

    def __init__(self, echo):
        self.echo, self.jobs = echo, []

    @classmethod
    def create(cls, execution, store, echo):
        return cls(echo)

    def __enter__(self):
        self.echo("last-first: started")
        return self

    def __exit__(self, *exc):
        self.echo("last-first: stopped")
        return False

    def plan(self, cells):
        return cells

    def check(self, request, label):
        if request.gpus:
            raise HarnessError(f"{label}: last-first runs no GPU cell")

    def fits(self, request):
        return True

    def submit(self, job, request):
        self.jobs.append(job)
        return "queued"

    def running(self):
        return len(self.jobs)

    def collect(self, timeout_s):
        jobs, self.jobs = self.jobs[::-1], []
        return [(job, compute(replace(job, isolate=False)), {}) for job in jobs]

    def cancel(self):
        self.jobs.clear()


@pytest.fixture
def last_first():
    executors.register(LastFirst)
    yield LastFirst
    executors.unregister(LastFirst.name)


def test_the_built_in_executors_are_found_in_their_modules():
    assert executors.names() == ("local", "ray")
    assert executors.get("local") is Serial and executors.get("ray") is RayExecutor
    assert isinstance(Serial.create(Execution(), None, print), Serial)
    assert isinstance(Serial.create(Execution(jobs=2), None, print), LocalPool)
    with pytest.raises(HarnessError, match="unknown executor 'rya' .did you mean 'ray'"):
        executors.get("rya")
    with pytest.raises(HarnessError, match="--executor 'slurm' is not one of local, ray"):
        Execution(executor="slurm")


def test_a_registered_executor_runs_a_grid_and_its_records_name_it(
        toys, last_first, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="toy-first-label",
                                    seeds=(0, 1, 2), n_train=20, n_eval=12, data_dir=data_dir))
    lines = []
    summary = run_cells(cells, store, echo=lines.append,
                        execution=Execution(executor="last-first"))
    assert (summary.ran, summary.failed) == (3, 0), lines
    assert lines[0] == "last-first: started" and lines[-1] == "last-first: stopped"
    finished = [line for line in lines if "accuracy" in line]
    assert [line.split("seed ")[1][0] for line in finished] == ["2", "1", "0"], lines
    records = store.records()
    assert sorted(r["seed"] for r in records) == [0, 1, 2]
    assert {r["executor"] for r in records} == {"last-first"}
    again = run_cells(cells, store, echo=lines.append, execution=Execution(executor="local"))
    assert (again.ran, again.skipped) == (0, 3)  # the executor is not part of a cell's key


def test_the_cli_offers_the_registered_executors(last_first):
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--executor [last-first|local|ray]" in result.output
    executors.unregister(LastFirst.name)
    result = CliRunner().invoke(main, ["run", "--executor", "last-first"])
    assert result.exit_code == 2 and "'last-first' is not one of 'local', 'ray'" in result.output


def test_a_class_missing_part_of_the_protocol_is_refused_when_registered():
    class NoCollect:
        name = "no-collect"
        concurrent = False

        @classmethod
        def create(cls, execution, store, echo):
            return cls()

    with pytest.raises(TypeError, match="lacks __enter__, __exit__, plan, check, fits"):
        executors.register(NoCollect)
    assert "no-collect" not in executors.names()


def test_a_ray_worker_finds_a_preset_again_and_checks_its_weights(data_dir):
    """A preset installed at another path on a worker than on the driver is loaded from there,
    if its identity (the driver's, in the cell's provenance) is the same."""
    from harness.execution.ray_cluster import _model_on_this_node

    cell, = build_cells(GridRequest(tasks=["agnews"], strategies="embedding-probe", n_train=8,
                                    n_eval=8, data_dir=data_dir))
    moved = replace(cell, model=replace(cell.model, source="/not/on/this/node"))
    assert _model_on_this_node(moved).model == cell.model
    other = replace(moved, provenance=replace(cell.provenance, model_identity={"x": 1}))
    with pytest.raises(HarnessError, match="not the driver's {'x': 1}"):
        _model_on_this_node(other)
