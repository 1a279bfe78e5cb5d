"""An example generation strategy: the decoder as it is, told what the style is made of. It
writes and scores through the harness's own generator, so its perplexity and continuations
compare with zero-shot's (the same conditioning, plus the preamble)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.data import Split
from harness.resources import Resources
from harness.strategy import Context, Footprint, Generations, TextScores
from harness.tasks import GenerationTask
from strategies.common import torch_footprint
from strategies.decoder import load_decoder
from strategies.generation import HfGenerator


@dataclass
class StylePreambleConfig:
    # Appended to the task's instruction
    preamble: str = "Use early modern English (thou, thee, doth, 'tis) in lines of verse."


class StylePreamble:
    name = "style-preamble"
    description = "Zero-shot writing, told what the style is made of (example plugin)."
    config_class = StylePreambleConfig
    task_kinds = ("generation",)     # no predict(): it does not classify
    model_kind = "decoder"
    backends = ("hf",)
    devices = ("cuda", "cpu")
    multi_task = False
    trials = 1
    deterministic = True             # sampling draws from the task's generation seed
    uses_training_rows = False
    # The decoder and its activations while writing: ~1.5x its weight files, on one GPU.
    resources = Resources(gpus=1, cpus=1, memory_gib=1, model_memory_multiple=1.5)
    inference_variants = ()  # only its own way of predicting (harness/inference.py)
    runs_strategies = ()  # runs no other strategy (harness/strategy.py)

    def __init__(self, config: StylePreambleConfig, context: Context):
        self.model, self.tokenizer = load_decoder(context)
        told = dataclasses.replace(context.task,
                                   instruction=f"{context.task.instruction} {config.preamble}")
        self.writer = HfGenerator(self.model, self.tokenizer, told)

    def fit(self, tasks: Sequence[tuple[GenerationTask, Split]]) -> None:
        """Nothing to learn."""

    def prepare(self) -> None:
        """Nothing one-off."""

    def generate(self, prompts: Sequence[str], task: GenerationTask, trial: int = 0,
                 max_new_tokens: int | None = None) -> Generations:
        return self.writer.generate(prompts, max_new_tokens=max_new_tokens)

    def log_likelihood(self, texts: Sequence[str], task: GenerationTask,
                       trial: int = 0) -> TextScores:
        return self.writer.log_likelihood(texts)

    def footprint(self) -> Footprint:
        return torch_footprint(self.model, frozen=True)

    def export(self, folder: Path) -> None:
        """Nothing beyond the base model ships: the preamble is in the config."""
