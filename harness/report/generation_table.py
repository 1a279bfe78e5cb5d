"""The leaderboard of a generation task: one row per group of records (harness.report.rows),
numbers first (`generation_board`), then one display table per evaluation set
(`generation_tables`), sorted by style accuracy, best first.

    board = generation_board(ok)       # priced records with status "ok"
    tables = generation_tables(board)  # harness.report.display.Table, one per evaluation set

A row pools its seeds and draws of training rows as the records give them, without reading
predictions: each number is the mean of its records', and each interval runs from the lowest
record's low end to the highest record's high end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.display import Table, usd
from harness.report.rows import (
    backend,
    data_seed,
    group_id,
    row_labels,
    shown_source,
    shown_strategy,
)
from harness.report.tables import HIGHER_IS_BETTER, eval_sets

# The generation metrics with an interval in the records, and whether higher is better (the
# table's arrows and the plot's Pareto front read this).
INTERVAL_METRICS = {"perplexity": False, "style_accuracy": True, "fluency_perplexity": False,
                    "distinct_1": True, "distinct_2": True, "repetition_rate": False,
                    "chrf": True}
GENERATION_HIGHER_IS_BETTER = {**HIGHER_IS_BETTER, **INTERVAL_METRICS, "tokens_per_s": True,
                               "ms_per_token": False, "ttft_ms": False,
                               "cuda_peak_reserved_bytes": False}
_MEANS = ("style_score", "generated_tokens_mean", "tokens_per_s", "ms_per_token", "ttft_ms",
          "latency_p50_ms", "latency_p95_ms", "throughput_eps", "fit_s", "predict_s",
          "setup_cost_usd", "fit_cost_usd", "predict_cost_usd_per_1k", "cost_usd",
          "style_judge_accuracy", "style_judge_accuracy_ci_low", "style_judge_accuracy_ci_high",
          "style_judge_n_heldout", "style_judge_on_reference", "style_judge_on_contrast")
_PEAKS = ("rss_above_baseline_bytes", "rss_baseline_bytes", "cuda_peak_reserved_bytes",
          "footprint_vllm_reserved_bytes")


def generation_board(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per group of records, by evaluation set then style accuracy (best first, then
    lower perplexity); numbers, not strings."""
    ok = ok.assign(group=group_id(ok), shown=shown_strategy(ok), backend=backend(ok),
                   source=shown_source(ok), draw=data_seed(ok))
    names, settings = row_labels(ok)
    rows = [_board_row(cells.sort_values(["seed", "draw"]), names[group], settings[group])
            for group, cells in ok.groupby("group", sort=False)]
    board = pd.DataFrame(rows)
    board["eval_set"] = eval_sets(board)
    return board.sort_values(["eval_set", "style_accuracy", "perplexity"],
                             ascending=[True, False, True], na_position="last",
                             kind="stable").reset_index(drop=True)


def _board_row(cells: pd.DataFrame, name: str, settings: str) -> dict:
    first = cells.iloc[0]
    pooled = {}
    for metric in INTERVAL_METRICS:
        pooled[metric] = _number(cells, metric).mean()
        pooled[f"{metric}_ci_low"] = _number(cells, f"{metric}_ci_low").min()
        pooled[f"{metric}_ci_high"] = _number(cells, f"{metric}_ci_high").max()
    return {
        "row": name, "strategy": first["shown"], "model": first["model"],
        "model_source": first["source"], "backend": first["backend"], "settings": settings,
        "n_train": first["n_train"], "n_eval": first["n_eval"],
        "seeds": cells["seed"].nunique(), "data_seeds": cells["draw"].nunique(),
        "trials": int(_number(cells, "trials").fillna(1).max()), **pooled,
        **{c: _number(cells, c).mean() for c in _MEANS},
        **{c: _number(cells, c).max() for c in _PEAKS},
        "style_judge_key": first.get("style_judge_key"),
        "device": first["device"], "device_name": first.get("device_name"),
        "trainable_params": first.get("trainable_params"),
        "total_params": first.get("total_params"),
        "eval_fingerprint": first.get("eval_fingerprint"), "keys": list(cells["key"]),
        "key": first["key"],
    }


def _number(cells: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column of the records; NaN throughout where no record has it."""
    if column not in cells:
        return pd.Series(np.nan, index=cells.index)
    return pd.to_numeric(cells[column], errors="coerce")


def generation_tables(board: pd.DataFrame) -> list[Table]:
    """One table per evaluation set (the largest first); a single set has no heading."""
    if board.empty:
        return []
    tables = []
    for number, rows in board.groupby("eval_set", sort=True):
        rows = rows.reset_index(drop=True)
        heading = f"Evaluation set {int(number)}" if board["eval_set"].nunique() > 1 else ""
        note = f"{int(rows['n_eval'].iloc[0]):,} evaluation rows; best style accuracy first"
        tables.append(_table(rows, board, heading, note))
    return tables


def _table(rows: pd.DataFrame, board: pd.DataFrame, heading: str, note: str) -> Table:
    shown, keys, directions = {}, {}, {}

    def add(header: str, text, key=None, metric: str | None = None) -> None:
        shown[header] = list(text)
        keys[header] = list(key) if key is not None else [np.nan] * len(rows)
        if metric in GENERATION_HIGHER_IS_BETTER:
            directions[header] = GENERATION_HIGHER_IS_BETTER[metric]

    add("row", rows["row"])
    if (board["settings"].fillna("") != "").any():
        add("settings", rows["settings"].fillna(""))
    for metric, header, digits in (
            ("perplexity", "perplexity (95% CI)", perplexity_digits),
            ("style_accuracy", "style accuracy (95% CI)", lambda _: 3),
            ("fluency_perplexity", "fluency perplexity (95% CI)", perplexity_digits)):
        add(header, rows.apply(lambda r, m=metric, d=digits: _with_interval(r, m, d), axis=1),
            rows[metric], metric)
    for metric, header in (("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"),
                           ("repetition_rate", "repetition")):
        add(header, rows[metric].map(_fixed(3)), rows[metric], metric)
    add("chrF (95% CI)", rows.apply(lambda r: _with_interval(r, "chrf", lambda _: 1), axis=1),
        rows["chrf"], "chrf")
    for metric, header in (("tokens_per_s", "tokens/s"), ("ms_per_token", "ms/token"),
                           ("ttft_ms", "TTFT (ms)"), ("fit_s", "fit (s)")):
        add(header, rows[metric].map(_fixed(1)), rows[metric], metric)
    add("fit (USD)", rows["fit_cost_usd"].map(usd), rows["fit_cost_usd"], "cost_usd")
    add("USD per 1k continuations", rows["predict_cost_usd_per_1k"].map(usd),
        rows["predict_cost_usd_per_1k"], "cost_usd")
    add("RAM above baseline (MiB)", rows["rss_above_baseline_bytes"].map(_mib),
        rows["rss_above_baseline_bytes"], "rss_above_baseline_bytes")
    if board["cuda_peak_reserved_bytes"].notna().any():
        add("GPU reserved (MiB)", rows["cuda_peak_reserved_bytes"].map(_mib),
            rows["cuda_peak_reserved_bytes"], "cuda_peak_reserved_bytes")
    for column in ("n_train", "n_eval"):
        add(column, rows[column].map(lambda v: "-" if pd.isna(v) else f"{int(v)}"),
            rows[column])
    add("trials × seeds", rows.apply(_runs, axis=1),
        rows["trials"] * rows["seeds"] * rows["data_seeds"])
    return Table(heading, note, pd.DataFrame(shown), pd.DataFrame(keys), directions)


def perplexity_digits(value: float) -> int:
    """Perplexities run from ~2 to the vocabulary's size: a few significant digits, never
    e-notation."""
    return 2 if value < 10 else 1 if value < 1000 else 0


def _fixed(digits: int):
    return lambda value: "-" if pd.isna(value) else f"{value:.{digits}f}"


def _with_interval(row: pd.Series, metric: str, digits) -> str:
    """'point [low, high]', all three with the point's digits (`digits(point)`)."""
    point, low, high = row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if pd.isna(point):
        return "-"
    d = digits(point)
    if pd.isna(low) or pd.isna(high):
        return f"{point:.{d}f}"
    return f"{point:.{d}f} [{low:.{d}f}, {high:.{d}f}]"


def _mib(n_bytes) -> str:
    return "-" if pd.isna(n_bytes) else f"{n_bytes / 2**20:.0f}"


def _runs(row: pd.Series) -> str:
    text = f"{int(row['trials'])} × {int(row['seeds'])}"
    return text + (f" ({int(row['data_seeds'])} draws)" if row["data_seeds"] > 1 else "")
