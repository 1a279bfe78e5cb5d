"""Tables (pandas) built from run records: the leaderboard, a row's per-class scores and
confusion matrix, failures and confidently wrong rows. Every statistic comes from
harness.metrics.stats.

    board = leaderboard(ok, store)       # one row per group of records, numbers not strings
    per_class(board.iloc[0], ok); confusion(board.iloc[0], ok); misclassified(ok, store)

A row pools its records (seeds, data seeds) and their trials: each evaluation row's correctness
is averaged over all of them, the accuracy interval is two-level over those clusters and the
rows (Wilson for one record with one trial), and rows are compared only with rows scored on the
same evaluation rows (`eval_set`), paired over those rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.metrics import catalog, stats
from harness.api.variants import DEFAULT as OWN_INFERENCE
from harness.report.rows import (
    backend,
    data_seed,
    endpoint_label,
    group_id,
    inference,
    latest_per_seed,
    row_labels,
    shown_source,
    shown_strategy,
    tune_budget,
)
from harness.results.store import Store

__all__ = ["backend", "confusion", "correctness", "failures", "first_answers", "group_id",
           "latest_per_seed", "leaderboard", "misclassified", "per_class", "record_accuracy",
           "shown_source", "shown_strategy"]

def leaderboard(ok: pd.DataFrame, store: Store) -> pd.DataFrame:
    """One row per group of records, by evaluation set then accuracy, best first; numbers, not
    strings. `ok` holds priced records (harness.results.cost.price_records)."""
    ok = ok.assign(group=group_id(ok), shown=shown_strategy(ok), backend=backend(ok),
                   source=shown_source(ok), draw=data_seed(ok), tuned=tune_budget(ok),
                   variant=inference(ok), endpoint_label=endpoint_label(ok))
    names, settings = row_labels(ok)
    rows, pooled = [], []
    for group, cells in ok.groupby("group", sort=False):
        cells = cells.sort_values(["seed", "draw"])
        correct = _Correctness.read(cells, store)
        rows.append(_board_row(cells, correct, names[group], settings[group]))
        pooled.append(correct.clustered)
    board = pd.DataFrame(rows)
    board["eval_set"] = eval_sets(board)
    board = board.assign(_order=range(len(board))).sort_values(
        ["eval_set", "accuracy"], ascending=[True, False], kind="stable")
    pooled = [pooled[i] for i in board["_order"]]
    board = board.drop(columns="_order").reset_index(drop=True)
    return pd.concat([board, _comparisons(board, pooled)], axis=1)


class _Correctness:
    """A row's predictions read once: correctness per (record, trial) cluster and row."""

    def __init__(self, matrix: np.ndarray, trials: list[int], counts: np.ndarray, labels: list):
        self.matrix, self.trials, self.counts, self.labels = matrix, trials, counts, labels
        self.clustered = stats.Clustered.of(matrix)

    @classmethod
    def read(cls, cells: pd.DataFrame, store: Store) -> _Correctness:
        blocks, trials, labels, counts = [], [], None, None
        for _, record in cells.iterrows():
            frame = store.predictions(record["key"])
            columns = ["prediction"] + sorted(
                (c for c in frame if c.startswith("prediction_trial")),
                key=lambda c: int(c.removeprefix("prediction_trial")))
            predicted = frame[columns].to_numpy(dtype=np.int64).T
            blocks.append(predicted == frame["label"].to_numpy(dtype=np.int64)[None, :])
            trials.append(len(columns))
            if labels is None:
                # The record's own; older records: the score columns, written in task order.
                labels = record.get("labels")
                if not isinstance(labels, list):
                    labels = [c.removeprefix("score_") for c in frame if c.startswith("score_")]
            found = np.bincount(predicted.ravel(), minlength=len(labels))
            counts = found if counts is None else counts + found
        return cls(np.concatenate(blocks), trials, counts, labels)

    def _spans(self):
        """(first, last + 1) cluster of each record."""
        return itertools.pairwise(np.cumsum([0, *self.trials]))

    def record_accuracies(self) -> np.ndarray:
        return np.array([self.matrix[a:b].mean() for a, b in self._spans()])

    def trial_std(self) -> float:
        """Spread between trials within a record, pooled over records."""
        variances = [self.matrix[a:b].mean(axis=1).var(ddof=1)
                     for a, b in self._spans() if b - a > 1]
        return float(np.sqrt(np.mean(variances))) if variances else np.nan


def _board_row(cells: pd.DataFrame, correct: _Correctness, name: str, settings: str) -> dict:
    first = cells.iloc[0]
    interval = correct.clustered.interval()
    accuracies = correct.record_accuracies()
    majority = int(np.argmax(correct.counts))
    return {
        "row": name, "strategy": first["shown"], "model": first["model"],
        "model_source": first["source"], "backend": first["backend"], "settings": settings,
        "endpoint": first["endpoint_label"],
        "inference": first["variant"],
        "n_train": first["n_train"], "n_eval": first["n_eval"],
        "n_per_class": first.get("n_per_class", np.nan),
        "seeds": cells["seed"].nunique(), "data_seeds": cells["draw"].nunique(),
        "trials": max(correct.trials),
        "tune": int(first["tuned"]), "conditional": _conditional(first, correct),
        "accuracy": correct.clustered.accuracy, "accuracy_ci_low": interval.low,
        "accuracy_ci_high": interval.high, "interval": _interval_text(cells, correct, interval),
        "accuracy_seed_std": accuracies.std(ddof=1) if len(accuracies) > 1 else np.nan,
        "accuracy_trial_std": correct.trial_std(),
        **_pooled(cells),
        "majority_label": correct.labels[majority],
        "majority_share": correct.counts[majority] / max(correct.counts.sum(), 1),
        # The frozen base of an adapter strategy, else every weight of the model.
        "weight_bytes": _first_present(first, "base_weight_bytes", "weight_bytes"),
        "device": first["device"], "device_name": first.get("device_name"),
        "cpu_threads": _first_present(first, "cpu_threads"),
        "trainable_params": first.get("trainable_params"),
        "total_params": first.get("total_params"),
        **_busy(cells),
        "eval_fingerprint": first.get("eval_fingerprint"), "keys": list(cells["key"]),
        "key": first["key"], "labels": list(correct.labels),
    }


def _busy(cells: pd.DataFrame) -> dict:
    """How many of the row's records were timed on a busy machine (harness.cell.measure), and
    the most runnable threads any of them saw per core."""
    if "machine_busy" not in cells:
        return {"busy_records": 0, "busy_threads_per_core": np.nan}
    busy = cells[cells["machine_busy"].map(lambda value: value is True)]
    crowding = [record.get(f"{phase}_runnable_threads", np.nan)
                / max(record.get("host_cpu_count") or 1, 1)
                for _, record in busy.iterrows() for phase in record.get("busy_phases") or []]
    return {"busy_records": len(busy),
            "busy_threads_per_core": max(crowding) if crowding else np.nan}


def _pooled(cells: pd.DataFrame) -> dict:
    """A row's figures besides accuracy, as the catalog pools them: means, and the worst
    record's memory (what one must provision for)."""
    means = catalog.fields(catalog.pooled(catalog.CLASSIFICATION, catalog.MEAN))
    peaks = catalog.fields(catalog.pooled(catalog.CLASSIFICATION, catalog.MAX))
    return {**{c: _mean(cells, c) for c in means}, **{c: _max(cells, c) for c in peaks}}


def _conditional(record: pd.Series, correct: _Correctness) -> bool:
    """One run (one record with one trial) of a strategy whose runs differ: how far another
    run would land is unknown. A record from before `deterministic` was stored counts as one."""
    deterministic = record.get("deterministic")
    return correct.clustered.clusters == 1 and not (
        isinstance(deterministic, (bool, np.bool_)) and bool(deterministic))


def _interval_text(cells: pd.DataFrame, correct: _Correctness, interval) -> str:
    """What the interval covers (stats.covers) and how it was made."""
    seeds, draws, trials = cells["seed"].nunique(), cells["draw"].nunique(), max(correct.trials)
    covered = stats.covers(seeds, draws, trials)
    if interval.method == "Wilson":
        if _conditional(cells.iloc[0], correct):
            return f"covers rows only, Wilson: {stats.CONDITIONAL}"
        if covered != "rows":
            return f"covers {covered}, Wilson (identical predictions)"
        return "covers rows, Wilson (deterministic: another seed predicts alike)"
    df = f"{interval.df:.1f}" if interval.df < 100 else f"{interval.df:.0f}"
    return f"covers {covered}, two-level t on {df} df"


def eval_sets(board: pd.DataFrame) -> pd.Series:
    """1, 2, ... per distinct evaluation rows: 1 is the set with the most rows."""
    sets = pd.DataFrame({"fingerprint": board["eval_fingerprint"].map(
        lambda f: "" if pd.isna(f) else str(f)), "n": board["n_eval"]})
    order = sets.drop_duplicates("fingerprint").sort_values(
        ["n", "fingerprint"], ascending=[False, True])["fingerprint"]
    number = {f: i for i, f in enumerate(order, 1)}
    return sets["fingerprint"].map(number)


def _comparisons(board: pd.DataFrame, pooled: list) -> pd.DataFrame:
    """Each row against the best of its evaluation set: the paired difference, its interval
    and p-value, and the p-value Holm-adjusted over every pair of rows of that set (the best is
    picked by the same data, so the family is all pairs, not only those with the best)."""
    out = pd.DataFrame(np.nan, index=board.index, columns=[
        "diff_vs_best", "diff_ci_low", "diff_ci_high", "p_vs_best", "p_holm"])
    verdicts = pd.Series(None, index=board.index, dtype=object)
    is_best = pd.Series(False, index=board.index)
    for _, members in board.groupby("eval_set", sort=False):
        best = members["accuracy"].idxmax()  # the board is sorted: the first of equals
        is_best[best] = True
        pairs = list(itertools.combinations(members.index, 2))
        raw = np.array([stats.paired_difference(pooled[a], pooled[b]).p for a, b in pairs])
        adjusted = dict(zip(pairs, stats.holm(raw)))
        for row in members.index.drop(best):
            diff = stats.paired_difference(pooled[row], pooled[best])
            p_holm = adjusted[(min(row, best), max(row, best))]
            out.loc[row] = [diff.diff, diff.low, diff.high, diff.p, p_holm]
            verdicts[row] = stats.verdict(p_holm, bool(board.loc[row, "conditional"]
                                                       or board.loc[best, "conditional"]))
    return pd.concat([is_best.rename("is_best"), out, verdicts.rename("verdict")], axis=1)


def _mean(cells: pd.DataFrame, column: str) -> float:
    return pd.to_numeric(cells[column], errors="coerce").mean() if column in cells else np.nan


def _max(cells: pd.DataFrame, column: str) -> float:
    return pd.to_numeric(cells[column], errors="coerce").max() if column in cells else np.nan


def _first_present(record: pd.Series, *names: str) -> float:
    for name in names:
        if name in record and pd.notna(record[name]):
            return float(record[name])
    return np.nan


def _row_records(board_row: pd.Series, ok: pd.DataFrame) -> pd.DataFrame:
    return ok[ok["key"].isin(board_row["keys"])]


def correctness(board_row: pd.Series, ok: pd.DataFrame, store: Store) -> np.ndarray:
    """(clusters, evaluation rows) of 0/1: a row's records x trials, as the leaderboard pools
    them."""
    cells = _row_records(board_row, ok).assign(draw=lambda r: data_seed(r))
    return _Correctness.read(cells.sort_values(["seed", "draw"]), store).matrix


def record_accuracy(record: pd.Series, store: Store) -> tuple[float, float, float]:
    """(accuracy, 95% low, high) of one record, its trials pooled as a leaderboard row pools
    them, so that a table beside the leaderboard shows the same interval for the same record."""
    clustered = _Correctness.read(record.to_frame().T, store).clustered
    interval = clustered.interval()
    return clustered.accuracy, interval.low, interval.high


def per_class(board_row: pd.Series, ok: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall, F1 (means over the row's records) and support, in task label order.
    Records from before per-class lists get them from their confusion matrix."""
    labels = list(board_row["labels"])
    scores = np.array([_record_per_class(r, len(labels))
                       for _, r in _row_records(board_row, ok).iterrows()])
    present = ~np.isnan(scores)
    count = present.sum(axis=0)
    mean = np.where(count > 0, np.where(present, scores, 0).sum(axis=0) / np.maximum(count, 1),
                    np.nan)  # NaN where no record defines the score
    return pd.DataFrame({"label": labels, "precision": mean[0], "recall": mean[1],
                         "f1": mean[2], "support": scores[0, 3]})


def _record_per_class(record: pd.Series, k: int) -> np.ndarray:
    """(4, k): precision, recall, f1, support; NaN where undefined."""
    lists = [record.get(f"per_class_{name}") for name in ("precision", "recall", "f1",
                                                          "support")]
    if all(isinstance(values, list) and len(values) == k for values in lists):
        return np.array([[np.nan if v is None else v for v in values] for values in lists],
                        dtype=np.float64)
    matrix = np.asarray(record["confusion_matrix"], dtype=np.float64)  # summed over trials
    trials = pd.to_numeric(record.get("trials"), errors="coerce")
    trials = 1 if pd.isna(trials) else int(trials)
    hits, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support > 0, 2 * hits / (support + predicted), np.nan)
    return np.array([precision, recall, f1, support / max(trials, 1)])


def confusion(board_row: pd.Series, ok: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """(labels in task order, the row's confusion matrix averaged over its records and their
    trials: one evaluation pass's counts, comparable with a single-trial row's): rows are true
    labels, columns predictions."""
    records = _row_records(board_row, ok)
    matrices = [np.asarray(m, dtype=np.float64) for m in records["confusion_matrix"]]
    trials = records["trials"] if "trials" in records else pd.Series(1, index=records.index)
    passes = float(pd.to_numeric(trials, errors="coerce").fillna(1).clip(lower=1).sum())
    return list(board_row["labels"]), np.sum(matrices, axis=0) / passes


def failures(records: pd.DataFrame) -> pd.DataFrame:
    columns = ["strategy", "model", "seed", "data_seed", "error"]
    failed = records[records["status"] != "ok"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    variant = inference(failed)
    if (variant != OWN_INFERENCE).any():  # a variant the device could not run, beside its cell
        failed = failed.assign(inference=variant)
        columns.insert(2, "inference")
    return failed.reindex(columns=columns).reset_index(drop=True)


@dataclass(frozen=True)
class Answers:
    """What a leaderboard row answered on its first record's first trial, by evaluation row."""

    frame: pd.DataFrame  # the predictions file, in evaluation-row order
    labels: list  # label names, by index
    predicted: np.ndarray
    confidence: np.ndarray  # the probability it gave its answer (NaN without scores)


def first_answers(ok: pd.DataFrame, store: Store) -> dict[str, Answers]:
    """Each leaderboard row's answers (its first record by seed and draw), keyed by its name."""
    ok = ok.assign(group=group_id(ok), draw=data_seed(ok))
    names, _ = row_labels(ok)
    answers = {}
    for group, cells in ok.groupby("group", sort=False):
        record = cells.sort_values(["seed", "draw"]).iloc[0]
        frame = store.predictions(record["key"]).sort_values("index")
        scores = [c for c in frame if c.startswith("score_")]
        labels = record.get("labels") if isinstance(record.get("labels"), list) else [
            c.removeprefix("score_") for c in scores]
        predicted = frame["prediction"].to_numpy(dtype=np.int64)
        confidence = (stats.probabilities(frame[scores].to_numpy(dtype=np.float64))
                      [np.arange(len(predicted)), predicted] if scores
                      else np.full(len(predicted), np.nan))
        answers[names[group]] = Answers(frame, labels, predicted, confidence)
    return answers


def misclassified(ok: pd.DataFrame, store: Store, per_row: int = 3) -> dict[str, pd.DataFrame]:
    """The most confidently wrong evaluation rows of each leaderboard row (its first record's
    first trial), keyed by the row's name: text, true and predicted label, the probability the
    strategy gave its prediction."""
    examples = {}
    for name, answer in first_answers(ok, store).items():
        frame, predicted, confidence = answer.frame, answer.predicted, answer.confidence
        wrong = np.flatnonzero(predicted != frame["label"].to_numpy(dtype=np.int64))
        top = wrong[np.argsort(-confidence[wrong], kind="stable")][:per_row]
        examples[name] = pd.DataFrame({
            "text": frame["text"].to_numpy()[top],
            "true": [answer.labels[i] for i in frame["label"].to_numpy()[top]],
            "predicted": [answer.labels[i] for i in predicted[top]],
            "confidence": confidence[top]})
    return examples
