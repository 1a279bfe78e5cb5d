"""MAUVE (Pillutla et al., 2021) between real continuations and a strategy's, with the
`mauve-text` package: both sets' features are quantised together (PCA, then k-means into
n/10 clusters) and MAUVE is the area under the divergence frontier of the two histograms --
1 when the strategy's texts fall in the clusters as often as the real ones, near 0 when they
share none.

    value, low, high = mauve_score(embed(real), embed(written))

Features: sentence embeddings of a local encoder (harness.metrics.text_features), not the
paper's GPT-2 large: offline, and the same for every strategy. The texts are the pairs of the
two-sample test (each cut to its shorter side's words). At the quick profile's 48 prompts
there are 5 clusters: MAUVE is coarse there, and its interval -- a percentile bootstrap over
prompts, stretched to hold the estimate -- says how coarse (bench/two_sample_bounds.py measures its ceiling and floor).
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from harness.metrics import stats

BOOTSTRAP_DRAWS = 200  # each redoes the clustering: ~20 ms at 48 prompts
SEED = 25  # mauve-text's default
MIN_ROWS = 10  # fewer texts than this per side make fewer than 2 clusters of anything


@contextlib.contextmanager
def _quiet_stderr():
    """faiss warns, from C++ straight onto file descriptor 2, when it clusters fewer than 39
    points per centroid -- always, at n/10 clusters. The warning is by design here, not news
    for the run's terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _mauve(real: np.ndarray, written: np.ndarray, seed: int) -> float:
    import mauve

    return float(mauve.compute_mauve(p_features=real, q_features=written, seed=seed,
                                     verbose=False).mauve)


def mauve_score(real: np.ndarray, written: np.ndarray, draws: int = BOOTSTRAP_DRAWS,
                seed: int = SEED) -> tuple[float, float, float]:
    """(MAUVE, low, high) of the paired rows' features; NaN below MIN_ROWS pairs."""
    real, written = np.asarray(real, np.float32), np.asarray(written, np.float32)
    n = len(real)
    if n < MIN_ROWS or len(written) != n:
        return float("nan"), float("nan"), float("nan")
    with _quiet_stderr():
        value = _mauve(real, written, seed)
        low, high = stats.bootstrap(lambda rows: _mauve(real[rows], written[rows], seed), n,
                                    draws, seed)
    # A resample repeats texts, and repeated points cluster apart from the rest: replicates sit
    # below the estimate (two halves of real text: 0.985, replicates 0.49-0.98). The interval
    # is the percentile interval stretched to hold the estimate: wide, not misplaced (on
    # simulated features it covered the estimator's mean in 93-100% of samples).
    return value, min(low, value), max(high, value)
