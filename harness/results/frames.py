"""Results as data, for notebooks: every record as a row of a DataFrame, and the per-row
predictions of any one of them.

    from harness.results.frames import load_results, load_predictions
    results = load_results("results")                    # one row per valid record
    ok = results[results["status"] == "ok"]
    rows = load_predictions("results", ok["key"].iloc[0])  # text, label, prediction, score_<label>

The leaderboard of a report, with numeric columns, is `reports/<task>.csv`.
"""

from __future__ import annotations

import os

import pandas as pd

from harness.errors import HarnessError
from harness.results.groups import inference, superseded
from harness.results.store import SCORE_PREFIX, Store


def load_results(path: str | os.PathLike = "results", strict: bool = False) -> pd.DataFrame:
    """One row per valid record of the results folder at `path` (finished, failed and skipped
    cells alike: see `status`), columns as the records name them; nested fields (`config`,
    `code`, `packages`) stay dicts. Records too old to carry `labels` get them from their
    predictions. `inference` names how every row predicted: "default" (the model as fitted)
    or an inference variant (int8, merged, ...), whose rows are other measurements of the same
    fitted model; `superseded` marks a record that a newer one of the same cell replaces (a
    recomputation after a change of code or packages: reports read the newest). An invalid
    record is skipped with a warning (an error when `strict`)."""
    store = _store(path)
    records = pd.DataFrame(store.records(strict=strict))
    if records.empty:
        return records
    records["inference"] = inference(records)
    records["superseded"] = superseded(records)
    return with_labels(records, store, {}).reset_index(drop=True)


def load_predictions(path: str | os.PathLike, key: str) -> pd.DataFrame:
    """The evaluation rows of the record `key`: index, text, label, prediction (more columns
    with trials: prediction_trial<N>, correct) and one score_<label> column per label."""
    store = _store(path)
    if store.load(key) is None:
        raise HarnessError(f"no valid record '{key}' in '{store.root}'")
    return store.predictions(key)


def with_labels(records: pd.DataFrame, store: Store,
                task_labels: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """`records` with `labels` (the task's label names in task order) on every finished one.

    Records before schema 3 do not carry them, and their `per_class_f1` dict lost its order to
    the JSON writer's sorted keys: the order comes from their predictions file, whose score
    columns the runner wrote in task order, else from the task (`task_labels` by task name)."""
    records = records.copy()
    if "labels" not in records:
        records["labels"] = None
    for index, record in records.iterrows():
        if record["status"] == "ok" and not isinstance(record["labels"], list):
            records.at[index, "labels"] = (_score_labels(store, record["key"])
                                           or list(task_labels.get(record["task"], ()))
                                           or None)
    return records


def _score_labels(store: Store, key: str) -> list[str]:
    try:
        header = pd.read_csv(store.predictions_path(key), nrows=0).columns
    except (OSError, ValueError):
        return []
    return [c.removeprefix(SCORE_PREFIX) for c in header if c.startswith(SCORE_PREFIX)]


def _store(path) -> Store:
    store = Store(path)
    if not store.root.is_dir():
        raise HarnessError(f"results folder '{path}' does not exist")
    return store
