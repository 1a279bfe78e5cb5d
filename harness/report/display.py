"""The leaderboard as the report shows it: one table per evaluation set, each cell a string
beside the number it sorts by (HTML sorts on the number, Markdown shows the string).

Columns come from harness.report.tables.leaderboard; one whose inputs are absent (records
written before a field existed) is left out rather than shown empty. A metric's header, format
and arrow are its catalog row's (harness.metrics.catalog); the quality columns are every
classification metric of the catalog with a header, in its order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.metrics import catalog, stats
from harness.report.formats import FORMATS, metric_text

# Rows predicting one class this often are flagged: the prior decides, not the text.
_P_CONDITIONAL = "p caveat"  # beside "p vs best": whether it is conditional on one run
MAJORITY_WARNING_SHARE = 0.9


@dataclass(frozen=True)
class Table:
    """One leaderboard table: what is shown and, per cell, the number it sorts by (NaN: text)."""

    heading: str  # Markdown (our own text; values in it escaped)
    note: str
    shown: pd.DataFrame
    sort_keys: pd.DataFrame
    higher_is_better: dict  # shown column -> True / False, where a direction is known


def leaderboard_tables(board: pd.DataFrame) -> list[Table]:
    """What each row gets and what it costs, one table per evaluation set (the largest
    first); a single set has no heading of its own."""
    if board.empty:
        return []
    sets = board["eval_set"] if "eval_set" in board else pd.Series(1, index=board.index)
    tables = []
    for number, rows in board.groupby(sets, sort=True):
        rows = rows.reset_index(drop=True)
        columns = Columns(rows)
        _quality_columns(rows, board, columns)
        size = int(rows["n_eval"].iloc[0]) if "n_eval" in rows else None
        heading = f"Evaluation set {int(number)}" if sets.nunique() > 1 else ""
        note = (f"{size:,} evaluation rows" if size is not None else "") + (
            "; differences and p-values compare rows of this set only" if sets.nunique() > 1
            else "")
        tables.append(columns.table(heading, note, fold=FOLDED))
    return tables


# Columns whose cells are all alike say it once, in the table's note: the leaderboard fits a
# laptop's screen (1,280 px) rather than repeating "2000 | 1000 | covers rows only" per row.
FOLDED = {"n_train": "training rows", "n_eval": None, "interval": "intervals",
          _P_CONDITIONAL: "p-values"}


def resources_table(board: pd.DataFrame) -> Table | None:
    """What each row takes: time, memory, weights, parameters, device."""
    if board.empty:
        return None
    rows = board.reset_index(drop=True)
    columns = Columns(rows)
    if "model_source" in rows and (rows["model_source"].fillna("") != "").any():
        columns.add("model source", rows["model_source"].fillna(""))
    for name in ("fit_s", "throughput_eps", "latency_p95_ms", "rss_above_baseline_bytes"):
        columns.metric(name)
    gpu = [c for c in ("cuda_peak_reserved_bytes", "footprint_vllm_reserved_bytes") if c in rows]
    if gpu and not rows[gpu].isna().all(axis=None):
        columns.metric("cuda_peak_reserved_bytes", rows.apply(_gpu_memory, axis=1))
    for name in ("weight_bytes", "setup_cost_usd"):
        columns.metric(name)
    columns.add("trainable / total params", rows.apply(
        lambda r: f"{_count(r['trainable_params'])} / {_count(r['total_params'])}", axis=1),
        rows["trainable_params"])
    columns.add("device", rows.apply(_device, axis=1))
    return columns.table("", "")


class Columns:
    """Columns gathered for one Table: shown text, sort numbers and directions."""

    def __init__(self, rows: pd.DataFrame):
        self.rows, self.shown, self.keys, self.directions = rows, {}, {}, {}
        self.add("row", rows["row"] if "row" in rows else _fallback_names(rows))

    def add(self, header: str, text, key=None, metric: str | None = None) -> None:
        self.shown[header] = list(text)
        self.keys[header] = list(key) if key is not None else [np.nan] * len(self.rows)
        # The direction of a metric comes from its row in the catalog, next to the metrics.
        if catalog.direction(metric) is not None:
            self.directions[header] = catalog.direction(metric)

    def metric(self, name: str, text=None, header: str | None = None) -> None:
        """A catalog metric's column: its header, its values in its format (or `text`), sorted
        by its value, with its arrow."""
        metric = catalog.METRICS[name]
        if text is None:
            text = self.rows.apply(lambda row: metric_text(metric, row), axis=1)
        self.add(header or metric.column, text, self.rows[name], name)

    def table(self, heading: str, note: str, fold: dict | None = None) -> Table:
        """`fold`: header -> how the note names it (None: the note already says it), for
        columns to leave out, said once in the note, where every row shows the same."""
        shown, keys, said = dict(self.shown), dict(self.keys), []
        for header, words in (fold or {}).items():
            values = set(shown.get(header, ()))
            if header in shown and len(values) == 1:
                del shown[header], keys[header]
                value = values.pop()
                if words and value:
                    said.append(f"{words}: {value}")
        note = "; ".join(filter(None, [note, *said]))
        return Table(heading, note, pd.DataFrame(shown), pd.DataFrame(keys), self.directions)


def _quality_columns(rows: pd.DataFrame, board: pd.DataFrame, columns: Columns) -> None:
    add = columns.add
    if "settings" in rows and (board["settings"].fillna("") != "").any():
        add("settings", rows["settings"].fillna(""))
    for column in ("n_train", "n_eval"):
        if column in rows:
            add(column, rows[column].map(_int), rows[column])
    columns.metric("accuracy")
    add("interval", rows.apply(_interval, axis=1))
    if "diff_vs_best" in rows:
        add("Δ vs best (95% CI)", rows.apply(_difference, axis=1),
            rows["diff_vs_best"].where(~_is_best(rows), 0.0), "accuracy")
    if "p_holm" in rows:
        add("p vs best (Holm)", rows.apply(_p_value, axis=1), rows["p_holm"])
        # Its own column, so that the note says it once where every row shares it
        add(_P_CONDITIONAL, rows.apply(_conditional, axis=1))
    for metric in catalog.own(catalog.CLASSIFICATION):  # accuracy's is above
        if metric.pooling == catalog.MEAN and metric.header and metric.name in rows:
            columns.metric(metric.name)
    if "majority_share" in rows:
        add("top class share", rows.apply(_majority, axis=1), rows["majority_share"])
    for name in ("latency_p50_ms", "fit_cost_usd", "predict_cost_usd_per_1k"):
        columns.metric(name)


def _fallback_names(rows: pd.DataFrame) -> pd.Series:
    return rows["strategy"] + " (" + rows["model"] + ")"


def _is_best(rows: pd.DataFrame) -> pd.Series:
    if "is_best" in rows:
        return rows["is_best"].fillna(False).astype(bool)
    return pd.Series(False, index=rows.index)


def accuracy_text(row) -> str:
    """0.812 [0.776, 0.843]; the estimate alone when there is no interval."""
    return metric_text(catalog.METRICS["accuracy"], row)


def _interval(row) -> str:
    """How the interval was made, with the spread between seeds and trials where there is one."""
    parts = [str(row["interval"])] if isinstance(row.get("interval"), str) else []
    for count, spread, what in (("seeds", "accuracy_seed_std", "seeds"),
                                ("trials", "accuracy_trial_std", "trials")):
        n, sd = row.get(count, 1), row.get(spread, np.nan)
        if pd.notna(n) and n > 1 and pd.notna(sd) and sd > 0:
            parts.append(f"sd {sd:.3f} over {int(n)} {what}")
    return "; ".join(parts)


def _best(row) -> bool:
    value = row.get("is_best", False)
    return isinstance(value, (bool, np.bool_)) and bool(value)


def _difference(row) -> str:
    if _best(row):
        return "best"
    diff, low, high = (row.get(c, np.nan) for c in ("diff_vs_best", "diff_ci_low", "diff_ci_high"))
    if pd.isna(diff):
        return "n/a"
    text = f"{diff:+.3f}"
    return text if pd.isna(low) or pd.isna(high) else f"{text} [{low:+.3f}, {high:+.3f}]"


def _p_value(row) -> str:
    if _best(row):
        return "best"
    p = row.get("p_holm", np.nan)
    if pd.isna(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _conditional(row) -> str:
    # The best row's own: so that a board of single runs says it once
    alone = row.get("conditional") == True if _best(row) else (  # noqa: E712 - NaN: no
        row.get("verdict") == stats.CONDITIONAL)
    return stats.CONDITIONAL if alone else ""


def _majority(row) -> str:
    share = row.get("majority_share", np.nan)
    if pd.isna(share):
        return "-"
    text = f"{share:.0%} {row.get('majority_label', '')}".strip()
    return text + (" ⚠" if share > MAJORITY_WARNING_SHARE else "")


def _int(value) -> str:
    return "-" if pd.isna(value) else f"{int(value)}"


def _gpu_memory(row) -> str:
    mib = FORMATS[catalog.METRICS["cuda_peak_reserved_bytes"].format]
    text = mib(row.get("cuda_peak_reserved_bytes"))
    if pd.notna(row.get("footprint_vllm_reserved_bytes")):
        text += f" (vLLM {mib(row['footprint_vllm_reserved_bytes'])})"
    return text


def _device(row) -> str:
    if row["device"] == "cpu":
        threads = row.get("cpu_threads")
        return "cpu" if pd.isna(threads) else f"cpu, {int(threads)} threads"
    name = row.get("device_name")
    return str(name) if pd.notna(name) else str(row["device"])


def _count(n) -> str:
    if pd.isna(n):
        return "-"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{int(n)}"
