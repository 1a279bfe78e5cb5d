"""Tables (pandas) built from run records: the leaderboard, failures and misclassified rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.backends import DEFAULT
from harness.metrics import paired_bootstrap_pvalue
from harness.store import Store

# Metric, whether higher is better: the report's arrows and the Pareto front use this.
HIGHER_IS_BETTER = {"accuracy": True, "macro_f1": True, "fit_s": False, "throughput_eps": True,
                    "latency_p50_ms": False, "peak_memory_bytes": False, "cost_usd": False}


def group_id(records: pd.DataFrame) -> pd.Series:
    """Cells that differ only by seed share a group (the key minus its seed and hash)."""
    columns = ["strategy", "model", "n_train", "n_eval", "train_fingerprint", "eval_fingerprint"]
    config = records["config"].map(lambda c: repr(sorted(c.items())))
    return (records[columns].astype(str).agg(" ".join, axis=1) + " " + config + " "
            + shown_strategy(records) + " " + backend(records))


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


def leaderboard(ok: pd.DataFrame, store: Store) -> pd.DataFrame:
    """One row per (strategy, model, data, config), best accuracy first; numbers, not strings."""
    ok = ok.assign(group=group_id(ok), shown=shown_strategy(ok), backend=backend(ok))
    rows = []
    for _, cells in ok.groupby("group", sort=False):
        first = cells.sort_values("seed").iloc[0]
        rows.append({
            "strategy": first["shown"], "model": first["model"], "backend": first["backend"],
            "seeds": len(cells), "accuracy": cells["accuracy"].mean(),
            "accuracy_seed_std": cells["accuracy"].std(ddof=1) if len(cells) > 1 else np.nan,
            "accuracy_ci_low": first["accuracy_ci_low"] if len(cells) == 1 else np.nan,
            "accuracy_ci_high": first["accuracy_ci_high"] if len(cells) == 1 else np.nan,
            "trials": int(first.get("trials", 1) if pd.notna(first.get("trials", 1)) else 1),
            "accuracy_trial_std": first.get("trial_accuracy_std", np.nan),
            "macro_f1": cells["macro_f1"].mean(), "fit_s": cells["fit_s"].mean(),
            "throughput_eps": cells["throughput_eps"].mean(),
            "latency_p50_ms": cells["latency_p50_ms"].mean(),
            "latency_p95_ms": cells["latency_p95_ms"].mean(),
            "peak_memory_bytes": cells["peak_memory_bytes"].max(),
            # The frozen base of an adapter strategy, else every weight of the model.
            "weight_bytes": _first_present(first, "base_weight_bytes", "weight_bytes"),
            "cost_usd": cells["cost_usd"].mean(), "device": first["device"],
            "trainable_params": first["trainable_params"], "total_params": first["total_params"],
            "n_train": first["n_train"], "n_eval": first["n_eval"], "key": first["key"],
            "eval_fingerprint": first["eval_fingerprint"],
        })
    board = pd.DataFrame(rows).sort_values("accuracy", ascending=False, ignore_index=True)
    board["p_vs_best"] = _p_values_against_best(board, store)
    return board


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
    for _, record in ok.sort_values("seed").drop_duplicates(["strategy", "model"]).iterrows():
        frame = store.predictions(record["key"])
        score_columns = [c for c in frame.columns if c.startswith("score_")]
        labels = [c.removeprefix("score_") for c in score_columns]
        wrong = frame[frame["label"] != frame["prediction"]].copy()
        wrong["margin"] = wrong[score_columns].max(axis=1) - wrong[score_columns].apply(
            lambda r: r.iloc[int(frame.loc[r.name, "label"])], axis=1)
        top = wrong.sort_values("margin", ascending=False).head(per_strategy)
        examples[f"{record['strategy']} ({record['model']})"] = pd.DataFrame({
            "text": top["text"], "true": [labels[i] for i in top["label"]],
            "predicted": [labels[i] for i in top["prediction"]]})
    return examples
