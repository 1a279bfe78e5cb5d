"""The writer every decoder strategy serves its trials with. The generators themselves
(`GenerationPrompts`, `HfGenerator`) live in harness.metrics.lm_generation: the runner writes
with them too (the base model's own pastiche, the hard negatives of the style judge), and
harness never imports a strategy.

    class MyStrategy(WritesWithGenerator, StrategyBase):
        def prepare(self, context): self.generator = HfGenerator(model, tokenizer, task)
"""

from __future__ import annotations

from typing import Sequence

from harness.api.strategy import Generations, TextScores
from harness.inputs.tasks import GenerationTask
from harness.metrics.lm_generation import GenerationPrompts, HfGenerator

__all__ = ["GenerationPrompts", "HfGenerator", "WritesWithGenerator"]


class WritesWithGenerator:
    """generate and log_likelihood of a strategy whose one writer (`self.generator`, made in
    prepare()) serves every trial: zero-shot and the trained models."""

    generator = None

    def generate(self, prompts: Sequence[str], task: GenerationTask, trial: int = 0,
                 max_new_tokens: int | None = None) -> Generations:
        return self.generator.generate(prompts, max_new_tokens=max_new_tokens)

    def log_likelihood(self, texts: Sequence[str], task: GenerationTask,
                       trial: int = 0) -> TextScores:
        return self.generator.log_likelihood(texts)
