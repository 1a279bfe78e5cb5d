"""A sequence-classification model on an encoder (or any model with such a head), and batched
inference with it, shared by the strategies that train one."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from harness.api.strategy import Context, Predictions, predictions_from_scores
from strategies.common import length_batches


def load_tokenizer(context: Context):
    """The model's tokenizer, with a pad token (decoders used as classifiers often lack one)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(context.model.local_path(),
                                              **context.model.load_kwargs())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_classifier(context: Context, **kwargs):
    from transformers import AutoModelForSequenceClassification

    task, path = context.task, context.model.local_path()
    tokenizer = load_tokenizer(context)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=task.num_labels, id2label=dict(enumerate(task.labels)),
        label2id={label: i for i, label in enumerate(task.labels)},
        # A checkpoint trained for another task carries a head of another size; replace it.
        ignore_mismatched_sizes=True, **context.model.load_kwargs(), **kwargs)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@torch.inference_mode()
def classify(model, tokenizer, texts: Sequence[str], max_length: int,
             max_batch_tokens: int = 16384) -> Predictions:
    """Class probabilities in length-sorted batches (little padding)."""
    model.eval()
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    probs = np.zeros((len(texts), model.config.num_labels))
    for batch in length_batches([len(ids) for ids in encoded], max_batch_tokens):
        inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
        logits = model(**inputs.to(model.device)).logits
        probs[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return predictions_from_scores(probs)
