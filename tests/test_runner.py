"""The runner: crash containment, resume, force, and what a record holds."""

import json

import pytest

import toy_strategies
from harness import registry
from harness.cost import load_prices
from harness.plan import build_cells
from harness.runner import run_cells
from harness.store import Store

TOYS = [toy_strategies.Raising, toy_strategies.Killed, toy_strategies.OutOfRange,
        toy_strategies.FirstLabel]


@pytest.fixture
def toys():
    for cls in TOYS:
        registry.register(cls)
    yield
    for cls in TOYS:
        registry.unregister(cls.name)


def cells_for(spec, data_dir, **kwargs):
    return build_cells(["agnews"], spec, n_train=20, n_eval=12, data_dir=data_dir, **kwargs)


def test_failures_are_recorded_and_the_grid_goes_on(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = cells_for("toy-raising,toy-killed,toy-out-of-range,toy-first-label", data_dir)
    lines = []
    summary = run_cells(cells, store, load_prices(None), echo=lines.append)
    assert (summary.ran, summary.failed) == (1, 3)
    by_strategy = {r["strategy"]: r for r in store.records()}
    assert "refuses to train" in by_strategy["toy-raising"]["error"]
    assert "Traceback" in by_strategy["toy-raising"]["traceback"]
    assert "SIGKILL" in by_strategy["toy-killed"]["error"]
    assert "outside 0..3" in by_strategy["toy-out-of-range"]["error"]
    ok = by_strategy["toy-first-label"]
    assert ok["status"] == "ok" and ok["accuracy"] == pytest.approx(3 / 12)
    assert not store.predictions_path(by_strategy["toy-raising"]["key"]).exists()


def test_finished_cells_are_not_recomputed_unless_forced(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = cells_for("toy-first-label,toy-raising", data_dir, seeds=[0, 1])
    run_cells(cells, store, load_prices(None), echo=lambda _: None)
    lines = []
    again = run_cells(cells, store, load_prices(None), echo=lines.append)
    # Finished cells are skipped; failed ones are tried again.
    assert (again.skipped, again.ran, again.failed) == (2, 0, 2)
    assert sum("already finished" in line for line in lines) == 2
    forced = run_cells(cells, store, load_prices(None), force=True, echo=lambda _: None)
    assert (forced.skipped, forced.ran) == (0, 2)


def test_a_record_holds_identity_metrics_timings_and_environment(tiny_decoder, data_dir,
                                                                 tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = cells_for("zero-shot", data_dir, model_values=(str(tiny_decoder.source),))
    run_cells(cells, store, load_prices(None), echo=lambda _: None)
    (record,) = store.records()
    assert record["status"] == "ok", record.get("error")
    for field in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "per_class_f1",
                  "confusion_matrix", "fit_s", "predict_s", "throughput_eps", "latency_p50_ms",
                  "latency_p95_ms", "peak_memory_bytes", "cost_usd", "trainable_params",
                  "total_params", "config", "train_fingerprint", "eval_fingerprint"):
        assert field in record, field
    assert record["accuracy_ci_low"] <= record["accuracy"] <= record["accuracy_ci_high"]
    assert record["peak_memory_bytes"] > 50 * 2**20  # a real process with torch loaded
    assert record["cost_usd"] > 0 and record["throughput_eps"] > 0
    assert "torch" in record["environment"]["packages"]
    assert sum(map(sum, record["confusion_matrix"])) == 12
    predictions = store.predictions(record["key"])
    assert len(predictions) == 12 and {"text", "label", "prediction"} <= set(predictions)
    json.dumps(record)  # flat and serialisable


def test_cell_key_changes_with_config_and_rows(data_dir):
    base = cells_for("zero-shot", data_dir)[0]
    other_config = cells_for("zero-shot", data_dir,
                             config_overrides={"zero-shot": {"normalize": "mean"}})[0]
    other_rows = build_cells(["agnews"], "zero-shot", n_train=20, n_eval=13,
                             data_dir=data_dir)[0]
    assert len({base.key, other_config.key, other_rows.key}) == 3
    assert base.key == cells_for("zero-shot", data_dir)[0].key
