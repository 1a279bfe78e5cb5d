"""The metrics of one run record, from its predictions (every trial) and stored scores; every
number comes from harness.metrics.stats, and those averaged over trials are the catalog's
`per_trial` metrics (harness.metrics.catalog): a new one is a row there, not a line here.

    metrics = record_metrics(y_true, trial_labels, trial_scores, labels=task.labels)
    metrics["accuracy"], metrics["accuracy_ci_low"], metrics["accuracy_ci_high"]

Per-class values are lists aligned with `labels` (the task's order): records are stored as JSON
with sorted keys, so a dict keyed by label would lose that order.
"""

from __future__ import annotations

import numpy as np

from harness.metrics import catalog, stats


def record_metrics(y_true, trial_labels: list, trial_scores: list, labels) -> dict:
    """Flat dict for a record. With several trials (few-shot demonstration draws) every metric
    is the mean over trials, the confusion matrix their sum, and the accuracy interval the
    two-level one over trials x rows (harness.metrics.stats); with one trial Wilson's."""
    y_true = np.asarray(y_true, dtype=np.int64)
    k = len(labels)
    trial_labels = [np.asarray(t, dtype=np.int64) for t in trial_labels]
    correct = np.array([t == y_true for t in trial_labels])
    interval = stats.Clustered.of(correct).interval()
    accuracies = correct.mean(axis=1)
    each = [stats.per_class(y_true, t, k) for t in trial_labels]
    probs = [stats.probabilities(s) for s in trial_scores]
    shares = np.bincount(np.concatenate(trial_labels), minlength=k) / max(correct.size, 1)
    return {
        "labels": list(labels),
        "accuracy": float(accuracies.mean()),
        "accuracy_ci_low": interval.low, "accuracy_ci_high": interval.high,
        **_per_trial(y_true, trial_labels, probs, k),
        **{f"per_class_{name}": _mean_lists([e[name] for e in each])
           for name in ("precision", "recall", "f1")},
        "per_class_support": each[0]["support"],
        "prediction_shares": [float(s) for s in shares],
        "confusion_matrix": sum(stats.confusion(y_true, t, k) for t in trial_labels).tolist(),
        "trials": len(trial_labels),
        "trial_accuracies": [float(a) for a in accuracies],
        "trial_accuracy_std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None,
    }


def _per_trial(y_true, trial_labels: list, probs: list, k: int) -> dict:
    """Each per-trial metric of the catalog, averaged over the trials where it is defined."""
    out = {}
    for metric in catalog.own(catalog.CLASSIFICATION):
        if metric.per_trial is None:
            continue
        reads, name = metric.per_trial
        function = getattr(stats, name)
        out[metric.name] = _mean([function(y_true, t, k) for t in trial_labels]
                                 if reads == "labels" else [function(p, y_true) for p in probs])
    return out


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(values)) if values else None


def _mean_lists(lists) -> list:
    """Element-wise mean of per-class lists over trials; None where no trial defines it."""
    return [_mean(column) for column in zip(*lists)]
