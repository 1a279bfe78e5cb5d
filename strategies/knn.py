"""knn: the k training rows nearest to a text (cosine of the frozen encoder's mean-pooled
embeddings, as few-shot's `selector=knn-embed` finds its demonstrations) vote for its label.
No model learns anything: it is the baseline that says how much of a retrieved-demonstrations
gain the neighbours' labels alone explain.

    harness run --strategies knn,few-shot -t agnews -c few-shot.selector=knn-embed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.api.search import Choice, IntRange
from harness.api import Footprint, Predictions, Split, Task, at_least, predictions_from_scores
from strategies.common import only_task, torch_footprint
from strategies.embedding_probe import EmbeddingProbe, EmbeddingProbeConfig


@dataclass
class KnnConfig(EmbeddingProbeConfig):
    # few-shot's kNN prompts hold k_per_class x labels demonstrations: 8 on AG News by default.
    k: int = field(default=8, metadata={"help": "nearest training rows that vote"})
    weighted: bool = field(default=True, metadata={
        "help": "each vote counts its cosine similarity (else 1)"})

    def __post_init__(self):
        super().__post_init__()
        at_least(self, 1, "k")


class Knn(EmbeddingProbe):
    name = "knn"
    description = "The k nearest training rows (frozen encoder embeddings) vote for the label."
    config_class = KnnConfig
    search_space = {"k": IntRange(1, 32, log=True), "weighted": Choice(True, False)}

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        _, train = only_task(tasks)
        self.index, self.index_labels = self._unit_embed(train.texts), np.asarray(train.labels)

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        similarity = self._unit_embed(texts) @ self.index.T  # cosine
        k = min(self.config.k, similarity.shape[1])
        # A stable sort on -similarity breaks ties towards the lower row, as few-shot's kNN does.
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        weights = (np.take_along_axis(similarity, nearest, axis=1).clip(min=0)
                   if self.config.weighted else np.ones(nearest.shape))
        votes = np.zeros((len(texts), task.num_labels))
        np.add.at(votes, (np.arange(len(texts))[:, None], self.index_labels[nearest]), weights)
        totals = votes.sum(axis=1, keepdims=True)
        # Shares of the vote are the scores; a row whose neighbours all have similarity <= 0
        # (weighted) gets a uniform vote rather than a division by zero.
        shares = np.where(totals > 0, votes / np.where(totals > 0, totals, 1),
                          1 / task.num_labels)
        return predictions_from_scores(shares)

    def footprint(self) -> Footprint:
        encoder = torch_footprint(self.encoder, frozen=True)
        return Footprint(trainable_params=0, total_params=encoder.total_params,
                         weight_bytes=encoder.weight_bytes,
                         extra={"index_rows": int(len(self.index_labels))})

    def _unit_embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings: `normalize` gives them already, else they are scaled here
        (once for the index, in fit, not at every prediction)."""
        vectors = self.embed(texts)
        if self.config.normalize:
            return vectors
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def export(self, folder: Path) -> None:
        """The index a deployment searches: every training row's embedding and label."""
        np.save(folder / "index_embeddings.npy", self.index)
        np.save(folder / "index_labels.npy", self.index_labels)
