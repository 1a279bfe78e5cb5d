"""instruction-tuned: supervised fine-tuning of the decoder on instruction-formatted examples
(the task's prompt + input -> its label word; loss on the answer only), LoRA by default, full
weights as an option; evaluated with the same label scoring as zero-shot (strategies/scoring.py,
calibration off by default: the tuned model has learnt the label words). Given several tasks of
one kind it trains one model on their mixture and reports each task:

    harness run --strategies instruction-tuned --task agnews,sst2

On a generation task the instruction is the task's, the input a passage's first words and the
answer the rest of the passage (the loss on the answer only): the model learns to continue a
prompt in the style, where lora learns the whole passages.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.api.search import Choice, LogUniform, Uniform
from harness.inputs.data import Split, subset
from harness.errors import HarnessError
from harness.api.resources import Resources
from harness.api.settings import at_least
from harness.api.strategy import (
    Context,
    Footprint,
    Generations,
    Predictions,
    StrategyBase,
    TextScores,
    predictions_from_scores,
)
from harness.inputs.tasks import GenerationTask, Task
from strategies.adapters import (
    adapters_to_base_dtype,
    add_lora,
    base_weight_bytes,
    check_adapter_settings,
)
from strategies.common import torch_footprint
from strategies.decoder import load_decoder, truncate_text, vllm_reservation
from harness.metrics.lm_generation import GenerationPrompts, HfGenerator
from strategies.label_scoring import LabelPrompts, LabelScorer
from strategies.scoring import ScoreAdjustment, ScoringSettings
from strategies.sft import train_causal_lm
from strategies.trainer import TrainerSettings, TrainingLog, check_training_settings
from strategies.vllm_generation import VllmGenerator
from strategies.vllm_scoring import VllmLabelScorer, lora_request, open_engine


@dataclass
class InstructionTunedConfig(ScoringSettings, TrainerSettings):  # + calibration, Trainer, ...
    use_lora: bool = field(default=True, metadata={
        "help": "LoRA adapters (fits small machines); false trains every weight"})
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={
        "help": "LoRA scaling numerator (update scaled by alpha / r)"})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: str = field(default="auto", metadata={
        "help": '"auto" (per architecture), "all-linear" or "name,name,..."'})
    max_train_rows: int = field(default=256, metadata={
        "help": "per task, stratified; SFT of a 135M decoder on CPU is ~1 s/row"})
    max_validation_rows: int = field(default=32, metadata={
        "help": "validation rows per evaluation of the loss (early stopping), stratified"})
    # The Trainer settings (strategies/trainer.py) whose defaults differ for the decoder.
    epochs: float = field(default=1.0, metadata={"help": "passes over the training rows"})
    learning_rate: float = field(default=5e-4, metadata={
        "help": "for LoRA; use about 5e-5 with use_lora=false"})
    batch_size: int = field(default=8, metadata={"help": "training examples per optimizer step"})
    warmup_ratio: float = field(default=0.05, metadata={
        "help": "share of steps with a linear warm-up"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW's decoupled weight decay"})
    max_text_tokens: int = field(default=96, metadata={
        "help": "the input is cut to this, in training and evaluation alike"})
    max_gen_length: int = field(default=256, metadata={
        "help": "generation tasks: tokens per training example, context included"})

    def __post_init__(self):
        super().__post_init__()
        check_training_settings(self)
        check_adapter_settings(self)
        at_least(self, 1, "max_train_rows", "max_validation_rows", "max_text_tokens",
                 "max_gen_length")


class InstructionTuned(StrategyBase):
    name = "instruction-tuned"
    # bf16: trained under autocast as full-finetune and lora are, its frozen base loaded in bf16
    # (every weight trained: float32 masters)
    precisions = ("fp32", "bf16")
    description = "SFT of the decoder on instruction-formatted examples (LoRA); one model, many tasks."
    config_class = InstructionTunedConfig
    search_space = {"learning_rate": LogUniform(5e-5, 2e-3), "epochs": Uniform(0.5, 3.0),
                    "r": Choice(4, 8, 16, 32)}
    task_kinds = ("classification", "generation")
    model_kind = "decoder"
    backends = ("hf", "vllm")  # trained with transformers either way; vllm serves the evaluation
    multi_task = True
    uses_validation = True  # early stopping on the primary task's validation loss
    training_log: TrainingLog | None = None
    # Weights, gradients and two Adam moments of the whole decoder.
    resources = Resources(gpus=1, cpus=1, memory_gib=2, model_memory_multiple=4)

    def __init__(self, config: InstructionTunedConfig, context: Context):
        self.config, self.context = config, context
        self.model, self.tokenizer = load_decoder(context, frozen=config.use_lora)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # The frozen base's bytes, before adapters: what the report's weights column shows.
        self.base_bytes = base_weight_bytes(self.model) if config.use_lora else None
        if config.use_lora:
            self.model = add_lora(self.model, config, task_type="CAUSAL_LM")
        self.scorers: dict[str, LabelPrompts] = {}
        self.adjustments: dict[str, ScoreAdjustment] = {}  # per task, made in prepare()
        self.generators: dict[str, object] = {}  # per generation task, made in prepare()
        self.tasks: list[Task] = []
        self.trained: Footprint | None = None
        self.engine, self.lora_request, self.vllm_weights = None, None, None

    def scorer(self, task: Task) -> LabelPrompts:
        if task.name not in self.scorers:
            chat = self.config.use_chat_template
            if self.engine is not None:
                self.scorers[task.name] = VllmLabelScorer(self.engine, self.tokenizer,
                                                          task.label_words, chat,
                                                          lora_request=self.lora_request)
            else:
                self.scorers[task.name] = LabelScorer(self.model, self.tokenizer,
                                                      task.label_words, chat,
                                                      max_batch_tokens=self.config.max_batch_tokens)
        return self.scorers[task.name]

    def adjustment(self, task: Task) -> ScoreAdjustment:
        """PMI premise and calibration of one task's prompts, with the tuned model."""
        if task.name not in self.adjustments:
            scorer = self.scorer(task)
            self.adjustments[task.name] = ScoreAdjustment(
                self.config, scorer, lambda text: scorer.render(task.prompt(text)))
        return self.adjustments[task.name]

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        """Train one model on the mixture of every task's instruction-formatted rows, stopping
        early on the primary task's validation rows where the cell holds some out."""
        examples, self.tasks = [], [task for task, _ in tasks]
        for task, train in tasks:
            examples += self._examples(task, train, self.config.max_train_rows)
        validation = self.context.validation
        held = (self._examples(tasks[0][0], validation, self.config.max_validation_rows)
                if validation is not None and len(validation) else None)
        self.training_log = train_causal_lm(self.model, self.tokenizer, examples, self.config,
                                            self.context, held)
        self.trained = torch_footprint(self.model)
        self.scorers.clear()

    def _examples(self, task: Task, split: Split, limit: int) -> list[dict]:
        """Instruction-formatted examples of at most `limit` of the rows, stratified."""
        rows = subset(split, min(limit, len(split)), self.context.seed)
        if task.kind == "generation":
            prompts = GenerationPrompts(self.tokenizer, task, self.config.use_chat_template)
            return [prompts.training_example(text, self.config.max_gen_length, from_word=True)
                    for text in rows.texts]
        return [self._example(task, text, int(label))
                for text, label in zip(rows.texts, rows.labels)]

    def export(self, folder: Path) -> None:
        """The LoRA adapter, or every weight when trained in full."""
        self.model.save_pretrained(folder)

    def prepare(self) -> None:
        """Ready the tuned model for inference: on transformers the adapters as trained,
        unmerged, as lora and qlora predict (one merge policy for every adapter-trained
        strategy, so that their speeds compare); or a vLLM engine serving it."""
        if self.context.backend == "vllm":
            self.vllm_weights = self._serve_on_vllm()
        if self.model is not None:
            self.model.eval()
            if self.context.precision == "bf16" and self.config.use_lora:
                adapters_to_base_dtype(self.model)
        self.scorers.clear()
        self.adjustments.clear()
        for task in self.tasks:  # one-off, before any prediction is timed
            if task.kind == "generation":
                self.generators[task.name] = self._generator(task)
            else:
                self.adjustment(task)

    def _generator(self, task: GenerationTask):
        chat = self.config.use_chat_template
        if self.engine is not None:
            return VllmGenerator(self.engine, self.tokenizer, task, chat,
                                 lora_request=self.lora_request)

        return HfGenerator(self.model, self.tokenizer, task, chat)

    def _check_served(self) -> None:
        """One request to the engine, so that a LoRA it cannot serve fails here."""
        task = self.context.task
        if task.kind == "generation":
            self._generator(task).generate(["Hello"], max_new_tokens=1)
        else:
            self.scorer(task).score([task.prompt("N/A")])

    def _serve_on_vllm(self) -> str:
        """Hand the tuned model to a vLLM engine: the LoRA adapter on the base weights where this
        vLLM build serves LoRA for the architecture, merged weights otherwise. Says which."""
        context, work_dir = self.context, Path(self.context.work_dir)
        share = self.config.vllm_memory_share
        if self.config.use_lora:
            try:
                self.model.save_pretrained(work_dir / "adapter")
                self.engine = open_engine(context.model.local_path(), context.seed, share,
                                          context.model.trust_remote_code,
                                          max_lora_rank=self.config.r)
                self.lora_request = lora_request(work_dir / "adapter")
                self._check_served()
                self.model = None  # the engine holds the weights now
                return "lora-adapter"
            except HarnessError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of vLLM's LoRA path
                warnings.warn(f"vLLM could not serve the LoRA adapter ({error}); "
                              f"serving merged weights instead")
                self.engine = self.lora_request = None
                self.scorers.clear()
            self.model = self.model.merge_and_unload()
        self.model.save_pretrained(work_dir / "merged")
        self.tokenizer.save_pretrained(work_dir / "merged")
        self.model = None
        self.engine = open_engine(work_dir / "merged", context.seed, share,
                                  context.model.trust_remote_code)
        return "merged"

    def _example(self, task: Task, text: str, label: int) -> dict:
        scorer = self.scorer(task)
        text = truncate_text(self.tokenizer, text, self.config.max_text_tokens)
        prompt = scorer.prompt_ids(scorer.render(task.prompt(text)))
        # The answer is exactly the tokens the scorer reads, then end-of-turn.
        answer = scorer.label_ids[label] + [self.tokenizer.eos_token_id]
        return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        scorer, limit = self.scorer(task), self.config.max_text_tokens
        prompts = [scorer.render(task.prompt(truncate_text(self.tokenizer, t, limit)))
                   for t in texts]
        raw = scorer.score(prompts, progress=len(texts) > 64)
        return predictions_from_scores(self.adjustment(task)(raw), prompts)

    def generate(self, prompts: Sequence[str], task: GenerationTask, trial: int = 0,
                 max_new_tokens: int | None = None) -> Generations:
        return self.generators[task.name].generate(prompts, max_new_tokens=max_new_tokens)

    def log_likelihood(self, texts: Sequence[str], task: GenerationTask,
                       trial: int = 0) -> TextScores:
        return self.generators[task.name].log_likelihood(texts)

    def footprint(self) -> Footprint:
        counts = self.trained or torch_footprint(self.model)
        extra = self.training_log.footprint() if self.training_log else {}
        if self.base_bytes is not None:  # its LoRA adapters, kept apart from the base
            extra["adapters"] = "apart"
        if self.vllm_weights:
            extra |= {"vllm_weights": self.vllm_weights,
                     **vllm_reservation(self.context, self.config.vllm_memory_share)}
        return Footprint(counts.trainable_params, counts.total_params, counts.weight_bytes,
                         base_weight_bytes=self.base_bytes, extra=extra)
