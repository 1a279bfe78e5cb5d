"""zero-shot: prompt an instruction-tuned decoder with the task's instruction and pick the label
word with the highest log-probability after the prompt. Nothing is trained.

    harness run --strategies zero-shot --task agnews
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from harness.data import Split
from harness.settings import at_least, check
from harness.strategy import Context, Footprint, Predictions, predictions_from_scores
from harness.tasks import Task
from strategies.decoder import frozen_footprint, load_frozen_decoder, open_scorer, truncate_text


@dataclass
class ZeroShotConfig:
    use_chat_template: bool = True  # wrap the prompt in the tokenizer's chat template if it has one
    normalize: Literal["sum", "mean"] = "sum"  # sum or mean of the label word's token log-probs
    max_text_tokens: int = 256  # longer inputs are cut; the instruction is always kept whole
    max_batch_tokens: int | None = None  # padded tokens per pass, prefix included; None: auto
    vllm_memory_share: float = 0.3  # vllm backend: share of GPU memory (or RAM) it reserves

    def __post_init__(self):
        at_least(self, 1, "max_text_tokens", "max_batch_tokens")
        check(self, "vllm_memory_share", 0 < self.vllm_memory_share <= 1, "in (0, 1]")


class ZeroShot:
    name = "zero-shot"
    description = "Prompt a decoder; pick the label word with the highest log-probability."
    config_class = ZeroShotConfig
    model_kind = "decoder"
    backends = ("hf", "vllm")
    devices = ("cuda", "cpu")
    multi_task = False
    trials = 1

    def __init__(self, config: ZeroShotConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_frozen_decoder(context)
        self.scorer = None

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Nothing to learn: the prompt is the whole adaptation."""

    def prepare(self) -> None:
        self.scorer = open_scorer(self.context, self.model, self.tokenizer, self.config)
        task = self.context.task  # the system prompt and instruction, encoded once
        self.scorer.keep_prefix([self.scorer.render(task.prompt(t)) for t in ("N/A", "Example.")])

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        limit = self.config.max_text_tokens
        prompts = [self.scorer.render(task.prompt(truncate_text(self.tokenizer, t, limit)))
                   for t in texts]
        return predictions_from_scores(self.scorer.score(prompts, progress=len(texts) > 64))

    def footprint(self) -> Footprint:
        return frozen_footprint(self.context, self.model, self.config.vllm_memory_share)

    def export(self, folder: Path) -> None:
        """Nothing beyond the base model ships: the prompt template is the task's."""
