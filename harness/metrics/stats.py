"""Every statistic the harness reports: accuracy intervals, paired comparisons, multiple-testing
adjustment, per-class scores, agreement beyond chance and calibration. Vectorised numpy, no
resampling noise -- except `bootstrap`, for the style metrics that have no closed form.

    low, high = wilson(correct.sum(), len(correct))
    rows = Clustered.of(correct_by_cluster)  # (clusters, rows): trials, seeds, data seeds
    rows.accuracy, rows.interval()           # Interval(low, high, df)
    paired_difference(rows_a, rows_b)        # Difference(diff, low, high, p, df)
    holm(p_values)

Accuracy under clusters. When a row's predictions come in clusters (few-shot demonstration
draws, seeds, draws of the training rows), all scored on the same evaluation rows, the accuracy
varies with both the rows and the clusters. Its variance is estimated as a two-level (clusters x
rows, crossed) random-effects model by the method of moments -- the exact expectation of the
two-level bootstrap that resamples clusters then rows, without its resampling noise or its
double-counted interaction term -- and the interval is a t interval on Satterthwaite's degrees
of freedom. With 5 trials the cluster term has 4 degrees of freedom: a normal or percentile
interval would under-cover (t(4) is 40% wider than z at 95%); this one covers (tests/test_stats.py
simulates 1,000 leaderboards). One record with one trial gets Wilson's interval, which stays
inside [0, 1] and is not degenerate at 0% or 100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95
ECE_BINS = 15
# Probabilities below this count as this in the NLL, so that one row scored 0 for its true
# class gives a large, finite loss (34.5 nats) instead of infinity.
NLL_FLOOR = 1e-15
PROBABILITY_TOLERANCE = 1e-4  # a row of probabilities sums to 1 up to float32 rounding


def wilson(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion: [0, x] at 0 successes and [x, 1] at n."""
    if n <= 0:
        return float("nan"), float("nan")
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return float(low), float(high)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    df: float  # degrees of freedom of the t interval; inf for Wilson's
    method: str  # "Wilson" or "t"


@dataclass(frozen=True)
class Difference:
    diff: float
    low: float
    high: float
    p: float  # two-sided
    df: float


@dataclass(frozen=True)
class Clustered:
    """Correctness of one leaderboard row: per evaluation row averaged over its clusters, and
    the clusters' own share of the variance of the accuracy, as (signed term, degrees of
    freedom) pairs for Satterthwaite's formula."""

    row_means: np.ndarray  # (rows,) each evaluation row's share of correct clusters
    clusters: int
    identical: bool  # every cluster predicted every row alike (a deterministic strategy)
    cluster_terms: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, correct) -> Clustered:
        """`correct`: (clusters, rows) of 0/1 (or shares), the same rows in every cluster."""
        y = np.asarray(correct, dtype=np.float64)
        if y.ndim == 1:
            y = y[None, :]
        c, n = y.shape
        row_means = y.mean(axis=0)
        identical = bool(c == 1 or (y == y[0]).all())
        terms: tuple = ()
        if c > 1 and n > 1 and not identical:
            cluster_means = y.mean(axis=1)
            ms_clusters = n * cluster_means.var(ddof=1)
            residual = y - row_means[None, :] - cluster_means[:, None] + y.mean()
            ms_error = (residual ** 2).sum() / ((n - 1) * (c - 1))
            # sigma_clusters^2 / c = (MS_clusters - MS_error) / (n c); a negative estimate means
            # the clusters add nothing beyond row noise, and counts as zero.
            if ms_clusters > ms_error:
                terms = ((ms_clusters / (n * c), c - 1.0),
                         (-ms_error / (n * c), (n - 1.0) * (c - 1.0)))
        return cls(row_means, c, identical, terms)

    @property
    def accuracy(self) -> float:
        return float(self.row_means.mean())

    def interval(self, confidence: float = CONFIDENCE) -> Interval:
        """Wilson when there is one cluster (or all are identical), else the two-level t."""
        n = len(self.row_means)
        if self.identical:
            return Interval(*wilson(float(self.row_means.sum()), n, confidence), np.inf,
                            "Wilson")
        variance, df = combine_variance(self.row_means, self.cluster_terms)
        low, high = t_interval(self.accuracy, variance, df, confidence)
        return Interval(max(0.0, low), min(1.0, high), df, "t")


def combine_variance(row_values: np.ndarray, *cluster_terms) -> tuple[float, float]:
    """Variance of a mean over rows plus cluster terms, and Satterthwaite's degrees of freedom.
    The rows' term (variance of the per-row values / n) holds the row and interaction parts."""
    n = len(row_values)
    terms = [(row_values.var(ddof=1) / n if n > 1 else 0.0, n - 1.0)]
    for more in cluster_terms:
        terms += list(more)
    variance = sum(value for value, _ in terms)
    spread = sum(value * value / df for value, df in terms if df > 0)
    df = variance * variance / spread if spread > 0 else np.inf
    return max(variance, 0.0), max(df, 1.0)


def t_interval(centre: float, variance: float, df: float,
                confidence: float) -> tuple[float, float]:
    half = scipy_stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(variance)
    return float(centre - half), float(centre + half)


def paired_difference(a: Clustered, b: Clustered, confidence: float = CONFIDENCE) -> Difference:
    """Accuracy of a minus b on the same evaluation rows: paired over rows (per-row correctness
    averaged over every cluster of each), plus each side's cluster variance; a t interval and a
    two-sided t test on Satterthwaite's degrees of freedom."""
    if len(a.row_means) != len(b.row_means):
        raise ValueError(f"paired rows differ in length: {len(a.row_means)} and "
                         f"{len(b.row_means)}")
    per_row = a.row_means - b.row_means
    diff = float(per_row.mean())
    variance, df = combine_variance(per_row, a.cluster_terms, b.cluster_terms)
    if variance <= 0:
        # Every row differs by the same amount and no cluster varies: t is undefined; the exact
        # sign test's p-value (1 when nothing differs).
        changed = int(np.count_nonzero(per_row))
        p = 1.0 if changed == 0 else min(1.0, 2 * 0.5 ** changed)
        return Difference(diff, diff, diff, p, df)
    low, high = t_interval(diff, variance, df, confidence)
    p = float(2 * scipy_stats.t.sf(abs(diff) / np.sqrt(variance), df))
    return Difference(diff, max(-1.0, low), min(1.0, high), p, df)


SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
CONDITIONAL = "conditional on one run"


def verdict(p: float, conditional: bool, alpha: float = 1 - CONFIDENCE) -> str:
    """What a comparison may claim. `conditional`: a side is one run of a strategy whose runs
    differ (one seed, one draw of training rows, one trial): its interval covers the
    evaluation rows only, so a difference may be that run's luck, and is never called
    significant (tests/test_significance.py simulates how often it would be)."""
    if conditional:
        return CONDITIONAL
    return SIGNIFICANT if p < alpha else NOT_SIGNIFICANT


def covers(seeds: int, draws: int, trials: int) -> str:
    """What an accuracy interval covers: 'rows', 'rows + 3 seeds + 5 trials', ..."""
    parts = ["rows"] + [f"{n} {what}" for n, what in ((seeds, "seeds"), (draws, "data seeds"),
                                                      (trials, "trials")) if n > 1]
    return " + ".join(parts)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment (family-wise error); NaN entries are left out and kept."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    m = len(order)
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted


def auc(positive, negative) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney): 0.5 when the
    scores do not tell the two samples apart."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if not len(positive) or not len(negative):
        return float("nan")
    ranks = scipy_stats.rankdata(np.concatenate([positive, negative]))
    n = len(positive)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * len(negative)))


def bootstrap(statistic, n: int, draws: int, seed: int = 0,
              confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of `statistic(rows)` over `draws` resamples of the n rows with
    replacement. For statistics of paired texts (a prompt's real and written continuations)
    with no closed-form variance: a row carries both texts of its prompt. Draws where the
    statistic is undefined are left out."""
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(draws)], dtype=float)
    values = values[np.isfinite(values)]
    if n < 2 or not len(values):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


# ----- classes -----

def per_class(y_true, y_pred, num_labels: int) -> dict[str, list]:
    """Precision, recall, F1 and support (true rows) per label index, as lists. A score that
    is undefined (no row predicted, or none true, for that class) is None."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    matrix = confusion(y_true, y_pred, num_labels)
    hits = np.diag(matrix).astype(np.float64)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        # F1 = 2 TP / (2 TP + FP + FN): zero when the class is true but never hit.
        f1 = np.where(support > 0, 2 * hits / (support + predicted), np.nan)
    return {"precision": _nullable(precision), "recall": _nullable(recall),
            "f1": _nullable(f1), "support": [int(s) for s in support]}


def macro_f1(y_true, y_pred, num_labels: int) -> float:
    """Mean F1 over the classes that have evaluation rows; a class absent from the rows is no
    evidence either way and does not count."""
    f1 = [f for f in per_class(y_true, y_pred, num_labels)["f1"] if f is not None]
    return float(np.mean(f1)) if f1 else float("nan")


def cohen_kappa(y_true, y_pred, num_labels: int) -> float:
    """Cohen's kappa of the predictions against the gold labels: (p_o - p_e) / (1 - p_e), the
    accuracy p_o beyond the agreement p_e that predictions and labels independent of each other,
    with the same label frequencies, would reach. NaN when p_e is 1 (one class in both)."""
    matrix = confusion(y_true, y_pred, num_labels).astype(np.float64)
    n = matrix.sum()
    if n == 0:
        return float("nan")
    observed = np.trace(matrix) / n
    chance = float(matrix.sum(axis=1) @ matrix.sum(axis=0)) / (n * n)
    return float((observed - chance) / (1 - chance)) if chance < 1 else float("nan")


def confusion(y_true, y_pred, num_labels: int) -> np.ndarray:
    """Counts: rows are true labels, columns predictions, both in label-index order."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_labels + y_pred,
                       minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def _nullable(values: np.ndarray) -> list:
    return [None if np.isnan(v) else float(v) for v in values]


# ----- calibration -----

def probabilities(scores) -> np.ndarray:
    """Rows of probabilities: scores that already are (in [0, 1], summing to 1) as they are,
    others (log-probabilities, logits) through a softmax."""
    scores = np.asarray(scores, dtype=np.float64)
    if ((scores >= 0) & (scores <= 1)).all() and \
            np.allclose(scores.sum(axis=1), 1.0, atol=PROBABILITY_TOLERANCE):
        return scores
    return softmax(scores)


def softmax(scores) -> np.ndarray:
    """Each row's softmax, shifted by its maximum so that no exponent overflows; -inf is 0."""
    scores = np.asarray(scores, dtype=np.float64)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def ece(probs, labels, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top label: over equal-width confidence bins, the
    row-weighted gap between accuracy and mean confidence."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    # Bins (0, 1/b], (1/b, 2/b], ...: a confidence of exactly 1 falls in the last one.
    which = np.clip(np.ceil(confidence * bins - 1e-9).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.bincount(which, weights=correct - confidence, minlength=bins)
    return float(np.abs(gap).sum() / max(len(labels), 1)) if count.any() else float("nan")


def brier(probs, labels) -> float:
    """Multi-class Brier score: mean over rows of the squared distance to the one-hot label."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    onehot = np.eye(probs.shape[1])[labels]
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def nll(probs, labels) -> float:
    """Mean negative log-probability of the true label, in nats."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    true = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.maximum(true, NLL_FLOOR)).mean())
