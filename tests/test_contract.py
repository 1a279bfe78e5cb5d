"""Every registered strategy passes the same contract on tiny random models."""

import numpy as np
import pytest

from harness import registry
from harness.errors import HarnessError
from harness.strategy import predictions_from_scores
from harness.testing import check_strategy, run_strategy

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



def toy_class(name: str, drop: str = "", **attributes) -> type:
    """A strategy class with the toy's attributes, without `drop`, with `attributes` set."""
    import toy_strategies

    namespace = {k: v for k, v in vars(toy_strategies._Base).items()
                 if (k == "__init__" or not k.startswith("__")) and k != drop}
    return type(name.title().replace("-", ""), (), {**namespace, "name": name, **attributes})


@pytest.mark.parametrize("missing", ["deterministic", "uses_training_rows"])
def test_a_class_lacking_a_declaration_is_refused_by_name(missing):
    with pytest.raises(HarnessError) as error:
        registry.register(toy_class("toy-undeclared", drop=missing))
    message = error.value.format_message()
    assert f"lacks {missing}" in message and "see harness.strategy.Strategy" in message
    with pytest.raises(HarnessError, match=f"{missing} must be True or False"):
        registry.register(toy_class("toy-not-bool", **{missing: "yes"}))
    assert "toy-undeclared" not in registry.entries()


def seeded_guess(self, texts, task, trial=0):
    """Predictions drawn from the seed: another seed changes them."""
    rng = np.random.default_rng([self.seed, len(texts)])
    return predictions_from_scores(rng.random((len(texts), task.num_labels)))


def remember_seed(self, config, context):
    self.seed = context.seed


def test_the_contract_catches_a_false_deterministic_declaration(tmp_path):
    guess = {"__init__": remember_seed, "predict": seeded_guess}
    check_strategy(toy_class("toy-seeded", **guess), None, tmp_path)  # declared False: fine
    lying = toy_class("toy-lying", deterministic=True, **guess)
    with pytest.raises(AssertionError, match="declares deterministic = True"):
        check_strategy(lying, None, tmp_path)


def test_a_strategy_without_training_rows_is_fitted_on_none(tmp_path):
    seen = []
    fitted = toy_class("toy-no-rows", uses_training_rows=False,
                       fit=lambda self, tasks: seen.extend(len(rows) for _, rows in tasks))
    check_strategy(fitted, None, tmp_path)
    assert seen and set(seen) == {0}


def test_instruction_tuned_reports_its_weights_and_its_frozen_base(tiny_decoder, tmp_path):
    strategy, _ = run_strategy(registry.get("instruction-tuned"), tiny_decoder, tmp_path,
                               batch_size=8, max_train_rows=8)
    footprint = strategy.footprint()
    assert footprint.base_weight_bytes and footprint.weight_bytes
    # LoRA adds weights to the base; the base itself is what the report's weights column shows.
    assert footprint.base_weight_bytes < footprint.weight_bytes
