"""full-finetune: train every weight of a sequence-classification model (an encoder by default)
with the transformers Trainer; on a generation task, every weight of the decoder as a causal LM
on the training passages.

    harness run --strategies full-finetune --task agnews --model minilm-l6
    harness run --strategies full-finetune --task shakespeare --n-train 128
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import at_least
from harness.strategy import Context
from strategies.common import torch_footprint
from strategies.training import TrainedModel, check_training_settings, load_for_task


@dataclass
class FullFinetuneConfig:
    epochs: float = 3.0  # passes over the training rows
    learning_rate: float = 1e-4  # peak AdamW learning rate; small encoders like a high one
    batch_size: int = 16  # training examples per optimizer step
    max_length: int = 128  # tokens per example; AG News articles fit
    warmup_ratio: float = 0.1  # share of steps with a linear warm-up
    weight_decay: float = 0.01
    # Batches of similar lengths pad less: 0.62x the fit time of random batches at the same
    # loss (bench/results/finetune_compare.json, 512 AG News rows, minilm-l6, CPU).
    group_by_length: bool = True
    # bf16 autocast: 0.66-0.77x the fit time on this CPU, losses equal to 3 decimals; off by
    # default until its effect on accuracy is measured per task.
    bf16: bool = False
    # Generation tasks: tokens per training example (instruction context + passage); the
    # passages are 40-120 words, about 60-180 tokens
    max_gen_length: int = 256

    def __post_init__(self):
        check_training_settings(self)
        at_least(self, 1, "max_length", "max_gen_length")


class FullFinetune(TrainedModel):
    name = "full-finetune"
    description = "Train all weights of a sequence-classification model (Trainer, AdamW)."
    config_class = FullFinetuneConfig

    def __init__(self, config: FullFinetuneConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_for_task(context)
        self.model.to(context.device)

    def footprint(self):
        return torch_footprint(self.model)
