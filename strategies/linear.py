"""Logistic regression on fixed features, shared by the classic baselines."""

from __future__ import annotations

import numpy as np

from harness.api.strategy import Context, Predictions, predictions_from_scores


def fit_logistic_regression(features, labels, context: Context, C: float, max_iter: int):
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=C, max_iter=max_iter, random_state=context.seed)
    return classifier.fit(features, np.asarray(labels))


def predict_proba(classifier, features, num_labels: int) -> Predictions:
    """Probabilities over every label of the task, even those absent from the training rows."""
    probs = np.zeros((features.shape[0], num_labels))
    probs[:, classifier.classes_] = classifier.predict_proba(features)
    return predictions_from_scores(probs)
