"""The leaderboard's statistics from synthetic records in a real Store: seeds and data seeds
pooled, comparisons only within an evaluation set, Holm, row names and settings, per-class
tables and confusion matrices in the task's label order, and old records still read."""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from harness.api import registry
from harness.errors import HarnessError
from harness.metrics import stats
from harness.inputs.data import Split
from harness.metrics.classification import record_metrics
from harness.report.tables import confusion, leaderboard, misclassified, per_class
from harness.report.display import leaderboard_tables
from harness.results.store import SCHEMA_VERSION, Store

EMOTIONS = ("sadness", "joy", "anger")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def rows(n: int, k: int = 2, salt: str = "") -> tuple[list[str], np.ndarray]:
    labels = np.arange(n) % k
    return [f"text {salt}{i}" for i in range(n)], labels


def predictions_right_on(labels: np.ndarray, right: np.ndarray, k: int) -> np.ndarray:
    """Predictions that are right exactly where `right` is."""
    return np.where(right, labels, (labels + 1) % k)


def save_record(store: Store, strategy: str, texts, labels, trial_preds, seed: int = 0,
                task_labels=("neg", "pos"), data_seed: int = 0, config=None, **fields) -> dict:
    """A finished cell as the runner writes it (schema 3), metrics from
    harness.metrics.classification."""
    k = len(task_labels)
    trial_preds = [np.asarray(p) for p in trial_preds]
    scores = [np.eye(k)[p] * 0.6 + 0.4 / k for p in trial_preds]
    evaluation = Split(tuple(texts), np.asarray(labels))
    config = {"lr": 0.001} if config is None else config
    key = (f"t__{strategy}__s{seed}__d{data_seed}__{len(texts)}__"
           f"{abs(hash(repr(sorted(config.items())) + repr(sorted(fields.items())))) % 10**8}")
    record = {
        "key": key, "schema_version": SCHEMA_VERSION, "status": "ok", "task": "t",
        "strategy": strategy, "model": "tiny", "model_source": "", "seed": seed,
        "data_seed": data_seed, "config": config, "n_train": 8, "n_eval": len(texts),
        "train_fingerprint": f"train-{data_seed}", "eval_fingerprint": evaluation.fingerprint(),
        "device": "cpu", "device_name": "cpu", "cpu_threads": 2, "trainable_params": 1,
        "total_params": 2, "fit_s": 1.0, "predict_s": 1.0, "throughput_eps": 1.0,
        "latency_p50_ms": 1.0, "latency_p95_ms": 1.0, "started_at": "2026-12-01T10:00:00+0000",
        **record_metrics(labels, trial_preds, scores, list(task_labels)), **fields}
    frame = pd.DataFrame({"index": range(len(texts)), "text": texts, "label": labels,
                          "prediction": trial_preds[0]})
    for t, other in enumerate(trial_preds[1:], start=1):
        frame[f"prediction_trial{t}"] = other
    for j, name in enumerate(task_labels):
        frame[f"score_{name}"] = scores[0][:, j]
    store.save(record, frame)
    return record


def board_of(store: Store) -> pd.DataFrame:
    return leaderboard(pd.DataFrame(store.records(strict=True)), store)


def by_row(board: pd.DataFrame, name: str) -> pd.Series:
    return board.set_index("row").loc[name]


def test_every_seeds_predictions_count_in_the_p_value(store):
    texts, labels = rows(200)
    rng = np.random.default_rng(0)
    base = rng.random(200) < 0.7
    save_record(store, "zero-shot", texts, labels, [predictions_right_on(labels, base, 2)])
    # Seed 0 of knn predicts exactly like zero-shot; seeds 1 and 2 are far better.
    right = [base, base | (rng.random(200) < 0.8), base | (rng.random(200) < 0.8)]
    for seed, r in enumerate(right):
        save_record(store, "knn", texts, labels, [predictions_right_on(labels, r, 2)], seed=seed)
    board = board_of(store)
    knn, zero = by_row(board, "knn (tiny)"), by_row(board, "zero-shot (tiny)")
    assert knn["seeds"] == 3 and knn["is_best"] and not zero["is_best"]
    assert knn["accuracy"] == pytest.approx(np.mean(right))
    pooled = stats.paired_difference(stats.Clustered.of(base[None, :]),
                                     stats.Clustered.of(np.stack(right)))
    assert zero["diff_vs_best"] == pytest.approx(pooled.diff) == pytest.approx(
        base.mean() - np.mean(right))
    assert zero["p_vs_best"] == pytest.approx(pooled.p) and zero["p_vs_best"] < 0.2
    assert (zero["diff_ci_low"], zero["diff_ci_high"]) == pytest.approx((pooled.low, pooled.high))
    # Seed 0 alone (the old p-value) shows no difference at all.
    assert stats.paired_difference(stats.Clustered.of(base), stats.Clustered.of(right[0])).p == 1
    assert np.isnan(knn["p_vs_best"]) and np.isnan(knn["diff_vs_best"])
    assert knn["interval"].startswith("covers rows + 3 seeds, two-level t on")
    assert knn["accuracy_seed_std"] == pytest.approx(np.std([r.mean() for r in right], ddof=1))


def test_rows_on_other_evaluation_rows_are_never_best_of_another_set(store):
    big_texts, big_labels = rows(300)
    small_texts, small_labels = rows(150, salt="other ")
    rng = np.random.default_rng(1)
    save_record(store, "tfidf-logreg", big_texts, big_labels,
                [predictions_right_on(big_labels, rng.random(300) < 0.8, 2)])
    save_record(store, "knn", big_texts, big_labels,
                [predictions_right_on(big_labels, rng.random(300) < 0.7, 2)])
    save_record(store, "tfidf-logreg", small_texts, small_labels,  # the highest accuracy
                [predictions_right_on(small_labels, rng.random(150) < 0.95, 2)])
    board = board_of(store)
    assert board["row"].is_unique
    big = by_row(board, "tfidf-logreg (tiny; 300 evaluation rows)")
    small = by_row(board, "tfidf-logreg (tiny; 150 evaluation rows)")
    knn = by_row(board, "knn (tiny)")
    assert (big["eval_set"], small["eval_set"], knn["eval_set"]) == (1, 2, 1)
    assert big["is_best"] and small["is_best"] and not knn["is_best"]
    assert board.groupby("eval_set")["is_best"].sum().tolist() == [1, 1]
    assert knn["diff_vs_best"] == pytest.approx(knn["accuracy"] - big["accuracy"])
    assert knn["p_vs_best"] < 0.05
    assert np.isnan(small["p_vs_best"]) and np.isnan(small["p_holm"])
    assert list(board["eval_set"]) == sorted(board["eval_set"])  # one set after the other


def test_p_values_are_holm_adjusted_over_every_pair_of_the_set(store):
    texts, labels = rows(300)
    rng = np.random.default_rng(2)
    right = {name: rng.random(300) < acc for name, acc in
             (("a", 0.85), ("b", 0.8), ("c", 0.75), ("d", 0.7))}
    for name, r in right.items():
        save_record(store, name, texts, labels, [predictions_right_on(labels, r, 2)])
    board = board_of(store).set_index("strategy")
    order = list(board.index)
    clustered = {name: stats.Clustered.of(right[name]) for name in order}
    pairs = [(x, y) for i, x in enumerate(order) for y in order[i + 1:]]
    adjusted = dict(zip(pairs, stats.holm([stats.paired_difference(clustered[x],
                                                                   clustered[y]).p
                                           for x, y in pairs])))
    best = order[0]
    for name in order[1:]:
        assert board.loc[name, "p_holm"] == pytest.approx(adjusted[(best, name)])
        assert board.loc[name, "p_holm"] >= board.loc[name, "p_vs_best"]
    assert np.isnan(board.loc[best, "p_holm"])


def test_a_deterministic_row_of_three_seeds_keeps_its_row_interval(store):
    texts, labels = rows(100)
    predicted = predictions_right_on(labels, np.arange(100) % 10 != 0, 2)
    for seed in range(3):
        save_record(store, "zero-shot", texts, labels, [predicted], seed=seed)
    row = board_of(store).iloc[0]
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx(stats.wilson(90, 100))
    assert row["accuracy_seed_std"] == 0 and row["seeds"] == 3
    assert row["interval"] == "covers rows + 3 seeds, Wilson (identical predictions)"


def test_seeds_and_data_seeds_pool_into_one_row(store):
    texts, labels = rows(120)
    rng = np.random.default_rng(3)
    for seed in range(2):
        for draw in range(2):
            save_record(store, "lora", texts, labels,
                        [predictions_right_on(labels, rng.random(120) < 0.8, 2)],
                        seed=seed, data_seed=draw)
    board = board_of(store)
    assert len(board) == 1
    row = board.iloc[0]
    assert (row["seeds"], row["data_seeds"], len(row["keys"])) == (2, 2, 4)
    assert row["interval"].startswith("covers rows + 2 seeds + 2 data seeds, two-level t")


def test_few_shot_trials_are_clusters_of_the_row_interval(store):
    texts, labels = rows(200)
    rng = np.random.default_rng(4)
    right = [rng.random(200) < acc for acc in (0.6, 0.7, 0.65, 0.75, 0.68)]
    save_record(store, "few-shot", texts, labels,
                [predictions_right_on(labels, r, 2) for r in right])
    row = board_of(store).iloc[0]
    expected = stats.Clustered.of(np.stack(right)).interval()
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == (expected.low, expected.high)
    assert row["trials"] == 5 and row["interval"] == f"covers rows + 5 trials, two-level t " \
                                                     f"on {expected.df:.1f} df"
    assert not row["conditional"]
    assert row["accuracy_trial_std"] == pytest.approx(np.std([r.mean() for r in right], ddof=1))


def test_confusion_and_per_class_follow_the_task_label_order(store):
    texts, labels = rows(30, k=3)  # 10 rows each of sadness, joy, anger
    predicted = np.full(30, 2)  # everything "anger"
    predicted[np.flatnonzero(labels == 0)[:5]] = 0  # five sadness rows right
    save_record(store, "zero-shot", texts, labels, [predicted], task_labels=EMOTIONS)
    ok = pd.DataFrame(store.records(strict=True))
    row = leaderboard(ok, store).iloc[0]
    names, matrix = confusion(row, ok)
    assert names == list(EMOTIONS)
    assert matrix.tolist() == [[5, 0, 5], [0, 0, 10], [0, 0, 10]]  # true sadness, joy, anger
    table = per_class(row, ok)
    assert list(table["label"]) == list(EMOTIONS)
    assert table.set_index("label").loc["anger", "recall"] == 1.0
    assert table.set_index("label").loc["sadness", "precision"] == 1.0
    assert list(table["support"]) == [10, 10, 10]
    assert (row["majority_label"], row["majority_share"]) == ("anger", pytest.approx(25 / 30))


def test_schema_2_records_still_report_in_task_order(store):
    texts, labels = rows(30, k=3)
    predicted = np.full(30, 2)
    record = save_record(store, "few-shot", texts, labels, [predicted, predicted],
                         task_labels=EMOTIONS)
    old = {k: v for k, v in record.items() if k not in (
        "labels", "per_class_precision", "per_class_recall", "per_class_support",
        "prediction_shares", "ece", "brier", "nll")}
    # Schema 2 kept per-class F1 as a dict: sorted JSON put anger first.
    old.update(schema_version=2, per_class_f1={"anger": 0.5, "joy": 0.0, "sadness": 0.0})
    store.save(old, store.predictions(record["key"]))
    ok = pd.DataFrame(store.records(strict=True))
    row = leaderboard(ok, store).iloc[0]
    assert row["labels"] == list(EMOTIONS)  # from the score columns, written in task order
    # 2 trials of 10 rows per class: their mean, one pass's counts
    assert confusion(row, ok)[1].tolist() == [[0, 0, 10], [0, 0, 10], [0, 0, 10]]
    table = per_class(row, ok).set_index("label")
    assert table.loc["anger", "f1"] == pytest.approx(0.5) and table.loc["joy", "f1"] == 0
    assert table["support"].tolist() == [10, 10, 10]
    assert np.isnan(row["ece"])


def test_a_schema_3_record_whose_lists_do_not_follow_its_labels_is_skipped(store):
    texts, labels = rows(10)
    record = save_record(store, "knn", texts, labels, [labels])
    bad = {**record, "per_class_f1": [1.0]}
    with pytest.raises(HarnessError, match="not saved: per_class_f1: not one entry per label"):
        store.save(bad, store.predictions(record["key"]))  # the store writes none such
    store.record_path(record["key"]).write_text(json.dumps(bad))  # another writer did
    warnings = []
    assert store.records(warn=warnings.append) == []
    assert "per_class_f1: not one entry per label (2 labels)" in warnings[0]


@dataclass
class ToyConfig:
    k_per_class: int = 1
    calibrate: bool = True
    scoring: str = "sum"


@pytest.fixture
def configured():
    from toy_strategies import _Base

    class Configured(_Base):
        name = "toy-configured"
        config_class = ToyConfig

    registry.register(Configured)
    yield
    registry.unregister("toy-configured")


def test_settings_name_what_differs_from_defaults_and_tell_rows_apart(store, configured):
    texts, labels = rows(40)
    right = np.ones(40, dtype=bool)
    for config in ({"k_per_class": 1, "calibrate": True, "scoring": "sum"},
                   {"k_per_class": 2, "calibrate": False, "scoring": "sum"}):
        save_record(store, "toy-configured", texts, labels,
                    [predictions_right_on(labels, right, 2)], config=config)
    # Not installed: the fields that vary between its records.
    for lr in (0.1, 0.2):
        save_record(store, "my-plugin", texts, labels, [labels], config={"lr": lr, "depth": 3})
    board = board_of(store).set_index("row")
    assert board.loc["toy-configured (tiny; default settings)", "settings"] == ""
    assert board.loc["toy-configured (tiny; calibrate=false, k_per_class=2)", "settings"] == \
        "calibrate=false, k_per_class=2"
    assert set(board.loc[board["strategy"] == "my-plugin", "settings"]) == {"lr=0.1", "lr=0.2"}
    assert "my-plugin (tiny; lr=0.1)" in board.index


def test_misclassified_is_keyed_by_row_name_with_the_predictions_confidence(store):
    texts, labels = rows(20)
    predicted = predictions_right_on(labels, np.arange(20) >= 4, 2)
    save_record(store, "knn", texts, labels, [predicted])
    ok = pd.DataFrame(store.records(strict=True))
    [(name, wrong)] = misclassified(ok, store).items()
    assert name == leaderboard(ok, store)["row"].iloc[0] == "knn (tiny)"
    assert list(wrong.columns) == ["text", "true", "predicted", "confidence"]
    assert len(wrong) == 3 and (wrong["true"] != wrong["predicted"]).all()
    assert wrong["confidence"].tolist() == pytest.approx([0.8] * 3)


def test_the_runner_writes_schema_3_metrics_that_the_leaderboard_reads(toys, data_dir, tmp_path):
    from harness.plan.grid import build_cells
    from harness.plan.request import GridRequest
    from harness.execution.driver import run_cells
    from harness.inputs.tasks import get_task

    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="toy-first-label", n_train=20,
                                    n_eval=12, data_dir=data_dir))
    lines = []
    run_cells(cells, store, isolate=False, echo=lines.append)
    (record,) = store.records(strict=True)
    labels = list(get_task("agnews").labels)  # World, Sports, Business, Sci/Tech: not sorted
    assert record["schema_version"] == SCHEMA_VERSION and record["labels"] == labels
    assert sum(record["per_class_support"]) == 12
    assert record["prediction_shares"] == [1.0, 0.0, 0.0, 0.0]  # always the first label
    right = record["per_class_support"][0] / 12
    # Scores are probabilities (1 on the first label): confidence 1 everywhere.
    assert record["ece"] == pytest.approx(1 - right)
    assert record["brier"] == pytest.approx(2 * (1 - right))
    assert record["nll"] == pytest.approx((1 - right) * -np.log(1e-15))
    assert (record["accuracy_ci_low"], record["accuracy_ci_high"]) == pytest.approx(
        stats.wilson(right * 12, 12))
    assert record["cohen_kappa"] == pytest.approx(0.0, abs=1e-12)  # the prior: only chance
    assert "macro-F1" in lines[-1]
    ok = pd.DataFrame(store.records())
    row = leaderboard(ok, store).iloc[0]
    assert row["labels"] == labels and row["majority_label"] == labels[0]
    assert confusion(row, ok)[1][:, 0].sum() == 12


def test_one_run_of_a_seed_dependent_strategy_is_conditional_and_never_significant(store):
    """A single-seed lora row far below a deterministic one: its p-value is tiny, but the
    spread of lora's runs is unknown, so the comparison is marked, not claimed."""
    texts, labels = rows(300)
    rng = np.random.default_rng(7)
    save_record(store, "zero-shot", texts, labels,
                [predictions_right_on(labels, rng.random(300) < 0.9, 2)], deterministic=True)
    save_record(store, "lora", texts, labels,
                [predictions_right_on(labels, rng.random(300) < 0.6, 2)], deterministic=False)
    board = board_of(store)
    zero, lora = by_row(board, "zero-shot (tiny)"), by_row(board, "lora (tiny)")
    assert not zero["conditional"] and lora["conditional"]
    assert lora["p_holm"] < 0.001 and lora["verdict"] == stats.CONDITIONAL
    assert lora["interval"] == f"covers rows only, Wilson: {stats.CONDITIONAL}"
    assert zero["interval"].startswith("covers rows, Wilson (deterministic")
    shown = leaderboard_tables(board)[0].shown.set_index("row")
    assert shown.loc["lora (tiny)", "p vs best (Holm)"] == "<0.001"
    assert shown.loc["lora (tiny)", "p caveat"] == stats.CONDITIONAL  # zero-shot's is not
    # Three seeds of lora make it a claim about the method
    for seed in (1, 2):
        save_record(store, "lora", texts, labels,
                    [predictions_right_on(labels, rng.random(300) < 0.6, 2)], seed=seed,
                    deterministic=False)
    lora = by_row(board_of(store), "lora (tiny)")
    assert not lora["conditional"] and lora["verdict"] == stats.SIGNIFICANT
