"""harness.metrics.stats against values computed by hand, and its intervals and tests by simulation:
coverage of the truth over 1,000 simulated leaderboards, error rates with equally good rows."""

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from harness.metrics import stats
from harness.metrics.stats import Clustered, holm, paired_difference, wilson

# The leaderboards bench/coverage.py sweeps: one data-generating process for the bench and this
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from coverage import simulate  # noqa: E402

# ----- Wilson -----


def test_wilson_at_0_and_100_percent_reaches_the_bound_and_is_not_degenerate():
    assert wilson(0, 50)[0] == 0.0 and 0.05 < wilson(0, 50)[1] < 0.1
    low, high = wilson(50, 50)
    assert high == 1.0 and 0.9 < low < 0.95  # [x, 1], never [1, 1]
    # By hand: z = 1.96, n = 50, 0 successes: z^2 / (n + z^2) = 3.8415 / 53.8415.
    assert wilson(0, 50)[1] == pytest.approx(3.841459 / 53.841459, rel=1e-5)
    assert wilson(50, 50)[0] == pytest.approx(1 - 3.841459 / 53.841459, rel=1e-5)


def test_wilson_matches_the_formula_inside():
    # p = 0.7, n = 100, z = 1.959964: centre (0.7 + z^2/200) / (1 + z^2/100).
    z2 = 1.959964 ** 2
    centre = (0.7 + z2 / 200) / (1 + z2 / 100)
    half = 1.959964 / (1 + z2 / 100) * np.sqrt(0.21 / 100 + z2 / 40000)
    assert wilson(70, 100) == pytest.approx((centre - half, centre + half), rel=1e-6)


def test_wilson_covers_near_98_percent_with_100_rows():
    """Exact coverage over the binomial: a percentile bootstrap gave 82% here."""
    n, p = 100, 0.98
    x = np.arange(n + 1)
    bounds = np.array([wilson(k, n) for k in x])
    covered = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
    assert scipy_stats.binom.pmf(x, n, p)[covered].sum() >= 0.93


# ----- clustered accuracy -----

@pytest.mark.parametrize("n, tau", [(300, 0.3), (500, 0.45), (200, 0.2)])
def test_few_shot_interval_covers_the_truth_in_1000_simulated_leaderboards(n, tau):
    correct, truth = simulate(1000, n, trials=5, tau=tau, seed=n)
    spread = correct.mean(axis=2).std(axis=1, ddof=1).mean()
    assert 0.025 < spread < 0.07  # trials move the accuracy by 3-6 points, as few-shot's do
    intervals = [Clustered.of(c).interval() for c in correct]
    covered = np.mean([i.low <= truth <= i.high for i in intervals])
    assert covered >= 0.90, covered
    # The trials' term dominates: few degrees of freedom, not the rows' hundreds.
    assert all(i.method == "t" for i in intervals)
    assert 4 < np.median([i.df for i in intervals]) < 30
    # The old interval (rows of the trial-averaged correctness, trials ignored) under-covers.
    naive = [Clustered.of(c.mean(axis=0)) for c in correct]
    naive_covered = np.mean([abs(x.accuracy - truth) <= 1.96 * x.row_means.std() / np.sqrt(n)
                             for x in naive])
    assert naive_covered < {200: 0.9, 300: 0.8, 500: 0.7}[n], naive_covered


def test_one_cluster_gets_wilson_and_identical_clusters_pool_to_it():
    row = (np.arange(100) % 10 != 0).astype(float)  # 90% correct
    single = Clustered.of(row).interval()
    assert (single.low, single.high) == pytest.approx(wilson(90, 100)) and single.method == "Wilson"
    three = Clustered.of(np.stack([row, row, row])).interval()  # deterministic, 3 seeds
    assert (three.low, three.high) == (single.low, single.high) and three.high > three.low
    perfect = Clustered.of(np.ones((3, 40))).interval()
    assert perfect.high == 1.0 and perfect.low == pytest.approx(wilson(40, 40)[0])


def test_clustered_variance_by_hand():
    # 3 clusters x 8 rows (two-way crossed, method of moments).
    y = np.array([[1.0, 0, 0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 0, 1, 1, 0]])
    c = Clustered.of(y)
    n, k = 8, 3
    row_means, cluster_means = y.mean(axis=0), y.mean(axis=1)
    ms_clusters = n * np.var(cluster_means, ddof=1)
    residual = y - row_means - cluster_means[:, None] + y.mean()
    ms_error = (residual ** 2).sum() / ((n - 1) * (k - 1))
    terms = [(np.var(row_means, ddof=1) / n, n - 1), (ms_clusters / (n * k), k - 1),
             (-ms_error / (n * k), (n - 1) * (k - 1))]
    assert np.ravel(c.cluster_terms) == pytest.approx(np.ravel(terms[1:]))
    variance = sum(v for v, _ in terms)
    df = variance ** 2 / sum(v * v / d for v, d in terms)
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(variance)
    interval = c.interval()
    assert (interval.low, interval.high, interval.df) == pytest.approx(
        (y.mean() - half, y.mean() + half, df))
    assert 0 < interval.low and interval.high < 1  # not clipped: the formula is what is shown


# ----- paired comparisons and Holm -----

def test_paired_difference_of_single_records_is_the_paired_t_test():
    rng = np.random.default_rng(3)
    a, b = rng.random(400) < 0.8, rng.random(400) < 0.7
    diff = paired_difference(Clustered.of(a), Clustered.of(b))
    reference = scipy_stats.ttest_rel(a.astype(float), b.astype(float))
    assert diff.diff == pytest.approx(a.mean() - b.mean())
    assert diff.p == pytest.approx(reference.pvalue)
    assert diff.low < diff.diff < diff.high


def test_identical_rows_differ_by_nothing_and_a_constant_gap_gets_the_sign_test():
    row = np.arange(30) % 3 == 0
    same = paired_difference(Clustered.of(row), Clustered.of(row))
    assert (same.diff, same.p) == (0.0, 1.0)
    right, wrong = np.ones(6), np.zeros(6)
    gap = paired_difference(Clustered.of(right), Clustered.of(wrong))
    assert gap.diff == 1.0 and gap.p == pytest.approx(2 * 0.5 ** 6)


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # Sorted 0.005 0.01 0.03 0.04 with m = 4: 0.02, 0.03, 0.06, 0.06 (monotone).
    assert holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm(p)[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_with_six_equally_good_rows_few_leaderboards_show_a_significant_one():
    """The issue measured 34% of leaderboards with a 'significant' row; with p-values against
    the best Holm-adjusted over all pairs (as the leaderboard does) it is at most 5%."""
    rng = np.random.default_rng(5)
    flagged = []
    for _ in range(300):
        p = rng.beta(3, 1, 300)
        rows = [Clustered.of(rng.random((5 if s < 2 else 1, 300)) < p) for s in range(6)]
        best = int(np.argmax([r.accuracy for r in rows]))
        pairs = list(itertools.combinations(range(6), 2))
        adjusted = dict(zip(pairs, holm([paired_difference(rows[i], rows[j]).p
                                         for i, j in pairs])))
        flagged.append(any(adjusted[tuple(sorted((best, k)))] < 0.05
                           for k in range(6) if k != best))
    assert np.mean(flagged) <= 0.05


# ----- classes and calibration -----

def test_macro_f1_leaves_out_a_class_with_no_rows():
    y = [0, 1, 0, 1]
    assert stats.macro_f1(y, y, 3) == 1.0  # was 0.667 with the absent class as F1 0
    scores = stats.per_class(y, y, 3)
    assert scores["support"] == [2, 2, 0] and scores["f1"] == [1.0, 1.0, None]
    # Predicting the absent class is wrong for the true class, not scored for the absent one.
    assert stats.macro_f1([0, 1], [0, 2], 3) == pytest.approx((1.0 + 0.0) / 2)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_cohen_kappa_matches_sklearn_on_random_predictions(k):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(k)
    for n in (5, 40, 500):
        y = rng.integers(0, k, n)
        # Right with probability 0.6, else a label drawn with skewed frequencies; some labels
        # of 0..k-1 may be absent from both.
        guess = rng.choice(k, n, p=np.arange(1, k + 1) / (k * (k + 1) / 2))
        pred = np.where(rng.random(n) < 0.6, y, guess)
        expected = cohen_kappa_score(y, pred)
        assert stats.cohen_kappa(y, pred, k) == pytest.approx(expected, abs=1e-12)


def test_cohen_kappa_is_zero_for_the_prior_alone_and_undefined_for_one_class():
    y = [0, 1, 1, 2, 1, 1]
    assert stats.cohen_kappa(y, [1] * 6, 3) == pytest.approx(0.0)  # 67% right, all by chance
    assert stats.cohen_kappa(y, y, 3) == 1.0
    assert np.isnan(stats.cohen_kappa([2, 2], [2, 2], 3))  # chance agrees fully: no kappa


def test_per_class_by_hand():
    # class 0: TP 1 FP 1 FN 1; class 1: TP 2 FP 1 FN 0; class 2: TP 1 FP 0 FN 1.
    scores = stats.per_class([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3)
    assert scores["precision"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert scores["recall"] == pytest.approx([0.5, 1.0, 0.5])
    assert scores["f1"] == pytest.approx([0.5, 0.8, 2 / 3])
    assert scores["support"] == [2, 2, 2]


def test_probabilities_keep_probabilities_and_softmax_log_probabilities():
    probs = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert stats.probabilities(probs) is not None
    assert stats.probabilities(probs) == pytest.approx(probs)
    assert stats.probabilities(np.log(probs)) == pytest.approx(probs)
    assert stats.probabilities(np.log(probs) - 7.0) == pytest.approx(probs)  # unnormalised


def test_ece_brier_nll_by_hand():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    labels = np.array([0, 1, 1, 0])
    # Confidences .9 .6 .7 .8 in 15 bins: each alone; correct 1 0 1 1.
    assert stats.ece(probs, labels) == pytest.approx((0.1 + 0.6 + 0.3 + 0.2) / 4)
    # Two rows sharing a bin: confidence .62 and .64 (bin (0.6, 0.667]), one right.
    shared = np.array([[0.62, 0.38], [0.64, 0.36]])
    assert stats.ece(shared, np.array([0, 1])) == pytest.approx(abs(0.5 - 0.63))
    brier = (2 * 0.1 ** 2 + 2 * 0.6 ** 2 + 2 * 0.3 ** 2 + 2 * 0.2 ** 2) / 4
    assert stats.brier(probs, labels) == pytest.approx(brier)
    assert stats.nll(probs, labels) == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.7, 0.8])))
    assert stats.nll(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-np.log(1e-15))
