"""Which training rows few-shot puts before each question. Sun et al. (2023, Text Classification
via Large Language Models) found the choice matters: AG News with 16 demonstrations, random 91.7,
SimCSE nearest neighbours 93.5, fine-tuned-encoder nearest neighbours 94.1.

- `random`: k_per_class rows of every label, drawn once per trial and shared by every row
  (strategies/few_shot.py `_draw`, unchanged).
- `knn-tfidf`: per evaluation row, the k training rows nearest by tf-idf cosine (a
  TfidfVectorizer fitted on the training rows only).
- `knn-embed`: per evaluation row, the k nearest by cosine of the mean-pooled embeddings of an
  encoder (embedding-probe's own `embed`, on the `embed_model` encoder).

    knn = NearestRows("knn-tfidf", "ascending", k=4, context=context)
    knn.fit(train)                              # only training rows are ever searched
    knn.nearest(["Stocks fell ..."])            # (1, 4) training row indices, nearest first
    knn.rows(["Stocks fell ..."], trial=0)      # per text, its rows in prompt order

Ties are broken by the lower training row, so the choice never depends on the batch. An
evaluation text equal to a training text finds that row first: it is a training row, and the
paper's search over the training set does the same.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.inputs.data import Split
from harness.errors import HarnessError
from harness.inputs.models import DEFAULT_MODELS, ModelSpec, resolve_model
from harness.api.strategy import Context, Footprint
from strategies.common import save_sklearn, torch_footprint

SELECTORS = ("random", "knn-tfidf", "knn-embed")
ORDERS = ("random", "ascending")
SIMILARITIES_PER_CHUNK = 8_000_000  # (rows x training rows) floats held at once: 64 MB


def embed_model_spec(name: str) -> ModelSpec:
    """The encoder of knn-embed: "encoder" is the encoder preset, else a preset, hub id or
    folder (a HarnessError names an unknown one)."""
    return resolve_model(DEFAULT_MODELS["encoder"] if name == "encoder" else name)


class NearestRows:
    """kNN demonstrations: per text, the k training rows most similar to it by cosine, in the
    prompt order `order`, whatever their labels (as Sun et al.)."""

    def __init__(self, selector: str, order: str, k: int, context: Context,
                 embed_model: str = "encoder"):
        self.selector, self.order, self.k, self.seed = selector, order, k, context.seed
        self.vectorizer, self.probe, self.embed_model = None, None, None
        if selector == "knn-tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            # l2-normalised rows: a dot product is the cosine
            self.vectorizer = TfidfVectorizer(sublinear_tf=True)
        elif selector == "knn-embed":
            from strategies.embedding_probe import EmbeddingProbe, EmbeddingProbeConfig

            # The probe lends its encoder and mean pooling (unit-length embeddings: a dot
            # product is the cosine); its classifier is never fitted.
            self.embed_model = embed_model_spec(embed_model)
            encoder = dataclasses.replace(context, model=self.embed_model)
            self.probe = EmbeddingProbe(EmbeddingProbeConfig(normalize=True), encoder)
        else:
            raise ValueError(f"no nearest-row search for selector {selector!r}")
        self.train: Split | None = None
        self.matrix = None  # (training rows, features)

    def deployed_with(self, footprint: Footprint) -> Footprint:
        """The decoder's footprint with knn-embed's encoder added: it is deployed too."""
        if self.probe is None:
            return footprint
        encoder = torch_footprint(self.probe.encoder, frozen=True)
        weights = footprint.weight_bytes
        return dataclasses.replace(
            footprint, total_params=footprint.total_params + encoder.total_params,
            weight_bytes=None if weights is None else weights + encoder.weight_bytes,
            extra={**footprint.extra, "embed_params": encoder.total_params})

    def fit(self, train: Split) -> None:
        if len(train) < self.k:
            raise HarnessError(f"few-shot.selector={self.selector} needs {self.k} training "
                               f"rows, found {len(train)}")
        self.train = train
        self.matrix = self._vectors(train.texts, fit=True)

    def _vectors(self, texts: Sequence[str], fit: bool = False):
        if self.vectorizer is None:
            return self.probe.embed(list(texts))
        if fit:
            return self.vectorizer.fit_transform(list(texts))
        return self.vectorizer.transform(list(texts))

    def nearest(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), k) training row indices, the most similar first."""
        queries, size = self._vectors(texts), self.matrix.shape[0]
        out = np.empty((len(texts), self.k), dtype=np.int64)
        step = max(1, SIMILARITIES_PER_CHUNK // size)
        for start in range(0, len(texts), step):
            similar = queries[start:start + step] @ self.matrix.T
            similar = similar.toarray() if hasattr(similar, "toarray") else similar
            for row, scores in enumerate(np.asarray(similar, dtype=np.float64)):
                out[start + row] = top_k(scores, self.k)
        return out

    def rows(self, texts: Sequence[str], trial: int = 0) -> list[list[int]]:
        """Per text, its demonstrations' training rows in prompt order."""
        return [arrange(nearest, self.order, self.seed, trial, text)
                for text, nearest in zip(texts, self.nearest(texts))]

    def export(self, folder: Path, label_words: Sequence[str], **settings) -> None:
        """What a deployment needs besides the models: the settings, the training rows searched
        (never evaluation rows) and the index: the fitted vectorizer, or the rows' embeddings."""
        settings = {"selector": self.selector, "order": self.order, "k": self.k,
                    "seed": self.seed, **settings}
        if self.embed_model is not None:
            settings["embed_model"] = {"name": self.embed_model.name,
                                       "source": self.embed_model.source}
        (folder / "selector.json").write_text(json.dumps(settings, indent=1))
        pool = {"texts": list(self.train.texts),
                "labels": [label_words[int(y)] for y in self.train.labels]}
        (folder / "demonstration_pool.json").write_text(json.dumps(pool))
        if self.vectorizer is not None:
            save_sklearn(folder, vectorizer=self.vectorizer)
        else:
            np.save(folder / "train_embeddings.npy", self.matrix)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first; equal scores by the lower index."""
    if k < len(scores):
        threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(len(scores))
    ranked = candidates[np.lexsort((candidates, -scores[candidates]))]
    return ranked[:k]


def arrange(nearest_first: np.ndarray, order: str, seed: int, trial: int,
            text: str) -> list[int]:
    """The neighbours in prompt order. ascending: the most similar last, next to the question
    (Sun et al.); random: shuffled by the seed, the trial and the text itself, so a row gets the
    same prompt however the rows are batched."""
    if order == "ascending":
        return [int(i) for i in nearest_first[::-1]]
    rng = np.random.default_rng([seed, trial, zlib.crc32(text.encode("utf-8"))])
    return [int(i) for i in rng.permutation(nearest_first)]
