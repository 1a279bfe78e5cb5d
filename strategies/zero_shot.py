"""zero-shot: prompt an instruction-tuned decoder with the task's instruction and pick the label
word with the highest score after the prompt (its log-probability, optionally calibrated or as
PMI: strategies/scoring.py); on a generation task, continue each prompt after the instruction
alone (harness.metrics.lm_generation). Nothing is trained, no training row is read, and no seed
changes anything (sampling draws from the task's generation seed), so the plan runs it once per
task.

    harness run --strategies zero-shot --task trec -c zero-shot.calibrate=false
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.inputs.data import Split
from harness.api.resources import Resources
from harness.api.settings import at_least
from harness.api.strategy import (
    Context,
    Footprint,
    Predictions,
    StrategyBase,
    predictions_from_scores,
)
from harness.inputs.tasks import Task
from strategies.decoder import (
    frozen_footprint,
    load_frozen_decoder,
    open_generator,
    open_scorer,
    truncate_text,
)
from strategies.generation import WritesWithGenerator
from strategies.scoring import ScoreAdjustment, ScoringSettings


@dataclass
class ZeroShotConfig(ScoringSettings):  # + use_chat_template, scoring, max_batch_tokens, ...
    calibrate: bool = field(default=True, metadata={"help": (
        "Contextual calibration, on by default: without it the model's prior for some label "
        "words decides. SmolLM2-135M-Instruct, 200 test rows: TREC 0.020 -> 0.400 (it answered "
        '"Abbreviation" to every question), emotion 0.140 -> 0.385, AG News 0.520 -> 0.705')})
    max_text_tokens: int = field(default=256, metadata={
        "help": "longer inputs are cut; the instruction is always kept whole"})

    def __post_init__(self):
        super().__post_init__()
        at_least(self, 1, "max_text_tokens")


class ZeroShot(WritesWithGenerator, StrategyBase):
    name = "zero-shot"
    description = "Prompt a decoder; pick the label word with the highest log-probability."
    config_class = ZeroShotConfig
    task_kinds = ("classification", "generation")
    model_kind = "decoder"
    backends = ("hf", "vllm", "api")
    deterministic = True  # no sampling and no draw: the same scores for every seed
    uses_training_rows = False
    resources = Resources(gpus=1, cpus=1, memory_gib=1.5, model_memory_multiple=1.5)
    # The decoder itself loaded in another precision (strategies/inference.py); hf backend only
    inference_variants = ("fp32", "bf16", "fp16", "int8", "nf4")
    # bf16 layers, float32 head (strategies/decoder.py: with the head in bf16 too, zero-shot lost
    # 0.015 accuracy on the quick profile); `--inference bf16` is the all-bf16 variant.
    precisions = ("fp32", "bf16")

    def __init__(self, config: ZeroShotConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_frozen_decoder(context)
        self.scorer, self.adjust, self.generator = None, None, None

    @classmethod
    def load_inference(cls, config, context: Context, folder: Path, variant: str):
        """Nothing was fitted or exported: the same prompts to the decoder in the variant."""
        from strategies.inference import load_decoder_variant

        loaded = cls.__new__(cls)
        loaded.config, loaded.context = config, context
        loaded.model, loaded.tokenizer = load_decoder_variant(context, variant)
        loaded.scorer, loaded.adjust, loaded.generator = None, None, None
        return loaded

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Nothing to learn (and no rows given): the prompt is the whole adaptation."""

    def prepare(self) -> None:
        task = self.context.task
        if task.kind == "generation":
            self.generator = open_generator(self.context, self.model, self.tokenizer,
                                            self.config)
            return
        self.scorer = open_scorer(self.context, self.model, self.tokenizer, self.config)

        def prompt_for(text: str) -> str:
            return self.scorer.render(task.prompt(text))

        # The system prompt and instruction, encoded once; then the premise and content-free
        # inputs that PMI and calibration subtract, scored once.
        self.scorer.keep_prefix([prompt_for(text) for text in ("N/A", "Example.")])
        self.adjust = ScoreAdjustment(self.config, self.scorer, prompt_for)

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        limit = self.config.max_text_tokens
        prompts = [self.scorer.render(task.prompt(truncate_text(self.tokenizer, t, limit)))
                   for t in texts]
        raw = self.scorer.score(prompts, progress=len(texts) > 64)
        return predictions_from_scores(self.adjust(raw), prompts)

    def footprint(self) -> Footprint:
        return frozen_footprint(self.context, self.model, self.config.vllm_memory_share,
                                self.scorer or self.generator)
