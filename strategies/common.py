"""Small helpers shared by the built-in strategies."""

from __future__ import annotations

import math

from harness.batching import length_batches  # noqa: F401 - the strategies' import path
from harness.strategy import Footprint


def torch_footprint(model, frozen: bool = False, **extra) -> Footprint:
    """Parameter counts; `frozen` for strategies that never update the weights they load."""
    params = list(model.parameters())
    return Footprint(
        trainable_params=0 if frozen else sum(_count(p) for p in params if p.requires_grad),
        total_params=sum(_count(p) for p in params),
        weight_bytes=sum(p.numel() * p.element_size() for p in params),
        extra=extra,
    )


def only_task(tasks) -> tuple:
    """The (task, train) of a strategy that trains on one task (`multi_task = False`)."""
    if len(tasks) != 1:
        raise ValueError(f"this strategy trains on one task at a time, got {len(tasks)}")
    return tasks[0]


def save_sklearn(folder, **objects) -> None:
    """Fitted scikit-learn objects, as the files a deployment would load."""
    import joblib

    for name, value in objects.items():
        joblib.dump(value, folder / f"{name}.joblib")


def _count(param) -> int:
    # A bitsandbytes 4-bit weight packs two values per byte; its quant_state has the real shape.
    state = getattr(param, "quant_state", None)
    return int(math.prod(state.shape)) if state is not None else param.numel()
