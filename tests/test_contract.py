"""Every registered strategy passes the same contract on tiny random models."""

import pytest

from harness import registry
from harness.testing import check_strategy

# Settings that keep training strategies to a few seconds on the tiny task.
FAST = {"full-finetune": {"epochs": 1, "batch_size": 8}, "lora": {"epochs": 1, "batch_size": 8},
        "qlora": {"epochs": 1, "batch_size": 8}, "few-shot": {"trials": 2},
        "instruction-tuned": {"batch_size": 8}}


@pytest.mark.parametrize("name", list(registry.entries()))
def test_strategy_contract(name, tiny_models, tmp_path):
    cls = registry.get(name)
    check_strategy(cls, tiny_models[cls.model_kind], tmp_path, **FAST.get(name, {}))


def test_builtins_come_from_entry_points():
    entries = registry.entries()
    for name in ("zero-shot", "full-finetune"):
        assert entries[name].package == "adapt-harness"
        assert entries[name].target.startswith("strategies.")
