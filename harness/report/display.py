"""The leaderboard as the report shows it: one table per evaluation set, each cell a string
beside the number it sorts by (HTML sorts on the number, Markdown shows the string).

Columns come from harness.report.tables.leaderboard; one whose inputs are absent (records
written before a field existed) is left out rather than shown empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.report.tables import HIGHER_IS_BETTER

# Rows predicting one class this often are flagged: the prior decides, not the text.
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
        columns = _Columns(rows)
        _quality_columns(rows, board, columns)
        size = int(rows["n_eval"].iloc[0]) if "n_eval" in rows else None
        heading = f"Evaluation set {int(number)}" if sets.nunique() > 1 else ""
        note = (f"{size:,} evaluation rows" if size is not None else "") + (
            "; differences and p-values compare rows of this set only" if sets.nunique() > 1
            else "")
        tables.append(columns.table(heading, note))
    return tables


def resources_table(board: pd.DataFrame) -> Table | None:
    """What each row takes: time, memory, weights, parameters, device."""
    if board.empty:
        return None
    rows = board.reset_index(drop=True)
    columns = _Columns(rows)
    if "model_source" in rows and (rows["model_source"].fillna("") != "").any():
        columns.add("model source", rows["model_source"].fillna(""))
    for column, header, fmt in (("fit_s", "fit (s)", _fixed(1)),
                                ("throughput_eps", "examples/s", _fixed(1)),
                                ("latency_p95_ms", "latency p95 (ms)", _fixed(1))):
        columns.add(header, rows[column].map(fmt), rows[column], column)
    columns.add("RAM above baseline (MiB)", rows["rss_above_baseline_bytes"].map(
        lambda b: _mib(b, "{:.0f}")), rows["rss_above_baseline_bytes"],
        "rss_above_baseline_bytes")
    gpu = [c for c in ("cuda_peak_reserved_bytes", "footprint_vllm_reserved_bytes") if c in rows]
    if gpu and not rows[gpu].isna().all(axis=None):
        columns.add("GPU reserved (MiB)", rows.apply(_gpu_memory, axis=1),
                    rows["cuda_peak_reserved_bytes"], "cuda_peak_reserved_bytes")
    columns.add("weights (MiB)", rows["weight_bytes"].map(lambda b: _mib(b, "{:.1f}")),
                rows["weight_bytes"], "weight_bytes")
    columns.add("set-up (USD, once)", rows["setup_cost_usd"].map(usd), rows["setup_cost_usd"],
                "cost_usd")
    columns.add("trainable / total params", rows.apply(
        lambda r: f"{_count(r['trainable_params'])} / {_count(r['total_params'])}", axis=1),
        rows["trainable_params"])
    columns.add("device", rows.apply(_device, axis=1))
    return columns.table("", "")


class _Columns:
    """Columns gathered for one Table: shown text, sort numbers and directions."""

    def __init__(self, rows: pd.DataFrame):
        self.rows, self.shown, self.keys, self.directions = rows, {}, {}, {}
        self.add("row", rows["row"] if "row" in rows else _fallback_names(rows))

    def add(self, header: str, text, key=None, metric: str | None = None) -> None:
        self.shown[header] = list(text)
        self.keys[header] = list(key) if key is not None else [np.nan] * len(self.rows)
        # The direction of a metric comes from its declaration next to the metrics.
        if metric in HIGHER_IS_BETTER:
            self.directions[header] = HIGHER_IS_BETTER[metric]

    def table(self, heading: str, note: str) -> Table:
        return Table(heading, note, pd.DataFrame(self.shown), pd.DataFrame(self.keys),
                     self.directions)


def _quality_columns(rows: pd.DataFrame, board: pd.DataFrame, columns: _Columns) -> None:
    add = columns.add
    if "settings" in rows and (board["settings"].fillna("") != "").any():
        add("settings", rows["settings"].fillna(""))
    for column in ("n_train", "n_eval"):
        if column in rows:
            add(column, rows[column].map(_int), rows[column])
    add("accuracy (95% CI)", rows.apply(accuracy_text, axis=1), rows["accuracy"], "accuracy")
    add("interval", rows.apply(_interval, axis=1))
    if "diff_vs_best" in rows:
        add("Δ vs best (95% CI)", rows.apply(_difference, axis=1),
            rows["diff_vs_best"].where(~_is_best(rows), 0.0), "accuracy")
    if "p_holm" in rows:
        add("p vs best (Holm)", rows.apply(_p_value, axis=1), rows["p_holm"])
    for column, header in (("macro_f1", "macro-F1"), ("ece", "ECE"), ("brier", "Brier"),
                           ("nll", "NLL")):
        if column in rows:
            add(header, rows[column].map(_fixed(3)), rows[column], column)
    if "majority_share" in rows:
        add("top class share", rows.apply(_majority, axis=1), rows["majority_share"])
    add("latency p50 (ms)", rows["latency_p50_ms"].map(_fixed(1)), rows["latency_p50_ms"],
        "latency_p50_ms")
    for column, header in (("fit_cost_usd", "fit (USD)"),
                           ("predict_cost_usd_per_1k", "USD per 1k predictions")):
        add(header, rows[column].map(usd), rows[column], "cost_usd")


def _fallback_names(rows: pd.DataFrame) -> pd.Series:
    return rows["strategy"] + " (" + rows["model"] + ")"


def _is_best(rows: pd.DataFrame) -> pd.Series:
    if "is_best" in rows:
        return rows["is_best"].fillna(False).astype(bool)
    return pd.Series(False, index=rows.index)


def accuracy_text(row) -> str:
    """0.812 [0.776, 0.843]; the estimate alone when there is no interval."""
    low, high = row.get("accuracy_ci_low", np.nan), row.get("accuracy_ci_high", np.nan)
    if pd.isna(low) or pd.isna(high):
        return f"{row['accuracy']:.3f}"
    return f"{row['accuracy']:.3f} [{low:.3f}, {high:.3f}]"


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


def _majority(row) -> str:
    share = row.get("majority_share", np.nan)
    if pd.isna(share):
        return "-"
    text = f"{share:.0%} {row.get('majority_label', '')}".strip()
    return text + (" ⚠" if share > MAJORITY_WARNING_SHARE else "")


def _fixed(digits: int):
    return lambda value: "-" if pd.isna(value) else f"{value:.{digits}f}"


def _int(value) -> str:
    return "-" if pd.isna(value) else f"{int(value)}"


def _mib(n_bytes, fmt: str) -> str:
    return "-" if pd.isna(n_bytes) else fmt.format(n_bytes / 2**20)


def _gpu_memory(row) -> str:
    text = _mib(row.get("cuda_peak_reserved_bytes"), "{:.0f}")
    if pd.notna(row.get("footprint_vllm_reserved_bytes")):
        text += f" (vLLM {_mib(row['footprint_vllm_reserved_bytes'], '{:.0f}')})"
    return text


def usd(value) -> str:
    # Three significant digits, never in e-notation: costs span 1e-7 (tf-idf) to dollars;
    # under a millionth of a dollar the digits say nothing a reader needs.
    if pd.isna(value):
        return "-"
    if 0 < value < 1e-6:
        return "<0.000001"
    return np.format_float_positional(value, precision=3, unique=False, fractional=False,
                                      trim="-")


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
