"""The transformers Trainer as every training strategy runs it: one set of classifier-training
defaults (ClassifierTraining), their checks, the TrainingArguments built from them, and the
training of a sequence classifier. Causal-LM training (strategies/sft.py) and instruction tuning
use the same arguments."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.api.settings import above, at_least, within
from harness.api.strategy import Context
from harness.inputs.data import Split


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

    epochs: float = field(default=3.0, metadata={"help": "passes over the training rows"})
    learning_rate: float = field(default=1e-4, metadata={
        "help": "peak AdamW learning rate; small encoders like a high one"})
    batch_size: int = field(default=16, metadata={"help": "training examples per optimizer step"})
    max_length: int = field(default=128, metadata={
        "help": "tokens per example; AG News articles fit"})
    warmup_ratio: float = field(default=0.1, metadata={
        "help": "share of steps with a linear warm-up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW's decoupled weight decay"})
    group_by_length: bool = field(default=True, metadata={"help": (
        "Batches of similar lengths pad less: 0.62x the fit time of random batches at the same "
        "loss (bench/results/finetune_compare.json, 512 AG News rows, minilm-l6, CPU).")})
    bf16: bool = field(default=False, metadata={"help": (
        "bf16 autocast: 0.66-0.77x the fit time on this CPU, losses equal to 3 decimals; off by "
        "default until its effect on accuracy is measured per task.")})

    def __post_init__(self):
        check_training_settings(self)
        at_least(self, 1, "max_length")


def check_training_settings(config) -> None:
    """The ranges of the settings every Trainer-based strategy shares (its __post_init__)."""
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
        # The cell's stdout is its log file (harness.cell.isolation): losses every 50 steps are kept
        # there for a failed cell; progress bars would only fill it. The Trainer prints its
        # final metrics dict whatever the settings, hence the log file rather than an option.
        logging_steps=50,
        disable_tqdm=True,
        use_cpu=context.device == "cpu",
        dataloader_num_workers=0,
    )


def _total_steps(n_rows: int, config) -> int:
    return math.ceil(math.ceil(n_rows / config.batch_size) * config.epochs)
