"""Metrics against values computed by hand; bootstrap intervals and paired tests behave."""

import numpy as np
import pytest

from harness.metrics import (bootstrap_ci, classification_metrics, paired_bootstrap_pvalue,
                             trial_metrics)

LABELS = ("a", "b", "c")
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]
# By hand: class a: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
#          class b: TP 2, FP 1, FN 0 -> P 2/3, R 1,   F1 4/5
#          class c: TP 1, FP 0, FN 1 -> P 1,   R 1/2, F1 2/3
F1_BY_HAND = {"a": 0.5, "b": 0.8, "c": 2 / 3}


def test_classification_metrics_by_hand():
    metrics = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class_f1"] == pytest.approx(F1_BY_HAND)
    assert list(metrics["per_class_f1"]) == ["a", "b", "c"]
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # Rows are true labels, columns predictions.
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics["accuracy_ci_low"] <= metrics["accuracy"] <= metrics["accuracy_ci_high"]


def test_a_label_never_seen_still_counts_in_macro_f1_and_confusion():
    metrics = classification_metrics(Y_TRUE, Y_PRED, LABELS + ("d",))
    assert metrics["per_class_f1"]["d"] == 0.0
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3 + 0) / 4)
    assert np.array(metrics["confusion_matrix"]).shape == (4, 4)
    assert metrics["confusion_matrix"][3] == [0, 0, 0, 0]


def test_metrics_are_plain_python_values():
    metrics = classification_metrics(np.array(Y_TRUE), np.array(Y_PRED), LABELS)
    for key in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1"):
        assert type(metrics[key]) is float
    assert all(type(v) is float for v in metrics["per_class_f1"].values())
    assert all(type(v) is int for row in metrics["confusion_matrix"] for v in row)


def test_perfect_predictions():
    metrics = classification_metrics([0, 1, 2, 1], [0, 1, 2, 1], LABELS)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0
    assert (metrics["accuracy_ci_low"], metrics["accuracy_ci_high"]) == (1.0, 1.0)


def correct_vector(n: int, accuracy: float, seed: int = 0) -> np.ndarray:
    correct = np.zeros(n)
    correct[: round(n * accuracy)] = 1
    return np.random.default_rng(seed).permutation(correct)


def test_bootstrap_ci_contains_the_accuracy_and_narrows_with_more_rows():
    small, large = correct_vector(50, 0.7), correct_vector(2000, 0.7)
    low_s, high_s = bootstrap_ci(small)
    low_l, high_l = bootstrap_ci(large)
    assert low_s < 0.7 < high_s
    assert low_l < 0.7 < high_l
    assert high_l - low_l < (high_s - low_s) / 3  # width ~ 1/sqrt(n): about 6x narrower


def test_bootstrap_ci_width_matches_the_normal_approximation():
    n, p = 400, 0.7
    low, high = bootstrap_ci(correct_vector(n, p))
    expected_width = 2 * 1.96 * np.sqrt(p * (1 - p) / n)
    assert high - low == pytest.approx(expected_width, rel=0.2)


def test_bootstrap_ci_is_seeded():
    correct = correct_vector(100, 0.6)
    assert bootstrap_ci(correct, seed=3) == bootstrap_ci(correct, seed=3)
    assert bootstrap_ci(correct, resamples=450) != bootstrap_ci(correct, resamples=450, seed=1)


def test_paired_pvalue_is_one_for_identical_predictions():
    correct = correct_vector(200, 0.6)
    assert paired_bootstrap_pvalue(correct, correct) == pytest.approx(1.0)


def test_paired_pvalue_is_small_for_a_clearly_better_strategy():
    worse = correct_vector(300, 0.5, seed=1)
    better = np.maximum(worse, correct_vector(300, 0.8, seed=2))  # right wherever worse is, and more
    assert better.mean() - worse.mean() > 0.3
    p = paired_bootstrap_pvalue(better, worse)
    assert p <= 0.01
    assert paired_bootstrap_pvalue(worse, better) == pytest.approx(p)  # two-sided


def test_paired_pvalue_is_large_for_a_one_row_difference():
    a = correct_vector(300, 0.6)
    b = a.copy()
    b[np.flatnonzero(a == 0)[0]] = 1  # b gets a single extra row right
    assert paired_bootstrap_pvalue(b, a) > 0.2


def test_trial_metrics_average_the_trials_and_sum_their_confusions():
    y_true = np.array([0, 1, 1, 0, 1, 0])
    trials = [np.array([0, 1, 1, 0, 1, 0]), np.array([1, 1, 0, 0, 1, 1])]  # 1.0 and 0.5
    metrics = trial_metrics(y_true, trials, ["a", "b"])
    assert metrics["trials"] == 2 and metrics["trial_accuracies"] == [1.0, 0.5]
    assert metrics["accuracy"] == 0.75
    assert metrics["trial_accuracy_std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert np.sum(metrics["confusion_matrix"]) == 12
    assert metrics["accuracy_ci_low"] <= 0.75 <= metrics["accuracy_ci_high"]


def test_trial_metrics_of_one_trial_are_the_plain_metrics():
    y_true, y_pred = np.array([0, 1, 1]), np.array([0, 1, 0])
    assert trial_metrics(y_true, [y_pred], ["a", "b"]) == classification_metrics(
        y_true, y_pred, ["a", "b"])
