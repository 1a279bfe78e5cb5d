"""Classification metrics with honest uncertainty (scikit-learn; works offline).

    metrics = classification_metrics(y_true, y_pred, labels=task.labels)
    metrics["accuracy"], metrics["accuracy_ci_low"], metrics["accuracy_ci_high"]
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_ci(correct: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                 confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 vector (accuracy)."""
    correct = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    # Resample in chunks so memory stays small for large evaluation sets.
    for start in range(0, resamples, 200):
        stop = min(start + 200, resamples)
        idx = rng.integers(0, len(correct), size=(stop - start, len(correct)))
        means[start:stop] = correct[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Flat dict: accuracy with its 95% CI, macro-F1, per-class F1 and the confusion matrix."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    label_ids = list(range(len(labels)))
    low, high = bootstrap_ci(y_true == y_pred)
    per_class = f1_score(y_true, y_pred, labels=label_ids, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "macro_f1": float(f1_score(y_true, y_pred, labels=label_ids, average="macro",
                                   zero_division=0)),
        "per_class_f1": {name: float(f) for name, f in zip(labels, per_class)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=label_ids).tolist(),
    }


def trial_metrics(y_true, trial_preds: list, labels) -> dict:
    """Metrics over several prediction trials of the same rows (e.g. few-shot demonstration
    draws): the mean accuracy, its CI from resampling rows (each row's share of correct trials),
    the spread between trials, mean F1s and the summed confusion matrix."""
    if len(trial_preds) == 1:
        return classification_metrics(y_true, trial_preds[0], labels)
    y_true = np.asarray(y_true)
    each = [classification_metrics(y_true, pred, labels) for pred in trial_preds]
    accuracies = [m["accuracy"] for m in each]
    low, high = bootstrap_ci(np.mean([np.asarray(p) == y_true for p in trial_preds], axis=0))
    return {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "macro_f1": float(np.mean([m["macro_f1"] for m in each])),
        "per_class_f1": {name: float(np.mean([m["per_class_f1"][name] for m in each]))
                         for name in labels},
        "confusion_matrix": np.sum([m["confusion_matrix"] for m in each], axis=0).tolist(),
        "trials": len(trial_preds),
        "trial_accuracies": accuracies,
        "trial_accuracy_std": float(np.std(accuracies, ddof=1)),
    }


def paired_bootstrap_pvalue(correct_a, correct_b, resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = 0) -> float:
    """Two-sided p-value that strategies a and b, scored on the same rows, differ in accuracy."""
    diff = np.asarray(correct_a, float) - np.asarray(correct_b, float)
    observed = diff.mean()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    centred = diff[idx].mean(axis=1) - observed
    return float(min(1.0, (np.abs(centred) >= abs(observed)).mean() * 1.0 + 1 / resamples))
