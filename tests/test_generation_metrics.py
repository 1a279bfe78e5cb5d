"""Generation metrics: hand-computed values, degenerate inputs (empty continuations, one row,
one trial) and the intervals' sanity (they hold the estimate, narrow with rows, and equal
textbook ones where those apply)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from harness.metrics.generation import (_distinct_jackknife, generation_metrics, ngrams,
                                        repetition_rate, words)

WITH_INTERVALS = ("perplexity", "style_accuracy", "fluency_perplexity", "distinct_1",
                  "distinct_2", "repetition_rate", "chrf")
FIELDS = {*WITH_INTERVALS, *(f"{name}_ci_{end}" for name in WITH_INTERVALS
                             for end in ("low", "high")),
          "style_score", "trials", "trial_style_accuracies", "trial_perplexities"}


def _metrics(continuations, references=None, nll=None, tokens=None, style=None):
    """Metrics with defaults for what a test does not look at."""
    shape = (len(continuations), len(continuations[0]))
    references = references or ["a reference text"] * shape[1]
    ones = np.ones(shape)
    return generation_metrics(references, continuations,
                              ones if nll is None else nll, ones if tokens is None else tokens,
                              ones, ones, np.full(shape, 0.9) if style is None else style)


def test_fields_are_the_contracts():
    assert set(_metrics([["a b c", "d e f"]])) == FIELDS


def test_perplexity_is_token_weighted_and_pools_trials():
    one = _metrics([["x", "y"]], nll=[[2.0, 4.0]], tokens=[[1, 3]])
    assert one["perplexity"] == pytest.approx(math.exp(6 / 4))
    two = _metrics([["x", "y"]] * 2, nll=[[2.0, 4.0], [1.0, 1.0]], tokens=[[1, 3], [1, 3]])
    assert two["perplexity"] == pytest.approx(math.exp(8 / 8))
    assert two["trial_perplexities"] == pytest.approx([math.exp(1.5), math.exp(0.5)])
    assert two["trials"] == 2


def test_perplexity_interval_is_the_t_interval_of_nll_per_token_when_tokens_are_equal():
    rng = np.random.default_rng(0)
    nll = rng.gamma(4.0, 10.0, size=40)
    tokens = np.full(40, 20.0)
    got = _metrics([["x"] * 40], nll=[nll], tokens=[tokens])
    per_token = nll / 20
    half = scipy_stats.t.ppf(0.975, 39) * per_token.std(ddof=1) / np.sqrt(40)
    assert got["perplexity_ci_low"] == pytest.approx(math.exp(per_token.mean() - half))
    assert got["perplexity_ci_high"] == pytest.approx(math.exp(per_token.mean() + half))


def test_distinct_n_of_tiny_corpora():
    got = _metrics([["a b c", "A b d."]])
    assert got["distinct_1"] == pytest.approx(4 / 6)  # a b c d of a b c a b d
    assert got["distinct_2"] == pytest.approx(3 / 4)  # ab bc bd of ab bc ab bd
    two = _metrics([["a b", "c d"], ["a a", "a a"]])  # 4/4 and 1/4: the mean over trials
    assert two["distinct_1"] == pytest.approx((1 + 0.25) / 2)
    assert words("Determin'd, O'er-Much!") == ["determin'd", "o'er", "much"]


def test_distinct_jackknife_matches_leaving_each_row_out():
    rows = ["the cat sat on the mat", "the dog sat", "a cat and a dog", "mat mat mat", "on"]
    grams = [ngrams(words(text), 2) for text in rows]
    theta, pseudo = _distinct_jackknife(grams)

    def distinct(subset):
        flat = [g for row in subset for g in row]
        return len(set(flat)) / len(flat)

    n = len(rows)
    without = [distinct(grams[:i] + grams[i + 1:]) for i in range(n)]
    assert theta == pytest.approx(distinct(grams))
    assert pseudo == pytest.approx([n * theta - (n - 1) * w for w in without])


def test_repetition_rate():
    assert repetition_rate("a b c a b c a b c") == pytest.approx(4 / 7)
    assert repetition_rate("one two three four") == 0.0
    assert math.isnan(repetition_rate("too short"))
    # The mean over continuations that have 3-grams: the short one does not count.
    assert _metrics([["a b c a b c a b c", "x y"]])["repetition_rate"] == pytest.approx(4 / 7)


def test_chrf():
    got = _metrics([["to be or not to be", ""]], references=["to be or not to be", "anything"])
    assert got["chrf"] == pytest.approx(50.0)  # 100 for the identical one, 0 for the empty one


def test_style_accuracy_and_score():
    got = _metrics([["a", "b", "c", "d"]], style=[[0.9, 0.6, 0.4, 0.1]])
    assert got["style_accuracy"] == 0.5 and got["style_score"] == pytest.approx(0.5)
    assert got["trial_style_accuracies"] == [0.5]
    assert 0 < got["style_accuracy_ci_low"] < 0.5 < got["style_accuracy_ci_high"] < 1


def test_empty_continuations_give_nan_not_errors():
    got = generation_metrics(["a reference", "another"], [["", ""], ["", " "]],
                             np.ones((2, 2)), np.ones((2, 2)), np.zeros((2, 2)),
                             np.zeros((2, 2)), np.full((2, 2), 0.01))
    for name in ("fluency_perplexity", "distinct_1", "distinct_2", "repetition_rate"):
        assert math.isnan(got[name]) and math.isnan(got[f"{name}_ci_low"]), name
    assert got["chrf"] == 0.0 and got["style_accuracy"] == 0.0
    assert got["perplexity"] == pytest.approx(math.e)


def test_one_row_one_trial():
    got = generation_metrics(["to be or not"], [["to be or not to be, that is"]], [3.0], [2],
                             [4.0], [8], [0.8])
    assert got["perplexity"] == pytest.approx(math.exp(1.5))
    assert got["fluency_perplexity"] == pytest.approx(math.exp(0.5))
    assert got["distinct_1"] == pytest.approx(6 / 8)
    # Wilson's interval for the one 0/1 row; the others need two rows to say anything.
    assert got["style_accuracy"] == 1.0 and got["style_accuracy_ci_high"] == 1.0
    assert got["style_accuracy_ci_low"] > 0
    for name in ("perplexity", "chrf", "distinct_1", "repetition_rate"):
        assert math.isnan(got[f"{name}_ci_low"]), name


def test_one_row_whose_trials_disagree_has_no_style_interval():
    got = _metrics([["a b c"]] * 3, style=[[0.9], [0.1], [0.9]])
    assert got["style_accuracy"] == pytest.approx(2 / 3)
    assert math.isnan(got["style_accuracy_ci_low"])


def _random_run(rows: int, trials: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    weights = 1 / np.arange(1, 301)
    weights /= weights.sum()
    references = [" ".join(rng.choice(vocabulary, 20, p=weights)) for _ in range(rows)]
    continuations = [[" ".join(rng.choice(vocabulary, 20, p=weights)) for _ in range(rows)]
                     for _ in range(trials)]
    tokens = rng.integers(10, 40, size=(trials, rows)).astype(float)
    return generation_metrics(references, continuations, tokens * rng.gamma(9, 0.3, tokens.shape),
                              tokens, tokens * rng.gamma(4, 0.5, tokens.shape), tokens,
                              rng.uniform(size=(trials, rows)))


def test_intervals_hold_the_estimate_and_narrow_with_rows():
    for trials in (1, 3):
        small, large = _random_run(40, trials), _random_run(400, trials)
        for name in WITH_INTERVALS:
            for got in (small, large):
                assert got[f"{name}_ci_low"] <= got[name] <= got[f"{name}_ci_high"], name
            width = [got[f"{name}_ci_high"] - got[f"{name}_ci_low"] for got in (small, large)]
            # With 3 trials and no true trial effect the trials' term is noise on 2 degrees of
            # freedom, which may widen either interval: narrowing is checked on one trial.
            assert 0 < width[1] and (trials > 1 or width[1] < width[0]), name


def test_identical_trials_count_as_one():
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(list("abcdefgh"), 12)) for _ in range(30)]
    nll, tokens = rng.gamma(9, 3, size=30), rng.integers(10, 40, size=30).astype(float)
    style = rng.uniform(size=30)

    def run(trials):
        return generation_metrics(texts[::-1], [texts] * trials, [nll] * trials,
                                  [tokens] * trials, [nll] * trials, [tokens] * trials,
                                  [style] * trials)

    one, three = run(1), run(3)
    for name in FIELDS - {"trials", "trial_style_accuracies", "trial_perplexities"}:
        assert three[name] == pytest.approx(one[name]), name


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"passage_nll has shape \(1, 3\), expected"):
        generation_metrics(["r", "s"], [["a", "b"]], [1, 2, 3], [1, 1], [1, 1], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="continuations must be"):
        generation_metrics(["r", "s"], [["a"]], [[1, 2]], [[1, 1]], [[1, 1]], [[1, 1]],
                           [[1, 1]])


def test_intervals_cover_the_population_values_in_simulated_runs():
    """Not only does an interval hold its own estimate: over 300 simulated runs of 200 rows it
    covers the population's value about 95% of the time (a bound that misses fails here).
    Per row, tokens ~ U{10..39}, NLL = tokens x Gamma(9, 0.3) (population perplexity
    exp(E[g]) = exp(2.7)), the judge's style probability ~ U(0, 1) (population share above 0.5:
    one half)."""
    rng = np.random.default_rng(7)
    rows, runs = 200, 300
    covered = {"perplexity": 0, "fluency_perplexity": 0, "style_accuracy": 0}
    truth = {"perplexity": math.exp(9 * 0.3), "fluency_perplexity": math.exp(4 * 0.5),
             "style_accuracy": 0.5}
    continuations = [["w"] * rows]
    for _ in range(runs):
        tokens = rng.integers(10, 40, size=(1, rows)).astype(float)
        got = generation_metrics(["w"] * rows, continuations,
                                 tokens * rng.gamma(9, 0.3, tokens.shape), tokens,
                                 tokens * rng.gamma(4, 0.5, tokens.shape), tokens,
                                 rng.uniform(size=(1, rows)))
        for name in covered:
            covered[name] += got[f"{name}_ci_low"] <= truth[name] <= got[f"{name}_ci_high"]
    for name, count in covered.items():
        assert 0.90 <= count / runs <= 0.99, (name, count / runs)
