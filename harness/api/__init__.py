"""What a strategy author imports: the Strategy protocol and its base with defaults, the
registry, settings, resources, backends, inference variants and the contract checks (testing).

    from harness.api import Context, Footprint, Predictions, Resources, StrategyBase, at_least
    from harness.api.testing import check_strategy, tiny_model_for

The names below load on first use (PEP 562): every `harness.api.*` import runs this file,
`harness --help` among them (harness.api.backends), and it should not wait for numpy and pandas.
The block under TYPE_CHECKING is the same list, for type checkers, editors and the import graph
(tests/test_api.py keeps the two equal).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.api.probe import Probe
    from harness.api.registry import register
    from harness.api.resources import Resources
    from harness.api.search import Choice, IntRange, LogUniform, Uniform
    from harness.api.settings import above, at_least, check, within
    from harness.api.strategy import (
        NO_TRAINING_ROWS,
        Context,
        Footprint,
        Generations,
        Predictions,
        Strategy,
        StrategyBase,
        TextScores,
        make_config,
        model_kind_for,
        predictions_from_scores,
    )
    from harness.api.variants import VariantUnavailable
    from harness.errors import HarnessError
    from harness.inputs.data import Split
    from harness.inputs.tasks import GenerationTask, Task

# Where each name lives.
EXPORTS = {
    "harness.api.probe": ("Probe",),
    "harness.api.registry": ("register",),
    "harness.api.resources": ("Resources",),
    "harness.api.search": ("Choice", "IntRange", "LogUniform", "Uniform"),
    "harness.api.settings": ("above", "at_least", "check", "within"),
    "harness.api.strategy": ("NO_TRAINING_ROWS", "Context", "Footprint", "Generations",
                             "Predictions", "Strategy", "StrategyBase", "TextScores",
                             "make_config", "model_kind_for", "predictions_from_scores"),
    "harness.api.variants": ("VariantUnavailable",),
    "harness.errors": ("HarnessError",),
    "harness.inputs.data": ("Split",),
    "harness.inputs.tasks": ("GenerationTask", "Task"),
}
_MODULE_OF = {name: module for module, names in EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        # AttributeError, so that `from harness.api import registry` goes on to the submodule.
        raise AttributeError(f"module 'harness.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
