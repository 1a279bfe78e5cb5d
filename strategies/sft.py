"""Supervised fine-tuning of a causal LM on prompt -> answer examples with the transformers
Trainer; the loss covers the answer tokens only (prompt positions carry the label -100).

The loss is computed from the decoder's hidden states at the answer positions only, in chunks
whose logits are recomputed in the backward pass rather than kept: the model's own loss builds
the logits of every position (batch x tokens x vocabulary: 16 x 256 x 49,152 float32 are
0.8 GB for SmolLM2), keeps their log-softmax for the backward and allocates the gradient of
both — the largest allocations of a small decoder's training step, and most of them for prompt
positions no loss reads (an instruction-tuned classifier's answer is one or two tokens).
"""

from __future__ import annotations

from harness.api.strategy import Context
from strategies.trainer import TrainingLog, run_trainer

# Answer positions per chunk of the loss: 1,024 x 49,152 float32 logits are 0.2 GB at a time.
LOSS_CHUNK_TOKENS = 1024


def train_causal_lm(model, tokenizer, examples: list[dict], config, context: Context,
                    validation: list[dict] | None = None) -> TrainingLog:
    """`examples` (and `validation`, to stop early on): dicts of input_ids and labels.
    `config`: a TrainerSettings."""
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq

    # Pads input_ids with the pad token and labels with -100: padding never counts in the loss.
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True)
    return run_trainer(model, config, context, Dataset.from_list(examples), collator,
                       Dataset.from_list(validation) if validation else None,
                       trainer_class=_answer_loss_trainer(), causal_lm=True)


def answer_loss(model, input_ids, attention_mask, labels, chunk_tokens: int = LOSS_CHUNK_TOKENS):
    """Mean next-token cross-entropy over the positions whose label is not -100: the same value
    and gradients as the model's own loss, without the logits of every position. `model`: a
    causal LM, or a peft model around one (its adapters live inside the decoder's layers)."""
    import torch
    from torch.utils.checkpoint import checkpoint

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = lm.get_decoder(), lm.get_output_embeddings()
    hidden = decoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = labels[:, 1:]
    answer = targets != -100
    states, targets = hidden[:, :-1][answer], targets[answer]
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, len(targets), chunk_tokens):
        total = total + checkpoint(_summed_nll, head, states[start:start + chunk_tokens],
                                   targets[start:start + chunk_tokens], use_reentrant=False)
    return total / max(len(targets), 1)


def _summed_nll(head, states, targets):
    import torch.nn.functional as F

    return F.cross_entropy(head(states).float(), targets, reduction="sum")


def _answer_loss_trainer():
    from transformers import Trainer

    class AnswerLossTrainer(Trainer):
        loss_is_scaled_for_ga = False  # a mean over the batch's answer tokens

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_loss(model, inputs["input_ids"], inputs.get("attention_mask"),
                               inputs["labels"])
            # The validation pass asks for outputs; it reads only the loss
            # (prediction_loss_only, strategies/trainer.py)
            return (loss, {}) if return_outputs else loss

    return AnswerLossTrainer
