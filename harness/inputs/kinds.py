"""Task kinds: one `Kind` per kind of task (classification, generation) holding everything the
pipeline does differently for it, so that no other module asks `if task.kind == ...`.

A Kind names the parts that live up the layers (how a cell measures it, which report renders
it, ...) as "module:attr" strings imported on first use, as lm-eval's registry does: this
module imports nothing of the pipeline, so every layer may ask it.

    from harness.inputs.kinds import kind_of, record_kind
    kind = kind_of(task)                      # by `task.kind`, the name records carry
    train_rows, eval_rows = kind.profiles["quick"]
    report = kind.part("report")(store, task_name, records, prices)
    line = record_kind(record).part("progress")(record, mixture=False)

Adding a kind touches four files: its `Kind` (here, or `register_kind` from a plugin), its
task dataclass (harness.inputs.tasks), the module that measures its cells and builds their
records (harness.cell), and its report (harness.report). tests/test_kinds.py adds a toy kind
from one test file and runs it through a cell to a report.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from harness.errors import HarnessError, did_you_mean

# The row budgets the CLI offers (`--profile`): every kind sizes each.
PROFILES = ("quick", "full")
# The kind of a record or a task file that names none: classification predates kinds.
UNNAMED = "classification"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
# The parts a Kind names by "module:attr" (or gives as the object itself).
_PARTS = ("task_class", "measure", "records", "record_problem", "progress", "report",
          "contract", "validate", "options")


@dataclass(frozen=True)
class Kind:
    """What is particular to one kind of task, for every stage that handles it."""

    name: str
    # Its tasks' dataclass: `kind` set to this name, `from_fields(spec)` building one from a
    # task file's fields, `summary()` the line of `harness list tasks`; optionally
    # `primary_metric` (a metric of harness.metrics.catalog.primaries, else the kind's `primary`).
    task_class: Any
    # What a strategy supporting the kind must have; the first method is what it is asked
    # for a batch of rows: `method(texts, task, trial)`.
    methods: tuple[str, ...]
    # Rows per profile: {profile: (training rows, evaluation rows)}; None is the whole split.
    profiles: Mapping[str, tuple[int | None, int | None]]
    # After load, fit, export and prepare (timed alike for every kind), the cell's own
    # measurement: (cell, strategy, timings, artifact_bytes, memory) -> measured fields.
    measure: Any
    # The records of a measured cell: (cell, base record, measured fields) -> [(record, frame)].
    records: Any
    # Why a stored `ok` record of the kind cannot be used: (record, schema version) -> str | None.
    record_problem: Any
    # What a finished record scored, one line: (record, mixture: bool) -> str.
    progress: Any
    # The report of one task: (store, task name, records, prices) -> harness.report.parts.Report.
    report: Any
    # The contract a strategy passes on it: (strategy class, model, work_dir, overrides).
    contract: Any
    # What `--tune` selects on: (metric, "maximize" | "minimize") of the validation rows, and
    # the part scoring a fitted, prepared strategy on them: (strategy, task, rows) -> float.
    # None: the kind's strategies cannot be tuned.
    validation: tuple[str, str] | None = None
    validate: Any = None
    # The metric its tasks' leaderboards rank by, unless a task names another of
    # harness.metrics.catalog.primaries (its `primary_metric`). None: unranked.
    primary: str | None = None
    labelled: bool = False  # rows carry a label each; else texts only, read with label 0
    # Splits its tasks read besides train and eval, (task field naming the split, what for):
    # loaded in the plan, so a missing one fails before any cell runs.
    extra_splits: tuple[tuple[str, str], ...] = ()
    mixes: bool = False  # a multi-task strategy trains several such tasks into one model
    variants: bool = False  # inference variants (harness.api.variants) are evaluated on it
    ranked: bool = False  # `harness recommend` ranks strategies on its tasks by accuracy
    # Or by the task's primary metric, over the options this part makes of its finished
    # records: (records, n_train) -> (options, the metric); None: recommend does not rank it
    options: Any = None
    # Cell keys and records name the kind; classification's do not, as they predate kinds and
    # their keys stay as they were.
    named: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise HarnessError(f"kind name {self.name!r} must be 1-32 lowercase letters, digits "
                               f"or '-', starting with a letter")
        if not (isinstance(self.methods, tuple) and self.methods
                and all(isinstance(m, str) for m in self.methods)):
            raise HarnessError(f"kind '{self.name}': methods must be a non-empty tuple of "
                               f"method names")
        if set(self.profiles) != set(PROFILES):
            raise HarnessError(f"kind '{self.name}': profiles must size each of "
                               f"{', '.join(PROFILES)}, got {', '.join(self.profiles)}")

    def part(self, name: str):
        """One of the parts it names (`measure`, `report`, ...), imported on first use."""
        if name not in _PARTS:
            raise ValueError(f"a kind has no part {name!r}; its parts: {', '.join(_PARTS)}")
        return _load(getattr(self, name))

    def modules(self, *parts: str) -> list[str]:
        """The modules that hold these parts (what a cell's code identity follows, as no
        import leads to a part named by reference)."""
        refs = [getattr(self, name) for name in parts]
        return [ref.partition(":")[0] if isinstance(ref, str) else ref.__module__
                for ref in refs]

    def identity(self) -> dict:
        """What a cell's identity says of its kind."""
        return {"task_kind": self.name} if self.named else {}


def _load(ref):
    if not isinstance(ref, str):
        return ref
    module, sep, attr = ref.partition(":")
    if not sep:
        raise ValueError(f"{ref!r} is not a 'module:attr' reference")
    return getattr(importlib.import_module(module), attr)


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add a kind; its task class (already imported) must say its name."""
    if kind.name in KINDS:
        raise HarnessError(f"task kind '{kind.name}' is already registered")
    task_class = kind.task_class
    if not isinstance(task_class, str) and getattr(task_class, "kind", None) != kind.name:
        raise HarnessError(f"kind '{kind.name}': its task class must have kind = "
                           f"'{kind.name}'")
    KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    KINDS.pop(name, None)


def kind_named(name: str) -> Kind:
    if not isinstance(name, str) or name not in KINDS:
        raise HarnessError(f"kind {name!r} is not one of {', '.join(KINDS)}"
                           f"{_suggestion(name)}")
    return KINDS[name]


def _suggestion(name) -> str:
    hint = did_you_mean(name, KINDS) if isinstance(name, str) else ""
    return hint if "did you mean" in hint else ""


def kind_of(task) -> Kind:
    """The Kind of a task object (Task, GenerationTask, ...)."""
    return kind_named(task.kind)


def record_kind(record: Mapping) -> Kind:
    """The Kind of a stored record (a dict or a DataFrame row); one that names none predates
    kinds and is a classification record."""
    name = record.get("task_kind")
    return kind_named(name if isinstance(name, str) else UNNAMED)


def kind_among(names: Iterable) -> Kind:
    """The kind of a task whose records name `names` (anything but a string: none). A record
    naming no kind predates kinds, so a kind another record names wins."""
    named = sorted({name for name in names if isinstance(name, str)} - {UNNAMED})
    return kind_named(named[0] if named else UNNAMED)


register_kind(Kind(
    name="classification",
    task_class="harness.inputs.tasks:Task",
    methods=("predict",),
    profiles={"quick": (2000, 1000), "full": (None, None)},
    measure="harness.cell.runner:measure_classification",
    records="harness.cell.runner:classification_records",
    record_problem="harness.results.store:classification_record_problem",
    progress="harness.execution.progress:classification_line",
    report="harness.report.build:build_report",
    contract="harness.api.testing:check_classification",
    validation=("macro_f1", "maximize"), validate="harness.cell.tuning:macro_f1_of",
    primary="accuracy", labelled=True, mixes=True, variants=True, ranked=True, named=False))

register_kind(Kind(
    name="generation",
    task_class="harness.inputs.tasks:GenerationTask",
    methods=("generate", "log_likelihood"),
    # A training step of the 135M decoder on 16 passages is ~2.6 TFLOP (~30 s on 2 CPU
    # cores), and each evaluation row is written and scored once per trial: a quick
    # generation run stays within minutes per strategy on a CPU.
    profiles={"quick": (64, 48), "full": (None, None)},
    measure="harness.cell.generation:measure_generation",
    records="harness.cell.generation:generation_records",
    record_problem="harness.results.store:generation_record_problem",
    progress="harness.execution.progress:generation_line",
    report="harness.report.generation:build_generation_report",
    contract="harness.api.testing:check_generation",
    validation=("perplexity", "minimize"), validate="harness.cell.tuning:perplexity_of",
    # What the task's text is, as the adapted model predicts it; style accuracy saturates
    primary="perplexity", options="harness.recommend.generation:generation_options",
    extra_splits=(("contrast_split", "the style judge's contrast (text not in the style)"),
                  ("validation_split", "the style judge's held-out in-style rows"))))
