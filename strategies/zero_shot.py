"""zero-shot: prompt an instruction-tuned decoder with the task's instruction and pick the label
word with the highest log-probability after the prompt. Nothing is trained.

    harness run --strategies zero-shot --task agnews
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from harness.data import Split
from harness.strategy import Context, Predictions, predictions_from_scores
from strategies.decoder import frozen_decoder_scorer, truncate_text


@dataclass
class ZeroShotConfig:
    use_chat_template: bool = True  # wrap the prompt in the tokenizer's chat template if it has one
    normalize: str = "sum"  # "sum" of the label word's token log-probs, or their "mean"
    max_text_tokens: int = 256  # longer inputs are cut; the instruction is always kept whole
    max_batch_tokens: int | None = None  # padded tokens per pass, prefix included; None: auto


class ZeroShot:
    name = "zero-shot"
    description = "Prompt a decoder; pick the label word with the highest log-probability."
    config_class = ZeroShotConfig
    model_kind = "decoder"
    backends = ("hf", "vllm")

    def __init__(self, config: ZeroShotConfig, context: Context):
        self.config, self.context = config, context
        self.scorer, self.tokenizer, self._footprint = frozen_decoder_scorer(
            context, context.task.label_words, use_chat_template=config.use_chat_template,
            normalize=config.normalize, max_batch_tokens=config.max_batch_tokens)

    def fit(self, train: Split) -> None:
        """Nothing to learn: the prompt is the whole adaptation."""

    def predict(self, texts: Sequence[str]) -> Predictions:
        task, limit = self.context.task, self.config.max_text_tokens
        prompts = [self.scorer.render(task.prompt(truncate_text(self.tokenizer, t, limit)))
                   for t in texts]
        return predictions_from_scores(self.scorer.score(prompts, progress=len(texts) > 64))

    def footprint(self):
        return self._footprint
