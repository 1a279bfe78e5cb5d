"""naive-bayes: multinomial naive Bayes on word and bigram counts (scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.data import Split
from harness.strategy import Context, Footprint, Predictions, predictions_from_scores


@dataclass
class NaiveBayesConfig:
    alpha: float = 0.5  # additive smoothing of the word counts
    max_ngram: int = 2  # word n-grams from 1 to this


class NaiveBayes:
    name = "naive-bayes"
    description = "Multinomial naive Bayes on word/bigram counts (example plugin)."
    config_class = NaiveBayesConfig
    model_kind = None  # no pretrained model

    def __init__(self, config: NaiveBayesConfig, context: Context):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.naive_bayes import MultinomialNB

        self.context = context
        self.vectorizer = CountVectorizer(ngram_range=(1, config.max_ngram))
        self.classifier = MultinomialNB(alpha=config.alpha)

    def fit(self, train: Split) -> None:
        self.classifier.fit(self.vectorizer.fit_transform(train.texts), train.labels)

    def predict(self, texts: Sequence[str]) -> Predictions:
        log_probs = np.full((len(texts), self.context.task.num_labels), -np.inf)
        features = self.vectorizer.transform(list(texts))
        log_probs[:, self.classifier.classes_] = self.classifier.predict_log_proba(features)
        return predictions_from_scores(np.maximum(log_probs, -1e9))  # finite for unseen labels

    def footprint(self) -> Footprint:
        n = self.classifier.feature_log_prob_.size + self.classifier.class_log_prior_.size
        return Footprint(trainable_params=n, total_params=n)
