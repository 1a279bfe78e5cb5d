"""Task kinds are one object each (harness.inputs.kinds): no module branches on a kind's name,
and a third kind, defined in this file alone, is planned, run through a cell, stored,
reported and contract-checked without touching harness/."""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from harness.api import registry
from harness.api.resources import Resources
from harness.api.strategy import Footprint, declaration_problems
from harness.api.testing import check_strategy
from harness.cell.measure import stopwatch
from harness.cell.phases import footprint_fields
from harness.errors import HarnessError
from harness.execution.driver import run_cells
from harness.inputs.kinds import (KINDS, Kind, kind_among, kind_named, kind_of, record_kind,
                                  register_kind, unregister_kind)
from harness.inputs.tasks import get_task
from harness.plan.grid import build_cells
from harness.plan.identity import computing_modules, kind_modules
from harness.plan.request import GridRequest
from harness.report import write_reports
from harness.report.build import failed_cells
from harness.report.parts import Report, Section
from harness.results.store import Store

HARNESS = Path(__file__).resolve().parents[1] / "harness"
KINDS_MODULE = HARNESS / "inputs" / "kinds.py"


def kind_branches(source: str, kind_names) -> list[tuple[int, str]]:
    """(line, code) of every place that branches on a task kind's name: a comparison with a
    kind's name (`kind == "generation"`, `name in ("generation", ...)`), a comparison of a
    kind with another value (`task.kind != other`), a `case "generation":`, or a table keyed
    by kind names (`{"classification": ..., "generation": ...}`)."""
    found = []

    def names_a_kind(node) -> bool:
        return any(isinstance(n, ast.Constant) and n.value in kind_names for n in ast.walk(node))

    def is_kind(node) -> bool:  # `task.kind`, `task_kind`, `record["task_kind"]`
        if isinstance(node, ast.Attribute):
            return node.attr == "kind"
        if isinstance(node, ast.Name):
            return node.id == "task_kind"
        return any(isinstance(n, ast.Constant) and n.value == "task_kind" for n in ast.walk(node))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            equality = all(isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot))
                           for op in node.ops)
            if any(map(names_a_kind, operands)) or (equality and any(map(is_kind, operands))
                                                    and not all(isinstance(o, ast.Constant)
                                                                for o in operands[1:])):
                found.append(node)
        elif isinstance(node, ast.MatchValue) and names_a_kind(node):
            found.append(node)
        elif isinstance(node, ast.Dict) and any(
                isinstance(key, ast.Constant) and key.value in kind_names for key in node.keys):
            found.append(node)
    return [(node.lineno, ast.unparse(node)[:80]) for node in found]


def test_no_module_branches_on_a_kind_name():
    branches = {str(path.relative_to(HARNESS.parent)): hits
                for path in sorted(HARNESS.rglob("*.py")) if path != KINDS_MODULE
                for hits in [kind_branches(path.read_text(), set(KINDS))] if hits}
    assert not branches, f"ask the task's Kind (harness.inputs.kinds) instead: {branches}"


@pytest.mark.parametrize("code", [
    'if task.kind == "generation": pass',
    'x = 1 if record.get("task_kind", "classification") != "classification" else 2',
    'ok = kind in ("generation", "other")',
    'same = cell.task.kind == other.kind',
    'if task.kind is GENERATION: pass',
    'if record.get("task_kind") != GENERATION: pass',
    'PROFILES = {"quick": {"classification": (1, 2)}}',
    'match task.kind:\n    case "generation":\n        pass',
])
def test_the_scan_sees_each_way_of_branching(code):
    assert kind_branches(code, {"classification", "generation"})


@pytest.mark.parametrize("code", [
    'if arch.kind == "decoder": pass',  # a model's kind, not a task's
    'if kind is None or kind == NUMBER: pass',
    'ok = task.kind in cls.task_kinds',  # what a strategy declares it supports
    'record = {"task_kind": kind.name}',
    'text = "a generation task"',
])
def test_the_scan_leaves_other_comparisons_alone(code):
    assert not kind_branches(code, {"classification", "generation"})


def test_the_built_in_kinds():
    assert list(KINDS) == ["classification", "generation"]
    assert kind_of(get_task("agnews")).name == "classification"
    shakespeare = kind_of(get_task("shakespeare"))
    assert shakespeare.profiles["quick"] == (64, 48) and not shakespeare.labelled
    assert shakespeare.methods == ("generate", "log_likelihood")
    assert KINDS["classification"].profiles == {"quick": (2000, 1000), "full": (None, None)}
    # Classification keys predate kinds: their identity does not name it.
    assert KINDS["classification"].identity() == {}
    assert shakespeare.identity() == {"task_kind": "generation"}
    assert callable(shakespeare.part("report")) and callable(KINDS["classification"]
                                                             .part("measure"))


def test_the_code_a_kind_measures_with_is_in_every_cell_identity():
    # No import leads from the runner to harness.cell.generation: the kind names it, and it is
    # counted as every module of harness.cell is.
    assert {"harness.cell.runner", "harness.cell.generation"} <= set(computing_modules())


def test_kinds_of_records_and_names():
    assert record_kind({}).name == "classification"  # written before kinds
    assert record_kind({"task_kind": float("nan")}).name == "classification"
    assert record_kind(pd.Series({"task_kind": "generation"})).name == "generation"
    assert kind_among([None, "generation", math.nan]).name == "generation"
    assert kind_among([None]).name == "classification"
    with pytest.raises(HarnessError, match="did you mean 'generation'"):
        kind_named("generaton")
    with pytest.raises(HarnessError, match="is not one of classification, generation"):
        kind_named(["generation"])


def test_a_kind_is_checked_when_declared():
    with pytest.raises(HarnessError, match="profiles must size each of quick, full"):
        Kind("toy", CountTask, ("count",), {"quick": (1, 1)}, *[None] * 6)
    with pytest.raises(HarnessError, match="kind name"):
        Kind("Toy Kind", CountTask, ("count",), PROFILES, *[None] * 6)
    with pytest.raises(HarnessError, match="already registered"):
        register_kind(KINDS["generation"])
    with pytest.raises(HarnessError, match="must have kind = 'other'"):
        register_kind(Kind("other", CountTask, ("count",), PROFILES, *[None] * 6))


def test_a_record_of_an_unknown_kind_is_skipped(tmp_path):
    store = Store(tmp_path)
    store.prepare()
    record = {"key": "k", "status": "ok", "task": "t", "strategy": "s", "seed": 0,
              "model": "-", "task_kind": "toy-unknown"}
    with pytest.raises(HarnessError, match="not saved: task_kind: kind 'toy-unknown'"):
        store.save(record)  # the store writes none it could not read back
    store.record_path("k").write_text(json.dumps(record))  # another writer did
    warnings = []
    assert store.records(warn=warnings.append) == []
    assert "kind 'toy-unknown' is not one of" in warnings[0]


# --- A third kind, all of it here: count the words of each text. -----------------------------

@dataclass(frozen=True)
class CountTask:
    """The task dataclass: rows are texts only; the answer is each text's number of words."""

    kind: ClassVar[str] = "word-count"
    name: str
    hub_id: str | None = None
    hub_text_column: str = "text"
    train_split: str = "train"
    eval_split: str = "test"

    @classmethod
    def from_fields(cls, spec: dict) -> "CountTask":
        return cls(**spec)

    def summary(self) -> str:
        return "count the words of each text"


def measure_counts(cell, strategy, timings: dict, artifact_bytes: int, memory) -> dict:
    """The cell's measurement: every evaluation text counted, timed."""
    with memory.phase("predict"), stopwatch(timings, "predict_s", cell.device):
        counts = strategy.count(list(cell.eval.texts), cell.task)
    return {**timings, **footprint_fields(strategy), "artifact_bytes": artifact_bytes,
            "trials": 1, "counts": np.asarray(counts, dtype=float)}


def count_records(cell, base: dict, outcome: dict) -> list[tuple]:
    counts = outcome.pop("counts")
    truth = np.array([len(text.split()) for text in cell.eval.texts], dtype=float)
    record = {**base, **outcome, "key": cell.key, "task": cell.task.name, "fit_shared_by": 1,
              "count_mae": float(np.abs(counts - truth).mean()),
              "n_predictions": len(counts)}
    frame = pd.DataFrame({"index": np.arange(len(counts)), "text": list(cell.eval.texts),
                          "prediction": counts, "words": truth})
    return [(record, frame)]


def count_problem(record: dict, version: int) -> str | None:
    ok = isinstance(record.get("count_mae"), float)
    return None if ok else "missing or mistyped field 'count_mae' (number)"


def count_line(record: dict, mixture: bool) -> str:
    return f"count error {record['count_mae']:.2f} words"


def count_report(store, task: str, records: pd.DataFrame, prices: dict) -> Report:
    ok = records[records["status"] == "ok"]
    board = ok[["strategy", "count_mae", "cost_usd"]].sort_values("count_mae")
    return Report(task=task, notes=[f"{len(ok)} cells"], tables=[], resources=None,
                  reading=[], plots={}, rows=[], failed=failed_cells(records),
                  csv=board.to_csv(index=False), board=board,
                  sections=[Section("Word counts", ["Mean absolute error in words."],
                                    [("By strategy", board.astype(str))])])


def check_counter(strategy_cls, model, work_dir: Path, overrides: dict) -> None:
    from harness.api.testing import run_strategy

    task = CountTask("tiny-count")
    _, counts = run_strategy(strategy_cls, model, work_dir, texts=["a b", "c d e"], task=task)
    assert np.shape(counts) == (2,) and (np.asarray(counts) >= 0).all()


PROFILES = {"quick": (20, 10), "full": (None, None)}
WORD_COUNT = Kind(name="word-count", task_class=CountTask, methods=("count",),
                  profiles=PROFILES, measure=measure_counts, records=count_records,
                  record_problem=count_problem, progress=count_line, report=count_report,
                  contract=check_counter)


@dataclass
class NoConfig:
    pass


class WordsPerChar:
    """A strategy for the new kind: counts words as characters times the training ratio."""

    name = "toy-words-per-char"
    description = "test double of a third task kind"
    config_class = NoConfig
    task_kinds = ("word-count",)
    model_kind = None
    backends = ("hf",)
    devices = ("cpu",)
    multi_task = False
    trials = 1
    deterministic = True
    uses_training_rows = True
    resources = Resources(gpus=0, cpus=1, memory_gib=0.5, model_memory_multiple=0)
    inference_variants = ()
    runs_strategies = ()

    def __init__(self, config, context):
        self.ratio = 0.0

    def fit(self, tasks):
        texts = [text for _, rows in tasks for text in rows.texts]
        self.ratio = sum(len(t.split()) for t in texts) / max(sum(map(len, texts)), 1)

    def prepare(self):
        pass

    def count(self, texts, task, trial=0) -> np.ndarray:
        return np.array([len(text) * self.ratio for text in texts])

    def footprint(self):
        return Footprint(1, 1)

    def export(self, folder):
        pass


@pytest.fixture
def word_count(tmp_path):
    """The kind and its strategy registered for one test; a task file and its data folder."""
    register_kind(WORD_COUNT)
    registry.register(WordsPerChar)
    data = tmp_path / "data" / "counting"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 12)):
        texts = [" ".join(["word"] * int(k)) for k in rng.integers(1, 12, n)]
        pd.DataFrame({"text": texts}).to_csv(data / f"{split}.csv", index=False)
    task_file = tmp_path / "counting.yaml"
    task_file.write_text("name: counting\nkind: word-count\n")
    yield str(task_file), tmp_path / "data"
    registry.unregister(WordsPerChar.name)
    unregister_kind(WORD_COUNT.name)


def test_a_third_kind_runs_from_plan_to_report(word_count, tmp_path):
    task_file, data_dir = word_count
    assert get_task(task_file) == CountTask("counting")
    notes: list[str] = []
    cells = build_cells(GridRequest(tasks=[task_file], strategies="toy-words-per-char,tfidf-logreg",
                                    data_dir=data_dir), notes=notes)
    assert [(c.strategy, len(c.train), len(c.eval)) for c in cells] == \
        [("toy-words-per-char", 20, 10)]  # the kind's quick profile
    assert cells[0].identity()["task_kind"] == "word-count"
    assert "test_kinds" in kind_modules()  # its measurement is part of every identity
    assert any("tfidf-logreg: skipped on counting, a word-count task" in n for n in notes)
    store = Store(tmp_path / "results")
    store.prepare()
    lines: list[str] = []
    run_cells(cells, store, isolate=False, echo=lines.append)
    assert any("count error" in line for line in lines), lines
    [record] = store.records(strict=True)
    assert record["task_kind"] == "word-count" and record["count_mae"] < 3
    assert run_cells(cells, store, isolate=False, echo=lambda _: None).skipped == 1
    paths = write_reports(store, tmp_path / "reports")
    markdown = next(p for p in paths if p.suffix == ".md").read_text()
    assert "## Word counts" in markdown and "toy-words-per-char" in markdown
    assert "count_mae" in next(p for p in paths if p.suffix == ".csv").read_text()


def test_a_third_kind_has_its_contract(word_count, tmp_path):
    check_strategy(WordsPerChar, None, tmp_path, task_kind="word-count")

    class NoCount(WordsPerChar):
        name = "toy-no-count"
        count = None

    assert declaration_problems(NoCount) == ["supports word-count tasks but lacks count"]
