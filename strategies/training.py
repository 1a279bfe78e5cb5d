"""Supervised training with the transformers Trainer, shared by the strategies that train a model
(full-finetune, lora, qlora): a sequence-classification model on a classification task, the
decoder as a causal LM on the passages of a generation task (strategies/sft.py, whose Trainer
arguments are these). The arguments are shared with instruction-tuned too."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.data import Split
from harness.resources import Resources
from harness.strategy import Context, Predictions
from harness.tasks import Task
from strategies.generation import WritesWithGenerator


def train_classifier(model, tokenizer, train: Split, config, context: Context) -> None:
    """`config` as for training_arguments, and max_length."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer

    rows = Dataset.from_dict({"text": list(train.texts), "label": train.labels.tolist()})
    rows = rows.map(lambda b: tokenizer(b["text"], truncation=True, max_length=config.max_length),
                    batched=True, remove_columns=["text"])
    args = training_arguments(config, context, len(train))
    trainer = Trainer(model=model, args=args, train_dataset=rows,
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    model.eval()


@dataclass
class ClassifierTraining:
    """The Trainer settings of the strategies that train a classifier (full-finetune, lora,
    qlora, distill's student): one set of defaults, which a subclass changes by redefining a
    field (lora's learning rate)."""

    epochs: float = 3.0  # passes over the training rows
    learning_rate: float = 1e-4  # peak AdamW learning rate; small encoders like a high one
    batch_size: int = 16  # training examples per optimizer step
    max_length: int = 128  # tokens per example; AG News articles fit
    warmup_ratio: float = 0.1  # share of steps with a linear warm-up
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    # Batches of similar lengths pad less: 0.62x the fit time of random batches at the same
    # loss (bench/results/finetune_compare.json, 512 AG News rows, minilm-l6, CPU).
    group_by_length: bool = True
    # bf16 autocast: 0.66-0.77x the fit time on this CPU, losses equal to 3 decimals; off by
    # default until its effect on accuracy is measured per task.
    bf16: bool = False

    def __post_init__(self):
        from harness.settings import at_least

        check_training_settings(self)
        at_least(self, 1, "max_length")


def check_training_settings(config) -> None:
    """The ranges of the settings every Trainer-based strategy shares (its __post_init__)."""
    from harness.settings import above, at_least, within

    at_least(config, 1, "batch_size")
    above(config, 0, "epochs", "learning_rate")
    at_least(config, 0, "weight_decay")
    within(config, 0, 1, "warmup_ratio")


def training_arguments(config, context: Context, n_rows: int):
    """`config` needs epochs, learning_rate, batch_size, warmup_ratio, weight_decay,
    group_by_length and bf16."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(context.work_dir / "trainer"),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        # A step count rather than warmup_ratio: the name changed across transformers versions.
        warmup_steps=int(config.warmup_ratio * _total_steps(n_rows, config)),
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        seed=context.seed,
        data_seed=context.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        bf16=config.bf16,
        save_strategy="no",
        report_to=[],
        # The cell's stdout is its log file (harness.isolation): losses every 50 steps are kept
        # there for a failed cell; progress bars would only fill it. The Trainer prints its
        # final metrics dict whatever the settings, hence the log file rather than an option.
        logging_steps=50,
        disable_tqdm=True,
        use_cpu=context.device == "cpu",
        dataloader_num_workers=0,
    )


def _total_steps(n_rows: int, config) -> int:
    return math.ceil(math.ceil(n_rows / config.batch_size) * config.epochs)


def load_for_task(context: Context, **kwargs):
    """(model, tokenizer) to train: a sequence-classification model on a classification task,
    the decoder as a causal LM on a generation task."""
    if context.task.kind == "generation":
        from strategies.decoder import load_language_model

        return load_language_model(context, **kwargs)
    from strategies.encoder import load_classifier

    return load_classifier(context, **kwargs)


class TrainedModel(WritesWithGenerator):
    """The strategies that train a model on one task (set as self.model, self.tokenizer, with
    self.config and self.context; `config.max_gen_length` for generation tasks) share these
    declarations, fit, predict, generate and export."""

    task_kinds = ("classification", "generation")
    # An encoder with a new head classifies; the decoder preset learns a style.
    model_kind = {"classification": "encoder", "generation": "decoder"}
    backends = ("hf",)
    devices = ("cuda", "cpu")
    multi_task = False
    trials = 1
    deterministic = False  # the seed initialises the head and shuffles the batches
    uses_training_rows = True
    # Weights, gradients and two Adam moments (full fine-tuning; adapters need less).
    resources = Resources(gpus=1, cpus=1, memory_gib=2, model_memory_multiple=4)
    # The exported weights reloaded, cast or quantized (strategies/inference.py)
    inference_variants = ("fp32", "bf16", "fp16", "int8", "nf4")
    runs_strategies = ()  # runs no other strategy (harness/strategy.py)

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        from strategies.common import only_task

        task, train = only_task(tasks)
        if task.kind == "generation":
            from strategies.generation import GenerationPrompts
            from strategies.sft import train_causal_lm

            prompts = GenerationPrompts(self.tokenizer, task)
            examples = [prompts.training_example(text, self.config.max_gen_length)
                        for text in train.texts]
            train_causal_lm(self.model, self.tokenizer, examples, self.config, self.context)
        else:
            train_classifier(self.model, self.tokenizer, train, self.config, self.context)

    def prepare(self) -> None:
        """Nothing one-off to classify: the trained model predicts as it is."""
        if self.context.task.kind == "generation":
            from strategies.generation import HfGenerator

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
