"""full-finetune: train every weight of a sequence-classification model (an encoder by default)
with the transformers Trainer; on a generation task, every weight of the decoder as a causal LM
on the training passages.

    harness run --strategies full-finetune --task agnews --model minilm-l6
    harness run --strategies full-finetune --task shakespeare --n-train 128
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.api.search import Choice, LogUniform, Uniform
from harness.api.settings import at_least
from harness.api.strategy import Context
from strategies.common import torch_footprint
from strategies.training import ClassifierTraining, TrainedModel, load_for_task


@dataclass
class FullFinetuneConfig(ClassifierTraining):
    max_gen_length: int = field(default=256, metadata={"help": (
        "Generation tasks: tokens per training example (instruction context + passage); the "
        "passages are 40-120 words, about 60-180 tokens")})

    def __post_init__(self):
        super().__post_init__()
        at_least(self, 1, "max_gen_length")


class FullFinetune(TrainedModel):
    name = "full-finetune"
    description = "Train all weights of a sequence-classification model (Trainer, AdamW)."
    config_class = FullFinetuneConfig
    search_space = {"learning_rate": LogUniform(1e-5, 5e-4), "epochs": Uniform(1.0, 10.0),
                    "batch_size": Choice(8, 16, 32)}

    def __init__(self, config: FullFinetuneConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_for_task(context)
        self.model.to(context.device)

    def footprint(self):
        return torch_footprint(self.model, **self.training_footprint())
