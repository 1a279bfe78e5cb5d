"""Every registered strategy passes the same contract on tiny random models."""

import numpy as np
import pytest
import toy_strategies

from harness.api import registry
from harness.errors import HarnessError
from harness.api.strategy import model_kind_for, predictions_from_scores
from harness.api.testing import check_strategy, run_strategy

# Settings that keep training strategies to a few seconds on the tiny task.
FAST = {"full-finetune": {"epochs": 1, "batch_size": 8}, "lora": {"epochs": 1, "batch_size": 8},
        "qlora": {"epochs": 1, "batch_size": 8}, "few-shot": {"trials": 2},
        "instruction-tuned": {"batch_size": 8},
        # A teacher without a model: the contract passes a tiny model for the student only.
        "distill": {"teacher": "tfidf-logreg", "epochs": 1, "batch_size": 8}}


# Every registered strategy on every task kind it declares; the kinds of the built-ins are
# pinned here, so that a strategy cannot drop one unnoticed.
KINDS = {"zero-shot": 2, "few-shot": 2, "full-finetune": 2, "lora": 2, "qlora": 2,
         "instruction-tuned": 2, "tfidf-logreg": 1, "embedding-probe": 1, "distill": 1,
         "knn": 1}
PAIRS = [(name, kind) for name in registry.entries()
         for kind in registry.get(name).task_kinds]


@pytest.mark.parametrize(("name", "kind"), PAIRS)
def test_strategy_contract(name, kind, tiny_models, tmp_path):
    cls = registry.get(name)
    check_strategy(cls, tiny_models[model_kind_for(cls, kind)], tmp_path, task_kind=kind,
                   **FAST.get(name, {}))


def test_built_in_strategies_declare_their_task_kinds():
    for name, count in KINDS.items():
        assert len(registry.get(name).task_kinds) == count, name


def test_a_strategy_claiming_generation_without_its_methods_is_refused():
    with pytest.raises(HarnessError, match="supports generation tasks but lacks generate"):
        registry.register(toy_class("toy-gen", task_kinds=("classification", "generation")))
    with pytest.raises(HarnessError, match="model_kind"):
        registry.register(toy_class("toy-kinds", model_kind={"generation": "decoder"}))


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
    assert f"lacks {missing}" in message and "see harness.api.strategy.Strategy" in message
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


def test_the_contract_loads_every_declared_variant_and_fp32_must_be_the_fitted_model(tmp_path):
    from harness.api.variants import VariantUnavailable

    def load_as(labels_from):
        def load_inference(cls, config, context, folder, variant):
            if variant == "fp16":
                raise VariantUnavailable("fp16 runs on CUDA only")
            loaded = cls(config, context)
            loaded.predict = labels_from.__get__(loaded)
            return loaded
        return classmethod(load_inference)

    first_label = toy_class("toy-first-label-variants", inference_variants=("fp32", "fp16"),
                            load_inference=load_as(vars(toy_strategies._Base)["predict"]))
    check_strategy(first_label, None, tmp_path)  # fp16 unavailable here: fine
    def last_label(self, texts, task, trial=0):
        return predictions_from_scores(np.eye(task.num_labels)[[-1] * len(texts)])

    drifting = toy_class("toy-drifting", inference_variants=("fp32",),
                         load_inference=load_as(last_label))
    with pytest.raises(AssertionError, match="the fp32 variant must predict as the fitted"):
        check_strategy(drifting, None, tmp_path)


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
