"""The strategy interface. A strategy adapts a model to a task and predicts labels; it does no
timing and no file writing (the runner does both, the same way for every strategy).

    class MyStrategy:
        name = "my-strategy"
        description = "One line shown by `harness list strategies`."
        config_class = MyConfig            # a dataclass with documented defaults
        model_kind = "encoder"             # "encoder", "decoder" or None (no pretrained model)
        backends = ("hf",)                 # optional: inference backends, the default first

        def __init__(self, config: MyConfig, context: Context): ...
        def fit(self, train: Split) -> None: ...              # a no-op for prompting
        def predict(self, texts: Sequence[str]) -> Predictions: ...
        def footprint(self) -> Footprint: ...
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from harness.backends import DEFAULT
from harness.data import Split
from harness.errors import HarnessError, did_you_mean
from harness.models import ModelSpec
from harness.tasks import Task


@dataclass(frozen=True)
class Context:
    """What a strategy is given besides its config: the cell it runs in."""

    task: Task
    model: ModelSpec | None
    seed: int
    device: str  # "cpu" or "cuda"
    work_dir: Path  # scratch space for this cell, removed afterwards
    backend: str = DEFAULT  # what runs the model: one of the strategy's `backends`


@dataclass
class Predictions:
    labels: np.ndarray  # (n,) predicted label indices
    scores: np.ndarray  # (n, num_labels): higher means more likely (log-probs or probabilities)


@dataclass(frozen=True)
class Footprint:
    trainable_params: int
    total_params: int
    extra: dict = field(default_factory=dict)  # e.g. {"adapter_bytes": ...}


@runtime_checkable
class Strategy(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type]
    model_kind: ClassVar[str | None]

    def fit(self, train: Split) -> None: ...

    def predict(self, texts: Sequence[str]) -> Predictions: ...

    def footprint(self) -> Footprint: ...


def predictions_from_scores(scores: np.ndarray) -> Predictions:
    scores = np.asarray(scores, dtype=np.float64)
    return Predictions(labels=scores.argmax(axis=1), scores=scores)


def make_config(strategy_cls: type, overrides: dict[str, Any]):
    """The strategy's config with overrides applied; values given as strings are parsed as JSON."""
    fields = {f.name: f for f in dataclasses.fields(strategy_cls.config_class)}
    values = {}
    for key, value in overrides.items():
        if key not in fields:
            raise HarnessError(f"strategy '{strategy_cls.name}' has no setting '{key}'"
                               f"{did_you_mean(key, fields)}")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a bare string such as sum or mean
        values[key] = value
    return strategy_cls.config_class(**values)
