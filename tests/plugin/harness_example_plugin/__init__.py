"""naive-bayes: multinomial naive Bayes on word and bigram counts (scikit-learn). Written as a
plugin author would: imports from `harness.api`, StrategyBase's defaults, and only what differs
from them declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.api import (
    Context,
    Footprint,
    Predictions,
    Resources,
    Split,
    StrategyBase,
    Task,
    above,
    at_least,
    predictions_from_scores,
)


@dataclass
class NaiveBayesConfig:
    alpha: float = field(default=0.5, metadata={"help": "additive smoothing of the word counts"})
    max_ngram: int = field(default=2, metadata={"help": "word n-grams from 1 to this"})

    def __post_init__(self):
        above(self, 0, "alpha")
        at_least(self, 1, "max_ngram")


class NaiveBayes(StrategyBase):
    name = "naive-bayes"
    description = "Multinomial naive Bayes on word/bigram counts (example plugin)."
    config_class = NaiveBayesConfig
    model_kind = None  # no pretrained model
    backends = ("scikit-learn",)  # what runs it
    devices = ("cpu",)  # never uses a GPU, so it is measured and priced as a CPU cell
    deterministic = True  # no random draw: run for one seed only, whatever --seeds says
    # What one cell needs: no GPU, one core, a little memory (no pretrained model to hold).
    resources = Resources(gpus=0, cpus=1, memory_gib=0.5, model_memory_multiple=0)

    def __init__(self, config: NaiveBayesConfig, context: Context):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.naive_bayes import MultinomialNB

        self.context = context
        self.vectorizer = CountVectorizer(ngram_range=(1, config.max_ngram))
        self.classifier = MultinomialNB(alpha=config.alpha)

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        (_, train), = tasks
        self.classifier.fit(self.vectorizer.fit_transform(train.texts), train.labels)

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


from harness_example_plugin.style_preamble import StylePreamble  # noqa: E402,F401 - an entry point
