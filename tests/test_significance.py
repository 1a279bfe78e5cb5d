"""Two rows of the same method must not be called different more than the test's 5%: with one
run a side (conditional on one run: never significant), and with several runs a side (the
two-level interval). Simulated by bench/significance.py's model of run-to-run spread."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from significance import called_different, leaderboard_rows, rates  # noqa: E402

from harness.metrics import stats  # noqa: E402


def test_one_run_a_side_would_be_called_different_often_but_is_never_significant():
    found = rates((1, 1), 400)
    # What the paired test over rows alone says: far above 5% (the audit's 40%)
    assert found["p_below_0_05"] > 0.2
    assert found["called_significant"] == 0.0


@pytest.mark.parametrize("runs", [(3, 3), (5, 5)])
def test_several_runs_a_side_keep_false_calls_near_five_percent(runs):
    found = rates(runs, 600, seed=1)
    # 600 leaderboards: the binomial sd of a 5% rate is 0.9%
    assert found["called_significant"] <= 0.075


def test_a_real_difference_with_several_runs_is_found():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(100):
        a, _ = leaderboard_rows(rng, (3, 1))
        b, _ = leaderboard_rows(rng, (3, 1), accuracy=0.65)
        hits += called_different(a, b)[1]
    assert hits >= 80


def test_verdict_names_the_condition():
    assert stats.verdict(0.001, conditional=True) == stats.CONDITIONAL
    assert stats.verdict(0.001, conditional=False) == stats.SIGNIFICANT
    assert stats.verdict(0.2, conditional=False) == stats.NOT_SIGNIFICANT
    assert stats.covers(1, 3, 5) == "rows + 3 data seeds + 5 trials"
