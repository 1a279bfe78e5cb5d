"""`harness recommend` on a generation task: the rows of its leaderboard (harness.report.
generation_table, the largest evaluation set) as options, ranked by the task's primary metric
(the one its report ranks by), each runner-up read against the first by their intervals.

    options, metric = generation_options(ok_records, n_train=64)
    verdict = recommend(options, constraints, by=metric)       # harness.recommend.options
    apart_from_first(verdict.qualifying, metric)               # {name: "vs #1 ..."}

A generation row is measured at its own training size only: no learning curve is read between
sizes, and a row trained on more rows than `n_train` is out.
"""

from __future__ import annotations

import pandas as pd

from harness.metrics import catalog
from harness.recommend.options import memory_gib
from harness.report.generation_table import generation_board, ranked_by


def generation_options(ok: pd.DataFrame, n_train: int | None = None
                       ) -> tuple[pd.DataFrame, catalog.Metric]:
    """(one option per leaderboard row, the metric they rank by)."""
    primary = ranked_by(ok)
    board = generation_board(ok, primary)
    # Rows on other evaluation passages do not compare with these: the largest set only
    board = board[board["eval_set"] == board["eval_set"].min()].reset_index(drop=True)
    rows = board["n_train"].fillna(0).astype(int)
    options = board.assign(name=board["row"], flat=rows.eq(0), interpolated=False,
                           how=rows.map(lambda n: "uses no training rows" if n == 0
                                        else f"measured at {n} rows"))
    options["memory_gib"] = options.apply(memory_gib, axis=1)
    if n_train is not None:
        options["excluded_by_rows"] = rows.map(
            lambda n: f"trained on {n} rows, more than the {n_train} given (--n-train)"
            if n > n_train else None)
    return options, primary


def apart_from_first(qualifying: pd.DataFrame, metric: catalog.Metric) -> dict[str, str]:
    """Each runner-up against the first: the difference, and whether their 95% intervals
    (spans over a row's records, as the report shows them) overlap -- where they do, the
    records do not tell the two apart; where they do not, they do, conservatively."""
    if len(qualifying) < 2:
        return {}
    value, low, high = metric.fields
    best = qualifying.iloc[0]
    out = {}
    for _, option in qualifying.iloc[1:].iterrows():
        if pd.isna(option[value]) or pd.isna(best[value]):
            continue
        overlap = option[low] <= best[high] and best[low] <= option[high]
        out[option["name"]] = (f"vs #1 {option[value] - best[value]:+.3f}, 95% intervals "
                               + ("overlap: not told apart" if overlap else "apart"))
    return out
