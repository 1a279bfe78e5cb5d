"""Tables (pandas) built from run records: the leaderboard, failures and misclassified rows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from harness.backends import DEFAULT
from harness.metrics import paired_bootstrap_pvalue
from harness.store import Store

# Metric, whether higher is better: the report's arrows and the Pareto front use this.
HIGHER_IS_BETTER = {"accuracy": True, "macro_f1": True, "fit_s": False, "throughput_eps": True,
                    "latency_p50_ms": False, "rss_above_baseline_bytes": False,
                    "cost_usd": False}
# What, besides the seed, makes two records the same experiment: rows that differ in any of
# these never pool (other weights, other rows, another device).
_GROUP_COLUMNS = ("strategy", "model", "model_source", "n_train", "n_eval", "train_fingerprint",
                  "eval_fingerprint", "device", "device_name")


def group_id(records: pd.DataFrame) -> pd.Series:
    """Cells that differ only by seed share a group."""
    # map(str), not astype(str): pandas 3 keeps a missing value missing through astype.
    columns = [records[c].map(lambda v: "" if v is None or v != v else str(v))
               if c in records else pd.Series("", index=records.index)
               for c in _GROUP_COLUMNS]
    config = records["config"].map(lambda c: repr(sorted(c.items())))
    return (pd.concat(columns, axis=1).agg(" ".join, axis=1) + " " + config + " "
            + shown_strategy(records) + " " + backend(records))


def latest_per_seed(ok: pd.DataFrame) -> pd.DataFrame:
    """The newest record of each group and seed: a cell recomputed after a change of code,
    packages or task text leaves its old record behind under another key."""
    newest_first = ok.sort_values("started_at", ascending=False) if "started_at" in ok else ok
    return newest_first[~newest_first.assign(group=group_id(newest_first))
                        .duplicated(["group", "seed"])].sort_index()


def backend(records: pd.DataFrame) -> pd.Series:
    """What ran each cell's model; records from before backends existed ran on transformers."""
    if "backend" not in records:
        return pd.Series(DEFAULT, index=records.index)
    return records["backend"].fillna(DEFAULT)


def shown_strategy(records: pd.DataFrame) -> pd.Series:
    """The strategy's name, with the task mixture it was trained on when there was one."""
    if "trained_on" not in records:
        return records["strategy"]
    mixture = records["trained_on"].map(
        lambda t: f" (trained on {'+'.join(x['task'] for x in t)})" if isinstance(t, list) else "")
    return records["strategy"] + mixture


def shown_source(records: pd.DataFrame) -> pd.Series:
    """`model_source` with commit hashes cut to 7 characters; empty for older records."""
    if "model_source" not in records:
        return pd.Series("", index=records.index)
    return records["model_source"].map(
        lambda s: re.sub(r"\b([0-9a-f]{7})[0-9a-f]{5,}\b", r"\1", s) if isinstance(s, str) else "")


def leaderboard(ok: pd.DataFrame, store: Store) -> pd.DataFrame:
    """One row per (strategy, model, weights, data, config, device), best accuracy first;
    numbers, not strings. `ok` holds priced records (harness.cost.price_records)."""
    ok = ok.assign(group=group_id(ok), shown=shown_strategy(ok), backend=backend(ok),
                   source=shown_source(ok))
    rows = [_board_row(cells) for _, cells in ok.groupby("group", sort=False)]
    board = pd.DataFrame(rows).sort_values("accuracy", ascending=False, ignore_index=True)
    board["p_vs_best"] = _p_values_against_best(board, store)
    return board


def _board_row(cells: pd.DataFrame) -> dict:
    first = cells.sort_values("seed").iloc[0]
    mean = {c: _mean(cells, c) for c in (
        "macro_f1", "fit_s", "throughput_eps", "latency_p50_ms", "latency_p95_ms",
        "setup_cost_usd", "fit_cost_usd", "predict_cost_usd_per_1k", "cost_usd")}
    # Memory: the worst seed, the figure one must provision for.
    peak = {c: _max(cells, c) for c in (
        "rss_above_baseline_bytes", "rss_baseline_bytes", "cuda_peak_reserved_bytes",
        "footprint_vllm_reserved_bytes")}
    return {
        "strategy": first["shown"], "model": first["model"], "model_source": first["source"],
        "backend": first["backend"], "seeds": len(cells), "accuracy": cells["accuracy"].mean(),
        "accuracy_seed_std": cells["accuracy"].std(ddof=1) if len(cells) > 1 else np.nan,
        "accuracy_ci_low": first["accuracy_ci_low"] if len(cells) == 1 else np.nan,
        "accuracy_ci_high": first["accuracy_ci_high"] if len(cells) == 1 else np.nan,
        "trials": int(first.get("trials", 1) if pd.notna(first.get("trials", 1)) else 1),
        "accuracy_trial_std": first.get("trial_accuracy_std", np.nan), **mean, **peak,
        # The frozen base of an adapter strategy, else every weight of the model.
        "weight_bytes": _first_present(first, "base_weight_bytes", "weight_bytes"),
        "device": first["device"], "device_name": first.get("device_name"),
        "cpu_threads": _first_present(first, "cpu_threads"),
        "trainable_params": first["trainable_params"], "total_params": first["total_params"],
        "n_train": first["n_train"], "n_eval": first["n_eval"], "key": first["key"],
        "eval_fingerprint": first["eval_fingerprint"],
    }


def _mean(cells: pd.DataFrame, column: str) -> float:
    return pd.to_numeric(cells[column], errors="coerce").mean() if column in cells else np.nan


def _max(cells: pd.DataFrame, column: str) -> float:
    return pd.to_numeric(cells[column], errors="coerce").max() if column in cells else np.nan


def _first_present(record: pd.Series, *names: str) -> float:
    for name in names:
        if name in record and pd.notna(record[name]):
            return float(record[name])
    return np.nan


def _p_values_against_best(board: pd.DataFrame, store: Store) -> list[float]:
    """Paired bootstrap p-value of each row against the best one, on the same evaluation rows."""
    best = board.iloc[0]
    best_correct = _correct(store, best["key"])
    values = []
    for _, row in board.iterrows():
        if row["key"] == best["key"] or row["eval_fingerprint"] != best["eval_fingerprint"]:
            values.append(np.nan)
            continue
        values.append(paired_bootstrap_pvalue(best_correct, _correct(store, row["key"])))
    return values


def _correct(store: Store, key: str) -> np.ndarray:
    frame = store.predictions(key)
    if "correct" in frame:  # several trials: each row's share of correct ones
        return frame["correct"].to_numpy()
    return (frame["label"] == frame["prediction"]).to_numpy()


def failures(records: pd.DataFrame) -> pd.DataFrame:
    failed = records[records["status"] != "ok"]
    if failed.empty:
        return pd.DataFrame(columns=["strategy", "model", "seed", "error"])
    return failed[["strategy", "model", "seed", "error"]].reset_index(drop=True)


def misclassified(ok: pd.DataFrame, store: Store, per_strategy: int = 3) -> dict[str, pd.DataFrame]:
    """A few confidently wrong evaluation rows per strategy, for reading the errors."""
    labels = None
    examples = {}
    ok = ok.assign(source=shown_source(ok))
    for _, record in ok.sort_values("seed").drop_duplicates(
            ["strategy", "model", "source"]).iterrows():
        frame = store.predictions(record["key"])
        score_columns = [c for c in frame.columns if c.startswith("score_")]
        labels = [c.removeprefix("score_") for c in score_columns]
        wrong = frame[frame["label"] != frame["prediction"]].copy()
        wrong["margin"] = wrong[score_columns].max(axis=1) - wrong[score_columns].apply(
            lambda r: r.iloc[int(frame.loc[r.name, "label"])], axis=1)
        top = wrong.sort_values("margin", ascending=False).head(per_strategy)
        model = ", ".join(filter(None, (record["model"], record["source"])))
        examples[f"{record['strategy']} ({model})"] = pd.DataFrame({
            "text": top["text"], "true": [labels[i] for i in top["label"]],
            "predicted": [labels[i] for i in top["prediction"]]})
    return examples
