"""How often two leaderboard rows of the *same* method are called different, by simulation:
each row is one or more runs (seeds, draws of training rows) of a method whose accuracy
varies from run to run by `--run-sd` (0.035: embedding-probe's spread over 5 draws at 8 rows
per label, bench/results/learning_curve_agnews_per_label.json), scored on the same evaluation
rows. The rows go through the leaderboard's own statistics (harness.metrics.stats:
Clustered, paired_difference, verdict). With one run a side, the paired test over rows alone
calls such rows different far more often than 5%; the harness marks those comparisons
conditional on one run and never significant, and with several runs a side the two-level
interval brings the rate to about 5%.

    python bench/significance.py --leaderboards 2000
"""

from __future__ import annotations

import argparse

import numpy as np

from harness.metrics import stats

ROWS, ACCURACY, RUN_SD = 500, 0.8, 0.035


def leaderboard_rows(rng, runs: tuple[int, int], rows: int = ROWS, accuracy: float = ACCURACY,
                     run_sd: float = RUN_SD) -> tuple[np.ndarray, np.ndarray]:
    """Correctness (runs, rows) of two rows of one method on the same evaluation rows: each
    row's difficulty is shared, each run shifts the method's accuracy by N(0, run_sd)."""
    difficulty = rng.beta(accuracy * 4, (1 - accuracy) * 4, size=rows)

    def one(count: int) -> np.ndarray:
        shift = rng.normal(0, run_sd, size=(count, 1))
        return rng.random((count, rows)) < np.clip(difficulty[None, :] + shift, 0, 1)

    return one(runs[0]), one(runs[1])


def called_different(a: np.ndarray, b: np.ndarray, conditional: bool | None = None) -> tuple:
    """(p < 0.05, the harness's verdict is 'significant') for one pair of rows."""
    diff = stats.paired_difference(stats.Clustered.of(a), stats.Clustered.of(b))
    one_run = (len(a) == 1 or len(b) == 1) if conditional is None else conditional
    return diff.p < 0.05, stats.verdict(diff.p, one_run) == stats.SIGNIFICANT


def rates(runs: tuple[int, int], leaderboards: int, seed: int = 0, **kwargs) -> dict:
    rng = np.random.default_rng(seed)
    calls = np.array([called_different(*leaderboard_rows(rng, runs, **kwargs))
                      for _ in range(leaderboards)])
    return {"runs": list(runs), "leaderboards": leaderboards,
            "p_below_0_05": float(calls[:, 0].mean()),
            "called_significant": float(calls[:, 1].mean())}


def main() -> None:
    from artifact import environment, write_artifact

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaderboards", type=int, default=2000)
    parser.add_argument("--run-sd", type=float, default=RUN_SD)
    args = parser.parse_args()
    started = environment()
    results = [rates(runs, args.leaderboards, run_sd=args.run_sd)
               for runs in ((1, 1), (5, 1), (3, 3), (5, 5))]
    for r in results:
        print(f"runs {r['runs']}: p < 0.05 in {r['p_below_0_05']:.1%}, called significant in "
              f"{r['called_significant']:.1%} of {r['leaderboards']} leaderboards")
    write_artifact("significance", args, {
        "rows": ROWS, "accuracy": ACCURACY, "run_sd": args.run_sd, "results": results},
        started=started)


if __name__ == "__main__":
    main()
