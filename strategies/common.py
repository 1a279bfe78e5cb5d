"""Small helpers shared by the built-in strategies."""

from __future__ import annotations

import math

from harness.api.batching import length_batches  # noqa: F401 - the strategies' import path
from harness.api.strategy import Footprint


def torch_footprint(model, frozen: bool = False, **extra) -> Footprint:
    """Parameter counts; `frozen` for strategies that never update the weights they load."""
    params = list(model.parameters())
    packed = packed_int8_weights(model)
    return Footprint(
        trainable_params=0 if frozen else sum(_count(p) for p in params if p.requires_grad),
        total_params=sum(_count(p) for p in params) + sum(t.numel() for t in packed),
        weight_bytes=sum(p.numel() * p.element_size() for p in params + packed),
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


def is_dynamic_int8(module) -> bool:
    from torch.ao.nn.quantized import dynamic

    return isinstance(module, dynamic.Linear)


def packed_int8_weights(model) -> list:
    """The int8 weights (and float biases) of dynamically quantized layers: PyTorch keeps them
    packed outside parameters(), so parameter counts and sizes would miss them."""
    tensors = []
    for module in model.modules():
        if is_dynamic_int8(module):
            weight, bias = module._weight_bias()
            tensors += [weight] + ([bias] if bias is not None else [])
    return tensors
