"""Soft labels: a teacher's scores as probability distributions, and a sequence-classification
model trained on such distributions with the transformers Trainer (strategies/distill.py).

    targets = teacher_distribution(predictions.scores, temperature=2.0)   # (n, num_labels)
    train_on_distributions(model, tokenizer, texts, targets, config, context)

The loss is the cross-entropy between the target distribution and the model's softmax, the
gradient of KL(target || model); one-hot targets make it the usual cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.metrics.stats import probabilities, softmax
from harness.api.strategy import Context
from strategies.trainer import TrainingLog, run_trainer


def teacher_distribution(scores, temperature: float = 1.0) -> np.ndarray:
    """Rows of probabilities from a strategy's scores (Predictions.scores: probabilities, or
    log-probabilities and other logits, told apart by harness.metrics.stats.probabilities),
    tempered: p ** (1 / temperature) renormalised, flatter above 1, sharper below. A score of -inf is a
    probability of 0; a row with NaN, +inf or no finite score says nothing: uniform."""
    scores = np.asarray(scores, dtype=np.float64)
    usable = np.isfinite(scores).any(axis=1) & ~(np.isnan(scores) | np.isposinf(scores)).any(axis=1)
    probs = np.full(scores.shape, 1.0 / scores.shape[1])
    if usable.any():
        probs[usable] = probabilities(scores[usable])
    if temperature == 1.0:
        return probs
    # In log space: p ** 100 underflows to 0 for every label of a row, its log does not.
    with np.errstate(divide="ignore"):
        return softmax(np.log(probs) / temperature)


def one_hot(probs: np.ndarray) -> np.ndarray:
    """Each row's most likely label as a distribution: hard labels through the same loss."""
    return np.eye(probs.shape[1])[np.asarray(probs).argmax(axis=1)]


def soft_cross_entropy(logits, targets):
    """Mean over rows of -sum_k target_k log softmax(logits)_k, in float32 whatever the
    autocast dtype of the logits."""
    import torch

    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -(targets.float() * log_probs).sum(dim=-1).mean()


def train_on_distributions(model, tokenizer, texts: Sequence[str], targets: np.ndarray, config,
                           context: Context) -> TrainingLog:
    """`config`: a ClassifierTraining; `targets` one distribution over the model's labels per
    text."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding

    rows = Dataset.from_dict({"text": list(texts),
                              "labels": np.asarray(targets, dtype=np.float32).tolist()})
    rows = rows.map(lambda b: tokenizer(b["text"], truncation=True, max_length=config.max_length),
                    batched=True, remove_columns=["text"])
    return run_trainer(model, config, context, rows, DataCollatorWithPadding(tokenizer),
                       trainer_class=_trainer_class())


def _trainer_class():
    """The Trainer with the soft-target loss; built on first use, so that importing this module
    does not import transformers."""
    from transformers import Trainer

    class SoftTargetTrainer(Trainer):
        # A per-batch mean: the Trainer divides it by the gradient accumulation steps.
        loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # Popped: given float labels, the model would pick a multi-label loss of its own.
            targets = inputs.pop("labels")
            outputs = model(**inputs)
            loss = soft_cross_entropy(outputs.logits, targets)
            return (loss, outputs) if return_outputs else loss

    return SoftTargetTrainer
