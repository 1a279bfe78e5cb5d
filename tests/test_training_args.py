"""The Trainer arguments every fine-tuning strategy shares: length-grouped batches by default
(bench/results/finetune_compare.json: 0.62x the fit time at the same loss), bf16 autocast when the cell runs in bf16."""

from types import SimpleNamespace

import pytest

from strategies.full_finetune import FullFinetuneConfig
from strategies.instruction_tuned import InstructionTunedConfig
from strategies.lora import LoraConfig
from strategies.qlora import QloraConfig
from strategies.trainer import training_arguments


@pytest.mark.parametrize("config_class", [FullFinetuneConfig, LoraConfig, QloraConfig,
                                          InstructionTunedConfig])
def test_batches_are_length_grouped_unless_turned_off(config_class, tmp_path):
    context = SimpleNamespace(work_dir=tmp_path, seed=0, device="cpu", precision="fp32")
    default = training_arguments(config_class(), context, 64)
    assert default.train_sampling_strategy == "group_by_length" and not default.bf16
    in_bf16 = SimpleNamespace(**{**vars(context), "precision": "bf16"})
    plain = training_arguments(config_class(group_by_length=False), in_bf16, 64)
    assert plain.train_sampling_strategy == "random" and plain.bf16  # the cell's precision


def test_a_diverged_training_fails_with_its_reason(tiny_encoder, tmp_path):
    """Issue 27: a diverged model (NaN weights) predicted one class with empty scores and was
    stored as ok; its training now fails, saying why."""
    import torch

    from harness.api import registry
    from harness.api.strategy import Context
    from harness.api.testing import TINY_TASK, make_config, tiny_split

    cls = registry.get("full-finetune")
    context = Context(TINY_TASK, tiny_encoder, 0, "cpu", tmp_path)
    strategy = cls(make_config(cls, {"min_steps": 2, "batch_size": 4}), context)
    with torch.no_grad():
        strategy.model.classifier.weight.fill_(float("nan"))
    with pytest.raises(RuntimeError, match=r"training diverged: the mean training loss is nan "
                                           r"\(learning_rate 0.0001; try a lower one\)"):
        strategy.fit([(TINY_TASK, tiny_split(16))])
