"""How often the leaderboard's accuracy intervals cover the true accuracy, by simulation through
the harness's own statistics (harness.metrics.stats):

- Wilson's interval of one run: its exact coverage over the binomial, at accuracies up to 99%
  and 100 to 1,000 rows (a percentile bootstrap covers 82% at 98% on 100 rows).
- The two-level interval of a row with several draws (few-shot's 5 demonstration trials):
  leaderboards of per-row true probabilities p_i ~ Beta(a, b), fresh evaluation rows each
  time, a per-draw shift u_t ~ N(0, tau) on the logit scale, correctness ~ Bernoulli(
  sigmoid(logit p_i + u_t)); the truth is the expectation over rows and draws. Swept over
  settings of accuracy (a, b), spread between draws (tau) and rows, beside the interval that
  ignores the draws (rows of the draw-averaged correctness), which the harness used before.

    python bench/coverage.py --leaderboards 1000
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
from artifact import environment, write_artifact

from harness.metrics.stats import Clustered, wilson

WILSON_ACCURACIES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
WILSON_ROWS = (100, 200, 500, 1000)
# (a, b) of the rows' Beta: mean accuracy 0.5, 0.67, 0.75, 0.9
ACCURACY_SHAPES = ((2.0, 2.0), (2.0, 1.0), (3.0, 1.0), (9.0, 1.0))
DRAW_SPREADS = (0.1, 0.2, 0.3, 0.45)  # tau: logit sd between draws
ROWS = (200, 500)
DRAWS = 5


def wilson_coverage(n: int, p: float) -> float:
    """Exact: the binomial probability of the counts whose interval holds p."""
    from scipy import stats as scipy_stats

    x = np.arange(n + 1)
    bounds = np.array([wilson(k, n) for k in x])
    covered = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
    return float(scipy_stats.binom.pmf(x, n, p)[covered].sum())


def simulate(reps: int, n: int, trials: int, tau: float, a: float = 3.0, b: float = 1.0,
             seed: int = 0) -> tuple[np.ndarray, float]:
    """(correctness of `reps` leaderboards, shape (reps, trials, n); the true accuracy)."""
    from scipy.special import expit, logit

    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, (reps, 1, n))
    shift = rng.normal(0, tau, (reps, trials, 1))
    correct = rng.random((reps, trials, n)) < expit(logit(p) + shift)
    population = np.random.default_rng(seed + 1)
    truth = expit(logit(population.beta(a, b, 2_000_000))
                  + population.normal(0, tau, 2_000_000)).mean()
    return correct, float(truth)


def two_level_coverage(correct: np.ndarray, truth: float) -> tuple[float, float, float]:
    """(coverage of the two-level interval, of the interval ignoring the draws, the mean
    spread of accuracy between draws)."""
    n = correct.shape[2]
    intervals = [Clustered.of(c).interval() for c in correct]
    covered = float(np.mean([i.low <= truth <= i.high for i in intervals]))
    naive = [Clustered.of(c.mean(axis=0)) for c in correct]
    naive_covered = float(np.mean([abs(x.accuracy - truth) <= 1.96 * x.row_means.std() / np.sqrt(n)
                                   for x in naive]))
    spread = float(correct.mean(axis=2).std(axis=1, ddof=1).mean())
    return covered, naive_covered, spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaderboards", type=int, default=1000)
    parser.add_argument("--out", help="the artifact's path (default bench/results/coverage.json)")
    args = parser.parse_args()
    started = environment()
    wilson_rows = [{"rows": n, "accuracy": p, "coverage": round(wilson_coverage(n, p), 4)}
                   for n, p in itertools.product(WILSON_ROWS, WILSON_ACCURACIES)]
    settings = []
    for number, ((a, b), tau, n) in enumerate(itertools.product(ACCURACY_SHAPES, DRAW_SPREADS,
                                                                ROWS)):
        correct, truth = simulate(args.leaderboards, n, DRAWS, tau, a, b, seed=1000 + number)
        covered, naive, spread = two_level_coverage(correct, truth)
        settings.append({"a": a, "b": b, "tau": tau, "rows": n, "draws": DRAWS,
                         "truth": round(truth, 4), "between_draw_sd": round(spread, 4),
                         "two_level": covered, "ignoring_draws": naive})
        print(f"a={a} b={b} tau={tau} rows={n}: two-level {covered:.3f}, "
              f"ignoring draws {naive:.3f}", flush=True)
    two, naive = [s["two_level"] for s in settings], [s["ignoring_draws"] for s in settings]
    figures = {"leaderboards": args.leaderboards, "wilson": wilson_rows, "settings": settings,
               "two_level_range": [min(two), max(two)], "two_level_median": float(np.median(two)),
               "ignoring_draws_range": [min(naive), max(naive)]}
    path = write_artifact("coverage", args, figures, started)
    print(f"two-level {min(two):.3f}-{max(two):.3f} (median {np.median(two):.3f}) over "
          f"{len(settings)} settings; ignoring draws {min(naive):.3f}-{max(naive):.3f} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
