"""Learning curves: accuracy against training rows, one curve per strategy x model (x backend x
settings), and where one curve overtakes another, with the uncertainty of each crossing.

    curves = learning_curves(board)                  # None when no curve has two sizes
    crossings = crossovers(curves, ok, store)        # one row per pair that crosses

Training sizes of one data seed are nested draws (harness.inputs.data.nested_order), so a curve
is one growing training set, not independent samples. A strategy that uses no training rows is a flat
line (one record, compared at every size).

Uncertainty of a crossing: a paired bootstrap. Each replicate draws the evaluation rows with
replacement (the same rows for every size and both curves: they were scored on the same rows),
and each point's clusters (trials, seeds, data seeds) with replacement, and finds the crossing
again; the interval is the 2.5th and 97.5th percentiles of the replicates' crossings, which may
lie beyond the measured sizes ("< 32", "> 2000").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.metrics import stats
from harness.api.backends import DEFAULT
from harness.api.variants import DEFAULT as OWN_INFERENCE
from harness.report.tables import correctness
from harness.results.store import Store

RESAMPLES = 1000
# A tuned row is another curve than its defaults; an inference variant (int8, merged) another
# than the model as fitted.
_CURVE_COLUMNS = ("strategy", "model", "model_source", "backend", "endpoint", "inference",
                  "settings", "eval_set", "device_name", "tune")


def learning_curves(board: pd.DataFrame, min_sizes: int = 2) -> pd.DataFrame | None:
    """The board's rows of the evaluation set with the most curves of `min_sizes` training
    sizes, with `curve` (a name per curve) and `flat` (uses no training rows); None when no
    curve has that many sizes (with `min_sizes` 1: the largest evaluation set's rows)."""
    if board.empty:
        return None
    board = board.assign(curve_id=_curve_ids(board))
    sized = board[pd.to_numeric(board["n_train"], errors="coerce") > 0]
    counts = sized.groupby("curve_id")["n_train"].nunique()
    multi = sized[sized["curve_id"].isin(counts[counts >= min_sizes].index)]
    if multi.empty and min_sizes > 1:
        return None
    chosen = multi["eval_set"].value_counts().idxmax() if len(multi) else \
        board["eval_set"].min()
    rows = board[board["eval_set"] == chosen].copy()
    rows["n_train"] = pd.to_numeric(rows["n_train"], errors="coerce").fillna(0).astype(int)
    rows["flat"] = rows["n_train"] == 0
    rows["curve"] = rows["curve_id"].map(_curve_names(rows))
    return rows.sort_values(["curve", "n_train"]).reset_index(drop=True)


def _curve_ids(board: pd.DataFrame) -> pd.Series:
    present = [c for c in _CURVE_COLUMNS if c in board]
    return board[present].astype(str).agg(" | ".join, axis=1)


def _curve_names(rows: pd.DataFrame) -> dict[str, str]:
    first = rows.drop_duplicates("curve_id")
    names = {}
    for _, row in first.iterrows():
        # As the leaderboard names its rows, less the training size.
        on = "" if row.get("backend", DEFAULT) in (DEFAULT, None) else f" on {row['backend']}"
        on += f": {row['endpoint']}" if isinstance(row.get("endpoint"), str) and row[
            "endpoint"] else ""
        extras = [str(row["model"])] if row["model"] not in (None, "-") else []
        if isinstance(row.get("settings"), str) and row["settings"]:
            extras.append(row["settings"])
        tuned = f" · tuned ×{int(row['tune'])}" if row.get("tune", 0) else ""
        variant = row.get("inference", OWN_INFERENCE)
        on += "" if variant in (OWN_INFERENCE, None) else f" · {variant}"
        names[row["curve_id"]] = row["strategy"] + on + tuned + (
            f" ({'; '.join(extras)})" if extras else "")
    seen: dict[str, int] = {}
    for curve_id, name in names.items():  # the same name twice: tell them apart by number
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[curve_id] = f"{name} #{seen[name]}"
    return names


def crossovers(curves: pd.DataFrame, ok: pd.DataFrame, store: Store,
               resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Every ordered pair (leader, other) where the leader, below the other at its smallest
    common size, stays above from some size on: the crossing (interpolated on log rows), its
    bootstrap interval, the smallest size from which the leader is significantly above at every
    larger size, and the difference at the largest size."""
    matrices = {i: correctness(row, ok, store) for i, row in curves.iterrows()}
    pooled = {i: stats.Clustered.of(matrix) for i, matrix in matrices.items()}
    boot = _bootstrap(matrices, resamples, seed)
    out = []
    by_curve = {name: rows for name, rows in curves.groupby("curve", sort=False)}
    for leader, lead_rows in by_curve.items():
        if lead_rows["flat"].all() or lead_rows["n_train"].nunique() < 2:
            continue
        for other, other_rows in by_curve.items():
            if other != leader:
                found = _pair(lead_rows, other_rows, curves, pooled, boot)
                if found:
                    out.append({"leader": leader, "other": other, **found})
    return pd.DataFrame(out, columns=["leader", "other", "crossing_rows", "low", "high",
                                      "significant_from", "sizes", "diff", "diff_low",
                                      "diff_high", "conditional", "covers"])


def _pair(lead: pd.DataFrame, other: pd.DataFrame, curves: pd.DataFrame, pooled: dict,
          boot: dict) -> dict | None:
    """`curves` (accuracy, conditional, runs) and `pooled` (stats.Clustered) per curve point,
    as the leaderboard has them; `boot` their bootstrap replicates. A pair with a point that is
    one run of a strategy whose runs differ is conditional on that run: its crossing interval
    covers evaluation rows only and no size is called significantly ahead."""
    accuracy = curves["accuracy"]
    if other["flat"].all():
        flat = other.index[0]
        points = [(int(n), i, flat) for i, n in lead["n_train"].items()]
    else:
        common = dict(zip(other["n_train"], other.index))
        points = [(int(n), i, common[n]) for i, n in lead["n_train"].items() if n in common]
    if len(points) < 2:
        return None
    sizes = np.array([n for n, _, _ in points], dtype=float)
    diffs = np.array([accuracy[a] - accuracy[b] for _, a, b in points])
    crossing = crossing_size(sizes, diffs)
    if not np.isfinite(crossing):
        return None
    replicate_diffs = np.stack([boot[a] - boot[b] for _, a, b in points], axis=1)
    replicates = np.sort([crossing_size(sizes, d) for d in replicate_diffs])
    low = replicates[int(np.floor(0.025 * len(replicates)))]
    high = replicates[int(np.ceil(0.975 * len(replicates))) - 1]
    tests = [stats.paired_difference(pooled[a], pooled[b]) for _, a, b in points]
    used = [i for _, a, b in points for i in (a, b)]
    conditional = bool(curves.loc[used, "conditional"].fillna(True).astype(bool).any()) \
        if "conditional" in curves else True
    above = [t.low > 0 for t in tests]
    significant = None if conditional else next(
        (int(sizes[j]) for j in range(len(above)) if all(above[j:])), None)
    last = tests[-1]
    return {"crossing_rows": crossing, "low": low, "high": high,
            "significant_from": significant, "sizes": [int(s) for s in sizes],
            "diff": last.diff, "diff_low": last.low, "diff_high": last.high,
            "conditional": conditional, "covers": _covers(curves.loc[used])}


def _covers(points: pd.DataFrame) -> str:
    """What a crossing's interval covers: the fewest runs among the points it uses, leaving out
    one-run points of deterministic strategies (another run would predict alike)."""
    counts = points.reindex(columns=["seeds", "data_seeds", "trials"]).fillna(1)
    fixed = ~points["conditional"].fillna(True).astype(bool) & (counts == 1).all(axis=1)
    varying = counts[~fixed]
    return stats.covers(*(int(varying[c].min()) if len(varying) else 1 for c in counts))


def crossing_size(sizes: np.ndarray, diffs: np.ndarray) -> float:
    """Where `diffs` (leader minus other, at increasing sizes) turns positive for good, on a
    log scale between the two sizes around the turn; -inf when positive from the first size,
    inf when not positive at the last."""
    ahead = diffs > 0
    if not ahead[-1]:
        return np.inf
    j = len(ahead) - 1
    while j > 0 and ahead[j - 1]:
        j -= 1
    if j == 0:
        return -np.inf
    share = -diffs[j - 1] / (diffs[j] - diffs[j - 1])  # diffs[j-1] <= 0 < diffs[j]
    log_size = np.log(sizes[j - 1]) + share * (np.log(sizes[j]) - np.log(sizes[j - 1]))
    return float(np.exp(log_size))


def _bootstrap(matrices: dict, resamples: int, seed: int) -> dict:
    """Accuracy of every point in each replicate: the same resampled evaluation rows for all
    (paired), each point's clusters resampled on their own."""
    rng = np.random.default_rng(seed)
    n_rows = next(iter(matrices.values())).shape[1]
    rows = rng.integers(0, n_rows, size=(resamples, n_rows))
    out = {}
    for key, matrix in matrices.items():
        clusters = matrix.shape[0]
        picks = rng.integers(0, clusters, size=(resamples, clusters))
        weights = np.stack([np.bincount(p, minlength=clusters) for p in picks]) / clusters
        row_means = weights @ matrix.astype(np.float64)  # (resamples, rows)
        out[key] = np.take_along_axis(row_means, rows, axis=1).mean(axis=1)
    return out
