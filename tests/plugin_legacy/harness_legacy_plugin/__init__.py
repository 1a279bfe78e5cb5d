"""legacy-naive-bayes: multinomial naive Bayes on word and bigram counts (scikit-learn), written
against the import paths of before harness.api and kept so: it must keep working until they go
(harness/_compat.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.data import Split
from harness.resources import Resources
from harness.strategy import Context, Footprint, Predictions, predictions_from_scores
from harness.tasks import Task


@dataclass
class NaiveBayesConfig:
    alpha: float = 0.5  # additive smoothing of the word counts
    max_ngram: int = 2  # word n-grams from 1 to this


class NaiveBayes:
    name = "legacy-naive-bayes"
    description = "Multinomial naive Bayes on word/bigram counts (plugin on the old paths)."
    config_class = NaiveBayesConfig
    task_kinds = ("classification",)
    model_kind = None  # no pretrained model
    backends = ("scikit-learn",)  # what runs it; the first is the default
    devices = ("cpu",)  # never uses a GPU, so it is measured and priced as a CPU cell
    multi_task = False  # trains on one task at a time
    trials = 1  # one prediction per row
    deterministic = True  # no random draw: run for one seed only, whatever --seeds says
    uses_training_rows = True  # False would give fit() no rows and run one data seed only
    # What one cell needs: no GPU, one core, a little memory (no pretrained model to hold).
    resources = Resources(gpus=0, cpus=1, memory_gib=0.5, model_memory_multiple=0)
    inference_variants = ()  # only its own way of predicting (harness/inference.py)
    runs_strategies = ()  # runs no other strategy (harness/strategy.py)

    def __init__(self, config: NaiveBayesConfig, context: Context):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.naive_bayes import MultinomialNB

        self.context = context
        self.vectorizer = CountVectorizer(ngram_range=(1, config.max_ngram))
        self.classifier = MultinomialNB(alpha=config.alpha)

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        (_, train), = tasks
        self.classifier.fit(self.vectorizer.fit_transform(train.texts), train.labels)

    def prepare(self) -> None:
        """Nothing one-off before predicting."""

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        log_probs = np.full((len(texts), task.num_labels), -np.inf)
        features = self.vectorizer.transform(list(texts))
        log_probs[:, self.classifier.classes_] = self.classifier.predict_log_proba(features)
        return predictions_from_scores(np.maximum(log_probs, -1e9))  # finite for unseen labels

    def footprint(self) -> Footprint:
        n = self.classifier.feature_log_prob_.size + self.classifier.class_log_prior_.size
        return Footprint(trainable_params=n, total_params=n)

    def export(self, folder: Path) -> None:
        """What a deployment loads: the fitted vectorizer and classifier."""
        import joblib

        joblib.dump((self.vectorizer, self.classifier), folder / "naive_bayes.joblib")
