"""The leaderboard of a generation task: one row per group of records (harness.report.rows),
numbers first (`generation_board`), then one display table per evaluation set
(`generation_tables`), ranked by the task's primary metric (`ranked_by`), best first.

    board = generation_board(ok)       # priced records with status "ok"
    tables = generation_tables(board)  # harness.report.display.Table, one per evaluation set

A row pools its seeds and draws of training rows as the records give them, without reading
predictions: each number is the mean of its records' (the worst record's for memory), and each
interval runs from the lowest record's low end to the highest record's high end. Which metrics,
their headers, formats and arrows are the catalog's (harness.metrics.catalog): the quality
columns are every generation metric of the catalog with a header, in its order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.inputs.kinds import kind_named
from harness.metrics import catalog
from harness.report.display import Columns, Table
from harness.report.rows import (
    backend,
    data_seed,
    group_id,
    row_labels,
    shown_source,
    shown_strategy,
)
from harness.report.tables import eval_sets

def ranked_by(ok: pd.DataFrame) -> catalog.Metric:
    """The metric the task ranks by: the one its latest record names (the task's
    `primary_metric`, or its kind's), where the catalog lets a generation task rank by it."""
    allowed = {metric.name: metric for metric in catalog.primaries(catalog.GENERATION)}
    named = ok.sort_values("started_at")["primary_metric"].dropna() \
        if {"primary_metric", "started_at"} <= set(ok) else pd.Series(dtype=object)
    name = named.iloc[-1] if len(named) else None
    return allowed.get(name, allowed[kind_named(catalog.GENERATION).primary])


def generation_board(ok: pd.DataFrame, primary: catalog.Metric | None = None) -> pd.DataFrame:
    """One row per group of records, by evaluation set then the primary metric (best first,
    then the other quality columns in catalog order); numbers, not strings."""
    primary = primary or ranked_by(ok)
    ok = ok.assign(group=group_id(ok), shown=shown_strategy(ok), backend=backend(ok),
                   source=shown_source(ok), draw=data_seed(ok))
    names, settings = row_labels(ok)
    rows = [_board_row(cells.sort_values(["seed", "draw"]), names[group], settings[group])
            for group, cells in ok.groupby("group", sort=False)]
    board = pd.DataFrame(rows)
    board["eval_set"] = eval_sets(board)
    ties = [m for m in catalog.primaries(catalog.GENERATION) if m is not primary]
    order = [primary, *ties]
    return board.sort_values(["eval_set", *(m.name for m in order)],
                             ascending=[True, *(not m.higher_is_better for m in order)],
                             na_position="last", kind="stable").reset_index(drop=True)


def _board_row(cells: pd.DataFrame, name: str, settings: str) -> dict:
    first = cells.iloc[0]
    return {
        "row": name, "strategy": first["shown"], "model": first["model"],
        "model_source": first["source"], "backend": first["backend"], "settings": settings,
        "n_train": first["n_train"], "n_eval": first["n_eval"],
        "seeds": cells["seed"].nunique(), "data_seeds": cells["draw"].nunique(),
        "trials": int(_number(cells, "trials").fillna(1).max()), **_pooled(cells),
        # The training budget each strategy spent, so that unequal ones are seen
        "trained_steps": _number(cells, "footprint_trained_steps").mean(),
        "style_judge_key": first.get("style_judge_key"),
        "device": first["device"], "device_name": first.get("device_name"),
        "trainable_params": first.get("trainable_params"),
        "total_params": first.get("total_params"),
        "eval_fingerprint": first.get("eval_fingerprint"), "keys": list(cells["key"]),
        "key": first["key"],
    }


def _pooled(cells: pd.DataFrame) -> dict:
    """A row's figures as the catalog pools them: [min low, max high] spans, then means, then
    the worst record's memory."""
    pooled = {}
    for metric in catalog.pooled(catalog.GENERATION, catalog.SPAN):
        value, low, high = metric.fields
        pooled.update({value: _number(cells, value).mean(), low: _number(cells, low).min(),
                       high: _number(cells, high).max()})
    for field in catalog.fields(catalog.pooled(catalog.GENERATION, catalog.MEAN)):
        pooled[field] = _number(cells, field).mean()
    for field in catalog.fields(catalog.pooled(catalog.GENERATION, catalog.MAX)):
        pooled[field] = _number(cells, field).max()
    return pooled


def _number(cells: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column of the records; NaN throughout where no record has it."""
    if column not in cells:
        return pd.Series(np.nan, index=cells.index)
    return pd.to_numeric(cells[column], errors="coerce")


def generation_tables(board: pd.DataFrame, primary: catalog.Metric) -> list[Table]:
    """One table per evaluation set (the largest first); a single set has no heading."""
    if board.empty:
        return []
    tables = []
    for number, rows in board.groupby("eval_set", sort=True):
        rows = rows.reset_index(drop=True)
        heading = f"Evaluation set {int(number)}" if board["eval_set"].nunique() > 1 else ""
        best = "highest" if primary.higher_is_better else "lowest"
        note = (f"{int(rows['n_eval'].iloc[0]):,} evaluation rows; ranked by the task's "
                f"primary metric, {primary.header}, {best} first")
        tables.append(_table(rows, board, heading, note))
    return tables


def _table(rows: pd.DataFrame, board: pd.DataFrame, heading: str, note: str) -> Table:
    columns = Columns(rows)
    if (board["settings"].fillna("") != "").any():
        columns.add("settings", rows["settings"].fillna(""))
    for metric in _shown(rows, quality=True):
        columns.metric(metric.name)
    if rows["trained_steps"].notna().any():
        columns.add("training steps", rows["trained_steps"].map(
            lambda v: "-" if pd.isna(v) else f"{v:.0f}"), rows["trained_steps"])
    columns.metric("fit_cost_usd")
    columns.metric("predict_cost_usd_per_1k", header="per 1M continuations")
    for column in ("n_train", "n_eval"):
        columns.add(column, rows[column].map(lambda v: "-" if pd.isna(v) else f"{int(v)}"),
                    rows[column])
    columns.add("trials × seeds", rows.apply(_runs, axis=1),
                rows["trials"] * rows["seeds"] * rows["data_seeds"])
    # Alike in every row: said once in the note (the table fits a laptop's 1,280 px)
    return columns.table(heading, note, fold={"n_train": "training rows", "n_eval": None,
                                              "trials × seeds": "trials × seeds"})


def generation_resources(board: pd.DataFrame) -> Table | None:
    """What each row takes, below the leaderboard: speed, fit seconds and memory."""
    if board.empty:
        return None
    rows = board.reset_index(drop=True)
    columns = Columns(rows)
    for metric in _shown(rows, quality=False):  # speed: tokens/s, ms/token, TTFT
        columns.metric(metric.name)
    columns.metric("fit_s")
    columns.metric("rss_above_baseline_bytes")
    if rows["cuda_peak_reserved_bytes"].notna().any():
        columns.metric("cuda_peak_reserved_bytes")
    return columns.table("", "")


def _shown(rows: pd.DataFrame, quality: bool) -> list[catalog.Metric]:
    """The generation metrics with a column: quality (pooled as spans, with intervals) on the
    leaderboard, the rest (speed) beside time and memory. A metric no record has (made before
    it was measured) is left out, not shown empty."""
    return [m for m in catalog.own(catalog.GENERATION)
            if m.header and (m.pooling == catalog.SPAN) == quality
            and m.name in rows and rows[m.name].notna().any()]


def _runs(row: pd.Series) -> str:
    text = f"{int(row['trials'])} × {int(row['seeds'])}"
    return text + (f" ({int(row['data_seeds'])} draws)" if row["data_seeds"] > 1 else "")
