"""Supervised fine-tuning of a causal LM on prompt -> answer examples with the transformers
Trainer; the loss covers the answer tokens only (prompt positions carry the label -100)."""

from __future__ import annotations

from harness.api.strategy import Context
from strategies.trainer import training_arguments


def train_causal_lm(model, tokenizer, examples: list[dict], config, context: Context) -> None:
    """`examples`: dicts of input_ids and labels. `config` as for training_arguments."""
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer

    rows = Dataset.from_list(examples)
    # Pads input_ids with the pad token and labels with -100: padding never counts in the loss.
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True)
    trainer = Trainer(model=model, args=training_arguments(config, context, len(rows)),
                      train_dataset=rows, data_collator=collator)
    trainer.train()
    model.eval()
