"""Sentence embeddings for the style metrics: MAUVE's features (harness.metrics.mauve_score)
and the two-sample test's second view of a text (harness.metrics.two_sample). The encoder is
the default encoder preset (all-MiniLM-L6-v2: offline from its package, else the hub), mean-
pooled over tokens and L2-normalised, as the embedding-probe strategy reads texts; on the CPU,
once per process. A local encoder rather than MAUVE's GPT-2 large: it loads offline in a
second, and the same one judges every strategy of every model.

    vectors = embed(["To be, or not to be", "Stocks fell"])   # (2, 384) float32, unit rows
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from harness.api.batching import length_batches
from harness.environment import quiet_libraries
from harness.inputs.models import DEFAULT_MODELS, resolve_model

ENCODER = DEFAULT_MODELS["encoder"]
# Continuations are 48 new tokens by default; a reference cut to their length is no longer.
MAX_TOKENS = 256
BATCH_TOKENS = 8192


@functools.lru_cache(maxsize=2)
def _encoder(name: str):
    from transformers import AutoModel, AutoTokenizer

    spec = resolve_model(name)
    with quiet_libraries():
        tokenizer = AutoTokenizer.from_pretrained(spec.local_path(), **spec.load_kwargs())
        model = AutoModel.from_pretrained(spec.local_path(), **spec.load_kwargs()).eval()
    return tokenizer, model


def embed(texts: Sequence[str], encoder: str = ENCODER) -> np.ndarray:
    """One unit vector per text; an empty text gets the encoder's vector of no words."""
    import torch

    tokenizer, model = _encoder(encoder)
    encoded = tokenizer([str(t) for t in texts], truncation=True,
                        max_length=MAX_TOKENS)["input_ids"]
    out = np.zeros((len(encoded), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for batch in length_batches([len(ids) for ids in encoded], BATCH_TOKENS):
            inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]},
                                   return_tensors="pt")
            hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[batch] = torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
    return out
