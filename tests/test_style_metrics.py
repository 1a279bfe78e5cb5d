"""The style metrics beside the two-sample test: MAUVE near 1 between two halves of real text
and low between real text and modern prose; the hard-negative judge trained on the validation
works, separating real passages from pastiche-like and modern text, its AUC about 0.5 where
it cannot rank, and its negatives written once per task and model; AUC and the bootstrap
checked against scikit-learn and by coverage."""

import math

import numpy as np
import pandas as pd
import pytest

from harness.metrics import hard_negatives, stats
from harness.metrics.mauve_score import MIN_ROWS, mauve_score
from harness.metrics.text_features import embed


@pytest.fixture(scope="module")
def texts(data_dir):
    folder = data_dir / "shakespeare"
    real = [t for t in pd.read_csv(folder / "test.csv")["text"] if len(t.split()) >= 30]
    held_out = pd.read_csv(folder / "validation.csv")["text"].tolist()
    modern = pd.read_csv(folder / "contrast.csv")["text"].tolist()
    return real, held_out, modern


def test_auc_is_mann_whitney_with_ties_half():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    positive, negative = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 60).round(1)
    expected = roc_auc_score(np.r_[np.ones(40), np.zeros(60)], np.r_[positive, negative])
    assert stats.auc(positive, negative) == pytest.approx(expected, abs=1e-12)
    assert stats.auc([1.0], [1.0]) == 0.5 and math.isnan(stats.auc([], [1.0]))


def test_the_bootstrap_interval_covers_a_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        values = rng.exponential(1.0, 60)
        low, high = stats.bootstrap(lambda rows: values[rows].mean(), 60, 300, seed=2)
        covered += low <= 1.0 <= high
    assert 0.88 <= covered / 200 <= 0.99, covered


def test_mauve_is_high_between_halves_of_real_text_and_low_against_modern_prose(texts):
    real, _, modern = texts
    halves = mauve_score(embed(real[:60]), embed(real[60:120]), draws=50)
    apart = mauve_score(embed(real[:60]), embed(modern[:60]), draws=50)
    assert halves[0] > 0.8 and apart[0] < 0.2, (halves, apart)
    for value, low, high in (halves, apart):
        assert low <= value <= high
    assert math.isnan(mauve_score(embed(real[:MIN_ROWS - 1]), embed(modern[:MIN_ROWS - 1]))[0])


def _judge(real, held_out, modern) -> hard_negatives.HardJudge:
    # Negatives without a model: modern prose, and word-shuffled validation passages
    # standing in for pastiche (archaic words in an order Shakespeare did not write)
    rng = np.random.default_rng(0)
    shuffled = [" ".join(rng.permutation(t.split())) for t in held_out[200:400]]
    prompts_and_refs = [t.split(maxsplit=12) for t in held_out[:200]]
    return hard_negatives.hard_judge({
        "key": "test-judge", "references": [parts[-1] for parts in prompts_and_refs],
        "pastiche": shuffled, "modern": modern[:200]})


def test_the_hard_judge_ranks_real_text_above_its_negatives_and_not_above_real_text(texts):
    real, held_out, modern = texts
    judge = _judge(real, held_out, modern)
    summary = judge.summary()
    assert summary["hard_judge_n_positive"] == 200 and summary["hard_judge_n_negative"] == 400
    # Word-shuffled real passages are harder than any pastiche: their words are Shakespeare's
    assert summary["hard_judge_cv_auc"] > 0.75
    # Real test-play continuations against other real ones: it cannot rank them apart
    same = judge.compare(real[:80], real[80:160])
    assert same["hard_judge_auc_ci_low"] <= 0.5 <= same["hard_judge_auc_ci_high"], same
    assert abs(same["hard_judge_auc"] - 0.5) < 0.15
    # ... and against modern prose it always can; the written side's log-odds fall below
    apart = judge.compare(real[:80], modern[300:380])
    assert apart["hard_judge_auc"] > 0.9 and apart["hard_judge_auc_ci_low"] > 0.8, apart
    assert apart["hard_judge_log_odds"] < apart["hard_judge_reference_log_odds"]
    assert apart["hard_judge_log_odds_ci_low"] <= apart["hard_judge_log_odds"] <= \
        apart["hard_judge_log_odds_ci_high"]


def test_the_judge_compares_texts_cut_to_the_same_length():
    real, negative = hard_negatives.training_texts({
        "key": "k", "references": ["one two three four five six", "alpha beta"],
        "pastiche": ["a b c", ""], "modern": ["w x y z v u t", "gamma"]})
    assert real == ["one two three"] and negative == ["a b c", "w x y"]


def test_too_few_texts_give_no_judge_and_no_number():
    judge = hard_negatives.hard_judge({"key": "few", "references": ["a b c"],
                                       "pastiche": ["d e f"], "modern": ["g h i"]})
    assert judge.pipeline is None and math.isnan(judge.summary()["hard_judge_cv_auc"])
    assert math.isnan(judge.compare(["a b"], ["c d"])["hard_judge_auc"])


def test_the_number_of_passages_is_a_positive_integer(monkeypatch):
    from harness.errors import HarnessError

    monkeypatch.setenv(hard_negatives.PASSAGES_ENV, "12")
    assert hard_negatives.passage_count() == 12
    for bad in ("0", "-3", "many"):
        monkeypatch.setenv(hard_negatives.PASSAGES_ENV, bad)
        with pytest.raises(HarnessError, match="HARNESS_JUDGE_PASSAGES must be a positive"):
            hard_negatives.passage_count()
