"""The strategy interface. A strategy adapts a model to a task and predicts labels (a
classification task) or writes continuations (a generation task); it does no timing, and writes
files only under `context.work_dir` (the runner measures, sizes artifacts and stores records, the
same way for every strategy). What a strategy can do is declared on the class (the `Strategy`
protocol) and checked by the registry and the contract tests; the runner never guesses.
`StrategyBase` holds the defaults, so a strategy states only what differs from them:

    class MyStrategy(StrategyBase):
        name = "my-strategy"
        description = "One line shown by `harness list strategies`."
        config_class = MyConfig            # a dataclass, each field with a default and its help
        model_kind = "encoder"             # "encoder", "decoder" or None (no pretrained model),
                                           # or per task kind: {"classification": "encoder",
                                           #                    "generation": "decoder"}
        # What differs from StrategyBase's defaults, for example:
        deterministic = True               # the same predictions whatever the seed
        resources = Resources(gpus=1, cpus=1, memory_gib=2)  # what one cell needs (resources.py)
        inference_variants = ("fp32", "bf16", "int8")  # ways to run the exported model
                                           # (harness/api/variants.py); load_inference loads them

        def __init__(self, config: MyConfig, context: Context): ...   # load: timed as load_s
        def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None: ...  # 1 unless multi_task
        def footprint(self) -> Footprint: ...
        # Per task kind in task_kinds, the methods of its Kind (harness.inputs.kinds);
        # classification (the default):
        def predict(self, texts, task: Task, trial: int = 0) -> Predictions: ...
        # generation (docs/writing-a-strategy.md)
        def generate(self, prompts, task, trial=0, max_new_tokens=None) -> Generations: ...
        def log_likelihood(self, texts, task, trial=0) -> TextScores: ...
        # As needed: prepare() (one-off work before inference: setup_s), export(folder) (what
        # ships besides the base model), and with inference_variants the classmethod
        # load_inference(config, context, folder, variant) (or VariantUnavailable).

A class that does not inherit the base passes as well, declaring every name of DECLARATIONS
and METHODS itself (see `Strategy` for what each one means).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from harness.api.backends import DEFAULT
from harness.api.endpoint import Endpoint
from harness.api.precision import FP32, PRECISIONS
from harness.api.probe import NO_PROBE, Probe
from harness.inputs.data import Split
from harness.inputs.models import ModelSpec
from harness.api.resources import Resources
from harness.api.search import RANGES
from harness.api.settings import build_config
from harness.api.variants import VARIANTS
from harness.inputs.kinds import KINDS, kind_named
from harness.inputs.tasks import Task


@dataclass(frozen=True)
class Context:
    """What a strategy is given besides its config: the cell it runs in."""

    task: Task
    model: ModelSpec | None
    seed: int
    device: str  # "cpu" or "cuda"
    work_dir: Path  # scratch space for this cell, removed afterwards
    backend: str = DEFAULT  # what runs the model: one of the strategy's `backends`
    # Per field of `runs_strategies`: the model the strategy it names runs on in this run (the
    # one `--model` gives its kind, else that kind's preset), None if it uses none.
    strategy_models: dict = field(default_factory=dict)
    # The rows held out of the training rows for a strategy that `uses_validation` (to stop
    # early on); None when there are none, or it does not.
    validation: Split | None = None
    # The runner's measurements inside the strategy's phases (sub-phase seconds, memory at
    # points of a training step): harness/api/probe.py. Outside the runner it measures nothing.
    probe: Probe = NO_PROBE
    # The number format to compute in: one of the strategy's `precisions` (harness.api.precision)
    precision: str = "fp32"
    # The `api` backend's endpoint (harness.api.endpoint); None on every other backend
    endpoint: Endpoint | None = None


@dataclass
class Predictions:
    labels: np.ndarray  # (n,) predicted label indices
    scores: np.ndarray  # (n, num_labels): higher means more likely (log-probs or probabilities)
    # The exact text the model was given for each row (chat template, demonstrations), where a
    # prompt was used: kept beside the row's prediction (`prompt`, `prompt_trial<N>`)
    prompts: Sequence[str] | None = None


@dataclass(frozen=True)
class Footprint:
    """What a strategy reports about itself; nothing here is a measurement of the runner's."""

    trainable_params: int
    total_params: int
    weight_bytes: int | None = None  # the model's weights as loaded (4-bit ones packed)
    base_weight_bytes: int | None = None  # of the frozen base, for adapter strategies
    # Anything else worth keeping, stored as `footprint_<key>` so it can never stand in for a
    # field the runner measures.
    extra: dict = field(default_factory=dict)


@dataclass
class Generations:
    """What a strategy wrote after each prompt (the prompt itself not included)."""

    texts: list[str]
    tokens: np.ndarray  # (n,) tokens generated for each prompt


@dataclass
class TextScores:
    """How likely a strategy's model finds each text, conditioned as the strategy conditions
    what it writes: summed negative log-likelihood (nats) of the text's tokens, and their count
    (the model's tokenizer on the text alone, so every strategy of a model counts the same)."""

    nll: np.ndarray  # (n,)
    tokens: np.ndarray  # (n,)


DEVICES = ("cpu", "cuda")
# What fit() is given by a strategy that declares `uses_training_rows = False`.
NO_TRAINING_ROWS = Split((), np.zeros(0, dtype=np.int64))


@runtime_checkable
class Strategy(Protocol):
    """What the registry, the plan and the runner rely on; StrategyBase gives the defaults."""

    name: ClassVar[str]  # what --strategies takes
    description: ClassVar[str]  # one line, shown by `harness list strategies`
    # A dataclass whose fields all have a default and `metadata={"help": ...}`.
    config_class: ClassVar[type]
    task_kinds: ClassVar[tuple[str, ...]]  # those it supports (harness.inputs.tasks.KINDS)
    # "encoder", "decoder" or None (no pretrained model), or a dict giving one per task kind.
    model_kind: ClassVar[str | None | dict]
    backends: ClassVar[tuple[str, ...]]  # what runs its model (harness.api.backends), default first
    devices: ClassVar[tuple[str, ...]]  # where it can run, preferred first; "cpu" among them
    multi_task: ClassVar[bool]  # True: fit() gets several tasks and trains one model on them
    trials: int  # predictions per row (few-shot: its demonstration draws); may be set per instance
    # Same predictions for every seed: the plan runs it once, under seed 0.
    deterministic: ClassVar[bool]
    # False: fit() is given no rows, and the plan runs it once whatever the data seeds.
    uses_training_rows: ClassVar[bool]
    # What one cell needs (GPUs when on CUDA, cores, memory): what executors ask for.
    resources: ClassVar[Resources]
    # Ways to run what `export` wrote besides the strategy's own (harness.api.variants.VARIANTS),
    # each loaded by `load_inference`; () when it has none.
    inference_variants: ClassVar[tuple[str, ...]]
    # Fields of its config that name another registered strategy it runs inside its own cell
    # (distill's teacher): the plan hashes that strategy's code and model into the cell's key
    # and gives the strategy the model in `context.strategy_models[field]`.
    runs_strategies: ClassVar[tuple[str, ...]]
    # True: fit() is given the training rows less a stratified validation share, which the
    # strategy reads from `context.validation` (to stop training early); False: all of them.
    uses_validation: ClassVar[bool]
    # Config field -> range (harness.api.search) that `--tune N` searches; {}: not tunable.
    search_space: ClassVar[dict]
    # Number formats it computes in (harness.api.precision), "fp32" always: with "bf16" among
    # them, its cells run in bf16 where the device executes it natively (`--precision auto`),
    # read from `context.precision`. Declare bf16 only where its agreement with fp32 is measured.
    precisions: ClassVar[tuple[str, ...]]

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None: ...

    def prepare(self) -> None: ...

    def footprint(self) -> Footprint: ...

    def export(self, folder: Path) -> None: ...


class StrategyBase:
    """The `Strategy` declarations that have a sensible default, and no-op `prepare` and
    `export`, as most built-ins declare them: a subclass overrides only what differs, field by
    field (scikit-learn's estimator tags). Left to every strategy: name, description,
    config_class, model_kind, `__init__`, `fit`, `footprint` and its task kinds' methods."""

    task_kinds: ClassVar[tuple[str, ...]] = ("classification",)
    backends: ClassVar[tuple[str, ...]] = (DEFAULT,)
    devices: ClassVar[tuple[str, ...]] = ("cuda", "cpu")
    multi_task: ClassVar[bool] = False
    trials: int = 1
    # The safe answer: every seed asked for is run.
    deterministic: ClassVar[bool] = False
    uses_training_rows: ClassVar[bool] = True
    resources: ClassVar[Resources] = Resources()
    inference_variants: ClassVar[tuple[str, ...]] = ()
    runs_strategies: ClassVar[tuple[str, ...]] = ()
    uses_validation: ClassVar[bool] = False
    search_space: ClassVar[dict] = {}
    precisions: ClassVar[tuple[str, ...]] = (FP32,)

    def prepare(self) -> None:
        """Nothing one-off before predicting."""

    def export(self, folder: Path) -> None:
        """Nothing ships besides the base model."""


DECLARATIONS = ("name", "description", "config_class", "task_kinds", "model_kind", "backends",
                "devices", "multi_task", "trials", "deterministic", "uses_training_rows",
                "resources", "inference_variants", "runs_strategies", "uses_validation",
                "search_space", "precisions")
METHODS = ("fit", "prepare", "footprint", "export")
# Declarations added to the protocol after strategies were written against it: a class that
# predates them (not inheriting StrategyBase) is given StrategyBase's value when registered,
# so that a third party's strategy keeps working, as it did, without them.
LATER_DECLARATIONS = ("uses_validation", "search_space", "precisions")


def adopt_later_declarations(cls) -> None:
    for name in LATER_DECLARATIONS:
        if not hasattr(cls, name):
            setattr(cls, name, getattr(StrategyBase, name))
MODEL_KINDS = (None, "encoder", "decoder")


def declaration_problems(cls) -> list[str]:
    """What a strategy class fails to declare, or declares wrongly; empty when it is sound."""
    missing = [attr for attr in DECLARATIONS + METHODS if not hasattr(cls, attr)]
    if missing:
        return [f"lacks {', '.join(missing)}"]
    problems = []
    kinds = cls.task_kinds
    if not (isinstance(kinds, tuple) and kinds and set(kinds) <= set(KINDS)):
        problems.append(f"task_kinds must be a non-empty tuple of {tuple(KINDS)}")
        kinds = ()
    for kind in kinds:  # what a strategy that supports a kind must also have
        lacking = [m for m in kind_named(kind).methods if not callable(getattr(cls, m, None))]
        if lacking:
            problems.append(f"supports {kind} tasks but lacks {', '.join(lacking)}")
    model_kinds = cls.model_kind if isinstance(cls.model_kind, dict) else \
        dict.fromkeys(kinds, cls.model_kind)
    if set(model_kinds) != set(kinds) or any(v not in MODEL_KINDS for v in model_kinds.values()):
        problems.append(f"model_kind {cls.model_kind!r} must be 'encoder', 'decoder' or None, "
                        f"or a dict giving one per task kind of task_kinds")
    if not (isinstance(cls.backends, tuple) and cls.backends
            and all(isinstance(b, str) for b in cls.backends)):
        problems.append("backends must be a non-empty tuple of names, the default first")
    if not (isinstance(cls.devices, tuple) and "cpu" in cls.devices
            and set(cls.devices) <= set(DEVICES)):
        problems.append(f"devices must be a tuple of {DEVICES} that includes 'cpu'")
    for flag in ("multi_task", "deterministic", "uses_training_rows", "uses_validation"):
        if not isinstance(getattr(cls, flag), bool):
            problems.append(f"{flag} must be True or False")
    if not isinstance(cls.resources, Resources):
        problems.append("resources must be a harness.api.resources.Resources")
    if not (isinstance(cls.precisions, tuple) and FP32 in cls.precisions
            and set(cls.precisions) <= set(PRECISIONS)):
        problems.append(f"precisions must be a tuple of {PRECISIONS} that includes 'fp32'")
    problems += _variant_problems(cls)
    if not dataclasses.is_dataclass(cls.config_class):
        problems.append("config_class must be a dataclass")
        return problems
    problems += _search_problems(cls)
    if not (isinstance(cls.runs_strategies, tuple) and set(cls.runs_strategies)
            <= {f.name for f in dataclasses.fields(cls.config_class)}):
        problems.append("runs_strategies must be a tuple of its config's field names")
    return problems


def _search_problems(cls) -> list[str]:
    """A search space names config fields, each with a range holding the field's default (the
    first trial), over settings that train (a strategy fitted on no rows has none)."""
    space = cls.search_space
    if not isinstance(space, dict):
        return ["search_space must be a dict of config field -> harness.api.search range"]
    if space and not cls.uses_training_rows:
        return ["search_space needs uses_training_rows: it is searched on validation rows"]
    fields = {f.name: f for f in dataclasses.fields(cls.config_class)}
    problems = []
    for name, searched in space.items():
        if name not in fields:
            problems.append(f"search_space names '{name}', not a field of its config")
        elif not isinstance(searched, RANGES):
            problems.append(f"search_space['{name}'] must be one of "
                            f"{', '.join(r.__name__ for r in RANGES)}")
        elif fields[name].default is not dataclasses.MISSING and \
                not searched.contains(fields[name].default):
            problems.append(f"search_space['{name}'] ({searched}) must hold the default "
                            f"{fields[name].default!r}: the defaults are the first trial")
    return problems


def _variant_problems(cls) -> list[str]:
    variants = cls.inference_variants
    if not (isinstance(variants, tuple) and set(variants) <= set(VARIANTS)
            and len(set(variants)) == len(variants)):
        return [f"inference_variants must be a tuple of distinct names among "
                f"{', '.join(VARIANTS)}"]
    if variants and not callable(getattr(cls, "load_inference", None)):
        return ["declares inference_variants but lacks load_inference"]
    return []


def supports(cls, task) -> bool:
    return task.kind in cls.task_kinds


def model_kind_for(cls, task_kind: str) -> str | None:
    """The kind of model a strategy uses on tasks of this kind."""
    return cls.model_kind.get(task_kind) if isinstance(cls.model_kind, dict) else cls.model_kind


def choose_device(cls, cuda_available: bool) -> str:
    """The device a strategy's cells run on: its first declared one that this machine has."""
    return next(d for d in cls.devices if d == "cpu" or cuda_available)


def predictions_from_scores(scores: np.ndarray,
                            prompts: Sequence[str] | None = None) -> Predictions:
    scores = np.asarray(scores, dtype=np.float64)
    return Predictions(labels=scores.argmax(axis=1), scores=scores,
                       prompts=list(prompts) if prompts is not None else None)


def make_config(strategy_cls: type, overrides: dict[str, Any]):
    """The strategy's config with overrides applied, or a one-line HarnessError: values are
    parsed as JSON (a bare string otherwise), checked against the field annotations, then the
    config's own `__post_init__` checks run (see harness/api/settings.py)."""
    return build_config(strategy_cls, overrides)
