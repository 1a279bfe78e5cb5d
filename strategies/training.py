"""What the strategies that train one model on one task share (full-finetune, lora, qlora):
their declarations, fit (a sequence-classification model on a classification task, the decoder
as a causal LM on the passages of a generation task), predict, generate and export. Their
Trainer settings are strategies/trainer.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.inputs.data import Split
from harness.api.resources import Resources
from harness.api.strategy import Context, Predictions, StrategyBase
from harness.inputs.tasks import Task
from strategies.common import only_task
from strategies.decoder import load_language_model
from harness.metrics.lm_generation import GenerationPrompts, HfGenerator
from strategies.generation import WritesWithGenerator
from strategies.sft import train_causal_lm
from strategies.trainer import (  # noqa: F401 - ClassifierTraining re-exported
    ClassifierTraining,
    TrainingLog,
    train_classifier,
)


def load_for_task(context: Context, **kwargs):
    """(model, tokenizer) to train: a sequence-classification model on a classification task,
    the decoder as a causal LM on a generation task."""
    if context.task.kind == "generation":
        return load_language_model(context, **kwargs)
    from strategies.encoder import load_classifier

    return load_classifier(context, **kwargs)


class TrainedModel(WritesWithGenerator, StrategyBase):
    """The strategies that train a model on one task (set as self.model, self.tokenizer, with
    self.config and self.context; `config.max_gen_length` for generation tasks) share these
    declarations, fit, predict, generate and export."""

    task_kinds = ("classification", "generation")
    # An encoder with a new head classifies; the decoder preset learns a style.
    model_kind = {"classification": "encoder", "generation": "decoder"}
    # Weights, gradients and two Adam moments (full fine-tuning; adapters need less).
    resources = Resources(gpus=1, cpus=1, memory_gib=2, model_memory_multiple=4)
    # The exported weights reloaded, cast or quantized (strategies/inference.py)
    inference_variants = ("fp32", "bf16", "fp16", "int8", "nf4")
    # bf16 autocast training (float32 master weights): losses equal to 3 decimals at
    # 0.66x (full) / 0.77x (LoRA) the fit time (bench/results/finetune_compare.json)
    precisions = ("fp32", "bf16")
    # Early stopping on the validation loss (strategies/trainer.py)
    uses_validation = True
    training_log: TrainingLog | None = None

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        task, train = only_task(tasks)
        validation = self.context.validation
        if task.kind == "generation":
            prompts = GenerationPrompts(self.tokenizer, task)

            def examples(split):
                return [prompts.training_example(text, self.config.max_gen_length)
                        for text in split.texts]

            self.training_log = train_causal_lm(
                self.model, self.tokenizer, examples(train), self.config, self.context,
                examples(validation) if validation is not None else None)
        else:
            self.training_log = train_classifier(self.model, self.tokenizer, train, self.config,
                                                 self.context, validation)

    def training_footprint(self) -> dict:
        """What the schedule did (footprint_schedule_steps, ...), once fitted."""
        return self.training_log.footprint() if self.training_log else {}

    def prepare(self) -> None:
        """Nothing one-off to classify: the trained model predicts as it is."""
        if self.context.task.kind == "generation":
            self.generator = HfGenerator(self.model, self.tokenizer, self.context.task)


    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        from strategies.encoder import classify

        return classify(self.model, self.tokenizer, texts, self.config.max_length)

    def export(self, folder: Path) -> None:
        """The trained weights (for adapters: the adapters and the new head only)."""
        from strategies.inference import save_model

        save_model(self.model, folder)

    @classmethod
    def load_inference(cls, config, context: Context, folder: Path, variant: str):
        """The exported classifier reloaded in the variant, ready to predict."""
        from strategies.encoder import load_tokenizer
        from strategies.inference import load_classifier_variant

        loaded = cls.__new__(cls)
        loaded.config, loaded.context = config, context
        loaded.model = load_classifier_variant(context, folder, variant)
        loaded.tokenizer = load_tokenizer(context)
        return loaded
