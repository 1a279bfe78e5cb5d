"""An example generation strategy: the decoder as it is, told what the style is made of. It
writes and scores through the harness's own generator, so its perplexity and continuations
compare with zero-shot's (the same conditioning, plus the preamble)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

from harness.api import (
    Context,
    Footprint,
    Generations,
    GenerationTask,
    Split,
    StrategyBase,
    TextScores,
)
from strategies.common import torch_footprint
from strategies.decoder import load_decoder
from strategies.generation import HfGenerator


@dataclass
class StylePreambleConfig:
    preamble: str = field(
        default="Use early modern English (thou, thee, doth, 'tis) in lines of verse.",
        metadata={"help": "appended to the task's instruction"})


class StylePreamble(StrategyBase):
    name = "style-preamble"
    description = "Zero-shot writing, told what the style is made of (example plugin)."
    config_class = StylePreambleConfig
    task_kinds = ("generation",)     # no predict(): it does not classify
    model_kind = "decoder"
    deterministic = True             # sampling draws from the task's generation seed
    uses_training_rows = False

    def __init__(self, config: StylePreambleConfig, context: Context):
        self.model, self.tokenizer = load_decoder(context)
        told = dataclasses.replace(context.task,
                                   instruction=f"{context.task.instruction} {config.preamble}")
        self.writer = HfGenerator(self.model, self.tokenizer, told)

    def fit(self, tasks: Sequence[tuple[GenerationTask, Split]]) -> None:
        """Nothing to learn."""

    def generate(self, prompts: Sequence[str], task: GenerationTask, trial: int = 0,
                 max_new_tokens: int | None = None) -> Generations:
        return self.writer.generate(prompts, max_new_tokens=max_new_tokens)

    def log_likelihood(self, texts: Sequence[str], task: GenerationTask,
                       trial: int = 0) -> TextScores:
        return self.writer.log_likelihood(texts)

    def footprint(self) -> Footprint:
        return torch_footprint(self.model, frozen=True)
