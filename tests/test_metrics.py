"""A record's metrics against values computed by hand: per-class lists in the task's label
order, macro-F1 over classes with rows, calibration from the stored scores, trials."""

import json

import numpy as np
import pytest

from harness.metrics.classification import record_metrics
from harness.metrics.stats import Clustered, wilson

LABELS = ("sadness", "joy", "anger")  # not alphabetical: order must survive sorted JSON
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]
# By hand: sadness: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
#          joy:     TP 2, FP 1, FN 0 -> P 2/3, R 1,   F1 4/5
#          anger:   TP 1, FP 0, FN 1 -> P 1,   R 1/2, F1 2/3


def one_hot_scores(pred, k=3, confidence=0.8):
    scores = np.full((len(pred), k), (1 - confidence) / (k - 1))
    scores[np.arange(len(pred)), pred] = confidence
    return scores


def test_record_metrics_by_hand_in_task_label_order():
    m = record_metrics(Y_TRUE, [Y_PRED], [one_hot_scores(Y_PRED)], LABELS)
    assert m["labels"] == list(LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_precision"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert m["per_class_recall"] == pytest.approx([0.5, 1.0, 0.5])
    assert m["per_class_f1"] == pytest.approx([0.5, 0.8, 2 / 3])
    assert m["per_class_support"] == [2, 2, 2]
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["prediction_shares"] == pytest.approx([2 / 6, 3 / 6, 1 / 6])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows true, cols predicted
    assert (m["accuracy_ci_low"], m["accuracy_ci_high"]) == pytest.approx(wilson(4, 6))
    # Every row confident at 0.8 with 4 of 6 right: ECE |4/6 - 0.8|.
    assert m["ece"] == pytest.approx(0.8 - 4 / 6)
    assert m["brier"] == pytest.approx((4 * (0.2 ** 2 + 2 * 0.1 ** 2)
                                        + 2 * (0.8 ** 2 + 0.9 ** 2 + 0.1 ** 2)) / 6)
    assert m["nll"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6)
    # Plain JSON values whose order is the list order, whatever sort_keys does.
    assert json.loads(json.dumps(m, sort_keys=True))["per_class_f1"] == m["per_class_f1"]


def test_perfect_predictions_with_one_class_absent():
    m = record_metrics([0, 1, 0, 1], [[0, 1, 0, 1]], [one_hot_scores([0, 1, 0, 1])], LABELS)
    assert m["macro_f1"] == 1.0  # the absent class is not an F1 of 0
    assert m["per_class_f1"] == [1.0, 1.0, None] and m["per_class_support"] == [2, 2, 0]
    assert (m["accuracy_ci_low"], m["accuracy_ci_high"]) == pytest.approx((wilson(4, 4)[0], 1))
    assert m["accuracy_ci_low"] < 1.0


def test_log_probability_scores_are_turned_into_probabilities():
    probs = one_hot_scores(Y_PRED)
    from_logs = record_metrics(Y_TRUE, [Y_PRED], [np.log(probs) - 3.0], LABELS)
    from_probs = record_metrics(Y_TRUE, [Y_PRED], [probs], LABELS)
    for name in ("ece", "brier", "nll"):
        assert from_logs[name] == pytest.approx(from_probs[name])


def test_trials_average_metrics_sum_confusions_and_get_the_two_level_interval():
    y_true = np.array([0, 1, 1, 0, 1, 0])
    trials = [np.array([0, 1, 1, 0, 1, 0]), np.array([1, 1, 0, 0, 1, 1])]  # 1.0 and 0.5
    scores = [one_hot_scores(t, k=2, confidence=0.9) for t in trials]
    m = record_metrics(y_true, trials, scores, ["neg", "pos"])
    assert m["trials"] == 2 and m["trial_accuracies"] == [1.0, 0.5]
    assert m["accuracy"] == 0.75
    assert m["trial_accuracy_std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert np.sum(m["confusion_matrix"]) == 12
    assert m["prediction_shares"] == pytest.approx([5 / 12, 7 / 12])
    expected = Clustered.of(np.array([t == y_true for t in trials])).interval()
    assert (m["accuracy_ci_low"], m["accuracy_ci_high"]) == (expected.low, expected.high)
    assert m["ece"] == pytest.approx(np.mean([0.1, 0.4]))  # per trial, then the mean
    # Cohen's kappa per trial (1 and, with 3 of 6 right against 3 of 6 by chance, 0).
    assert m["cohen_kappa"] == pytest.approx(np.mean([1.0, 0.0]))


def test_one_trial_has_no_trial_spread():
    m = record_metrics([0, 1, 1], [[0, 1, 0]], [one_hot_scores([0, 1, 0], k=2)], ["a", "b"])
    assert m["trials"] == 1 and m["trial_accuracy_std"] is None
    assert all(type(m[k]) is float for k in ("accuracy", "accuracy_ci_low", "macro_f1", "ece"))
    assert all(type(v) is int for row in m["confusion_matrix"] for v in row)
