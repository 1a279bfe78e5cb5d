"""Supervised fine-tuning of a causal LM on prompt -> answer examples with the transformers
Trainer; the loss covers the answer tokens only (prompt positions carry the label -100)."""

from __future__ import annotations

from harness.api.strategy import Context
from strategies.trainer import TrainingLog, run_trainer


def train_causal_lm(model, tokenizer, examples: list[dict], config, context: Context,
                    validation: list[dict] | None = None) -> TrainingLog:
    """`examples` (and `validation`, to stop early on): dicts of input_ids and labels.
    `config`: a TrainerSettings."""
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq

    # Pads input_ids with the pad token and labels with -100: padding never counts in the loss.
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True)
    return run_trainer(model, config, context, Dataset.from_list(examples), collator,
                       Dataset.from_list(validation) if validation else None, floor=False)
