"""One cell of the grid: a strategy with its config and model, on one task's rows, under one
seed. Built by keyword by the planner (harness.plan.grid) and read by the runner; its identity
(everything that can change its numbers) is hashed into the key that names its records.

    cell = Cell(task=task, strategy="lora", strategy_class=Lora, config=LoraConfig(), model=spec,
                seed=0, rows=Rows(train=train, eval=evaluation, data_seed=0),
                provenance=Provenance(code=code, packages=packages,
                                      model_identity=spec.identity()))
    cell.key  # 'agnews__lora__smollm2-135m__seed0__3f1c0a9b2e'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from harness.api.backends import DEFAULT, strategy_backends
from harness.api.endpoint import Endpoint
from harness.inputs.data import Split
from harness.inputs.kinds import kind_of
from harness.inputs.models import ModelSpec
from harness.inputs.tasks import READING_FIELDS, Task


@dataclass(frozen=True, kw_only=True)
class Rows:
    """The rows a cell is fitted and scored on, and how they were drawn."""

    train: Split
    eval: Split
    data_seed: int = 0  # drew the training rows
    eval_seed: int = 0  # drew the evaluation rows, the same for every data seed
    n_per_class: int | None = None  # the training rows were drawn as this many per label
    data_dir: str | None = None  # where the task's other splits are (the style judge's)
    # Held out of `train` for a strategy that validates (early stopping, tuning): what it fits
    # on and what it is validated on, the two together being `train`. None: it fits on all.
    fit_train: Split | None = None
    validation: Split | None = None
    # Other tasks trained into the same model and evaluated too (a multi-task strategy run on
    # several tasks): (task, train, eval) each. Empty for the usual one-task cell.
    mixture: tuple = ()


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What else the numbers depend on (harness.plan.identity, harness.inputs.model_identity)."""

    code: dict = field(default_factory=dict)
    packages: dict = field(default_factory=dict)
    model_identity: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Cell:
    task: Task
    strategy: str
    strategy_class: type
    config: object  # the strategy's config dataclass
    model: ModelSpec | None
    seed: int
    rows: Rows
    backend: str = DEFAULT  # what runs the model (harness.api.backends)
    endpoint: Endpoint | None = None  # the api backend's (harness.api.endpoint); else None
    device: str = "cpu"  # where it runs: the strategy's first declared device this machine has
    device_name: str = ""
    provenance: Provenance = field(default_factory=Provenance)
    # Other ways of running the fitted model, each evaluated after the cell's own predictions
    # and recorded beside them (harness.api.variants); the primary task only.
    inference: tuple[str, ...] = ()
    # Per config field of `runs_strategies` (distill's teacher): the model that strategy runs on
    strategy_models: dict = field(default_factory=dict)
    # Settings tried on the validation rows before the evaluation rows are scored once with
    # the best (harness.cell.tuning); 0: the config as given.
    tune: int = 0
    # Tuning trials asked at once (harness.cell.tuning.Search): the settings tried depend on it,
    # so a key holds it when above 1; how the trials are executed does not enter the key.
    tune_parallel: int = 1
    # The number format it computes in (harness.api.precision), and what --precision asked (an
    # executor that moves the cell to another device chooses again from it).
    precision: str = "fp32"
    precision_asked: str = "auto"
    # The strategy reads its validation rows (`uses_validation`), as planned from its
    # declaration: the cell's process imports the class afresh and need not ask it again.
    validates: bool = False

    # The rows' parts that the runner and the reports read, by their short names.
    @property
    def train(self) -> Split:
        return self.rows.train

    @property
    def eval(self) -> Split:
        return self.rows.eval

    @property
    def fit_train(self) -> Split:
        """What the strategy fits on: the training rows less those held out for validation."""
        return self.rows.train if self.rows.validation is None else self.rows.fit_train

    @property
    def validation(self) -> Split | None:
        return self.rows.validation

    @property
    def mixture(self) -> tuple:
        return self.rows.mixture

    @property
    def data_seed(self) -> int:
        return self.rows.data_seed

    @property
    def data_dir(self) -> str | None:
        return self.rows.data_dir

    @property
    def default_backend(self) -> bool:
        return self.backend == strategy_backends(self.strategy_class)[0]

    @property
    def model_name(self) -> str:
        return self.model.name if self.model else "-"

    @property
    def evaluations(self) -> list[tuple[Task, Split, Split]]:
        """(task, train, eval) of every task the cell trains on and reports, the primary first."""
        return [(self.task, self.train, self.eval), *self.mixture]

    @property
    def label(self) -> str:
        tasks = "+".join(task.name for task, _, _ in self.evaluations)
        backend = "" if self.default_backend else f" · {self.backend}"
        backend += f" · {self.precision}" if self.precision != "fp32" else ""
        data = f" · data seed {self.data_seed}" if self.data_seed else ""
        data += f" · tuned over {self.tune} trials" if self.tune else ""
        data += f", {self.tune_parallel} at a time" if self.tune_parallel > 1 else ""
        rows = f" · {len(self.train)} training rows" if len(self.train) else ""
        return (f"{tasks} · {self.strategy}{backend} · {self.model_name}{rows} · "
                f"seed {self.seed}{data}")

    def identity(self) -> dict:
        """Everything that can change the cell's numbers; its hash names the record."""
        rows, provenance = self.rows, self.provenance
        return {
            "task": self.task.name, "task_sha": task_sha(self.task),
            # Classification records predate kinds and do not name theirs (their keys stay).
            **kind_of(self.task).identity(),
            "strategy": self.strategy, "model": self.model_name, **provenance.model_identity,
            "seed": self.seed, "config": dataclasses.asdict(self.config),
            "deterministic": self.strategy_class.deterministic,
            "n_train": len(rows.train), "n_eval": len(rows.eval), "data_seed": rows.data_seed,
            "eval_seed": rows.eval_seed, "train_fingerprint": _fingerprint(rows.train),
            **({"n_per_class": rows.n_per_class} if rows.n_per_class is not None else {}),
            "eval_fingerprint": rows.eval.fingerprint(),
            **({"n_validation": len(rows.validation),
                "validation_fingerprint": rows.validation.fingerprint()}
               if rows.validation is not None else {}),
            **({"tune": self.tune} if self.tune else {}),
            **({"tune_parallel": self.tune_parallel} if self.tune_parallel > 1 else {}),
            # fp32 records predate the field: their keys stand
            **({"precision": self.precision} if self.precision != "fp32" else {}),
            **({"trained_on": _trained_on(self.evaluations)} if rows.mixture else {}),
            "backend": self.backend,
            **({"endpoint": self.endpoint.identity()} if self.endpoint else {}),
            "device": self.device, "device_name": self.device_name,
            "code": provenance.code, "packages": provenance.packages,
            **({"runs": {name: {"model": spec.name if spec else "-",
                                **(spec.identity() if spec else {})}
                         for name, spec in self.strategy_models.items()}}
               if self.strategy_models else {}),
        }

    @property
    def key(self) -> str:
        return self.key_for(self.task.name)

    @property
    def keys(self) -> list[str]:
        """One record per evaluated task, and one per inference variant of the primary task."""
        return ([self.key_for(task.name) for task, _, _ in self.evaluations]
                + [self.key_for(self.task.name, variant) for variant in self.inference])

    def variant_identity(self, variant: str) -> dict:
        """A variant's record shares the fitted model's identity, and names its variant (the
        default's identity does not, so records from before variants keep their keys)."""
        return {**self.identity(), "inference": variant}

    def key_for(self, task_name: str, variant: str | None = None) -> str:
        identity = self.variant_identity(variant) if variant else self.identity()
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
        slug = self.model_name.replace("/", "--").replace(" ", "_")[-60:]
        strategy = self.strategy if self.default_backend else f"{self.strategy}-{self.backend}"
        strategy += f"-{variant}" if variant else ""
        return f"{task_name}__{strategy}__{slug}__seed{self.seed}__{digest.hexdigest()[:10]}"


def _trained_on(evaluations: list[tuple[Task, Split, Split]]) -> list[dict]:
    """What a mixture cell trains on and scores, task by task, the primary first."""
    return [{"task": task.name, "task_sha": task_sha(task), "n_train": len(train),
             "n_eval": len(evaluation), "train_fingerprint": _fingerprint(train),
             "eval_fingerprint": evaluation.fingerprint()}
            for task, train, evaluation in evaluations]


def _fingerprint(rows: Split) -> str | None:
    return rows.fingerprint() if len(rows) else None  # no training rows: nothing to name


def task_sha(task: Task) -> str:
    """A hash of the task's whole content: another prompt template or label word is another
    computation, even under the same name."""
    content = {key: value for key, value in dataclasses.asdict(task).items()
               if key not in READING_FIELDS}
    text = json.dumps(content, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
