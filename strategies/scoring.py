"""The one scoring configuration of the prompting strategies (zero-shot, few-shot,
instruction-tuned): the settings of their label scorer, and how the raw log-probabilities of the
label words become the scores a prediction is the argmax of.

    @dataclass
    class ZeroShotConfig(ScoringSettings):
        max_text_tokens: int = 256

    adjust = ScoreAdjustment(config, scorer, lambda text: scorer.render(task.prompt(text)))
    scores = adjust(scorer.score(prompts))          # in predict()

The raw score of a label is the sum of its tokens' log-probabilities after the prompt,
log P(label | prompt). Then, in this order:

- `scoring = "sum"` keeps it; `"mean"` divides it by the label's token count; `"pmi"` subtracts
  log P(label | premise), the domain-conditional PMI of Holtzman et al. (2021). The premise is
  the prompt as the strategy renders it (chat template, system prompt, demonstrations) with an
  empty input: the task's instruction and answer cue, without anything to classify.
- `calibrate` subtracts log p_cf, where p_cf averages the label probabilities (softmax over the
  labels of the scores above) of several content-free inputs, "N/A", "" and "[MASK]", in the
  same prompt: the contextual calibration of Zhao et al. (2021), which averages the normalised
  probabilities of these three inputs. softmax(scores - log p_cf) is their p / p_cf, renormalised.

With a single content-free input "", pmi and calibrate would pick the same labels: calibration
averages three inputs and normalises over the labels, PMI subtracts the premise's raw
log-probabilities. Both are computed once per prompt context, in the strategy's prepare().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from harness.api.settings import at_least, check

CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")  # Zhao et al. (2021), Section 5
SCORINGS = ("sum", "mean", "pmi")


@dataclass
class ScoringSettings:
    """Settings every prompting strategy shares; its config inherits them, and may give
    `calibrate` another default by declaring the field again."""

    use_chat_template: bool = field(default=True, metadata={
        "help": "wrap the prompt in the tokenizer's chat template if it has one"})
    scoring: Literal["sum", "mean", "pmi"] = field(default="sum", metadata={"help": (
        "sum or mean of the label word's token log-probs, or pmi: the sum minus the sum the "
        "same prompt gives an empty input (Holtzman et al., 2021)")})
    calibrate: bool = field(default=False, metadata={"help": (
        "Contextual calibration (Zhao et al., 2021): subtract the averaged label scores of the "
        "content-free inputs \"N/A\", \"\", \"[MASK]\" in the same prompt, removing the model's "
        "prior for some label words")})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "padded tokens per pass, prefix included; None: auto"})
    vllm_memory_share: float = field(default=0.3, metadata={
        "help": "vllm backend: share of GPU memory (or RAM) it reserves"})

    def __post_init__(self):
        check_scoring_settings(self)


def check_scoring_settings(config) -> None:
    """The ranges of the shared settings (a config that defines its own __post_init__ calls
    this, or super().__post_init__())."""
    at_least(config, 1, "max_batch_tokens")
    check(config, "vllm_memory_share", 0 < config.vllm_memory_share <= 1, "in (0, 1]")


def final_scores(raw: np.ndarray, scoring: str, label_lengths, premise=None,
                 bias=None) -> np.ndarray:
    """Raw label log-probs (n, labels) -> final scores: per `scoring` (premise: the premise's
    raw label log-probs, for pmi), then minus the calibration `bias` when there is one."""
    raw = np.asarray(raw, dtype=np.float64)
    if scoring == "mean":
        scores = raw / np.asarray(label_lengths, dtype=np.float64)
    elif scoring == "pmi":
        if premise is None:
            raise ValueError("pmi scoring needs the premise's label scores")
        scores = raw - np.asarray(premise, dtype=np.float64)
    elif scoring == "sum":
        scores = raw
    else:
        raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")
    return scores if bias is None else scores - np.asarray(bias, dtype=np.float64)


def calibration_bias(content_free_scores: np.ndarray) -> np.ndarray:
    """log p_cf: the log of the label probabilities (softmax over labels) of the content-free
    inputs' scores, averaged over the inputs."""
    # Imported here: harness.metrics.stats brings scipy, and `harness list` imports this module
    from harness.metrics.stats import softmax

    return np.log(softmax(content_free_scores).mean(axis=0))


class ScoreAdjustment:
    """What turns a label scorer's raw scores into final ones, under one prompt context (the
    strategy's template, and for few-shot one trial's demonstrations). Built once, in prepare():
    it scores the premise and the content-free inputs."""

    def __init__(self, settings: ScoringSettings, scorer, prompt_for: Callable[[str], str]):
        # prompt_for: an input text -> the full prompt the strategy would score for it.
        # A scorer reading answers rather than log-probabilities (the api backend's generate
        # mode) has nothing to rescale: its scores pass through.
        self.scoring = settings.scoring if scorer.log_probabilities else "sum"
        settings_calibrate = settings.calibrate and scorer.log_probabilities
        self.label_lengths = [len(ids) for ids in scorer.label_ids]
        self.premise = scorer.score([prompt_for("")])[0] if self.scoring == "pmi" else None
        self.bias = None
        if settings_calibrate:
            content_free = scorer.score([prompt_for(text) for text in CONTENT_FREE_INPUTS])
            self.bias = calibration_bias(self(content_free))  # scored as inputs are, bias aside

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return final_scores(raw, self.scoring, self.label_lengths, self.premise, self.bias)
