"""The runner: crash containment, resume, force, and what a record holds."""

import json

import numpy as np
import pytest

from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store

def cells_for(spec, data_dir, **kwargs):
    return build_cells(GridRequest(tasks=["agnews"], strategies=spec, n_train=20, n_eval=12,
                                   data_dir=data_dir, **kwargs))


def test_failures_are_recorded_and_the_grid_goes_on(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = cells_for("toy-raising,toy-killed,toy-out-of-range,toy-first-label", data_dir)
    lines = []
    summary = run_cells(cells, store, echo=lines.append)
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
    # In this process: resuming is the driver's business, not the cell process's.
    run_cells(cells, store, isolate=False, echo=lambda _: None)
    lines = []
    again = run_cells(cells, store, isolate=False, echo=lines.append)
    # Finished cells are skipped; failed ones are tried again.
    assert (again.skipped, again.ran, again.failed) == (2, 0, 2)
    assert sum("already finished" in line for line in lines) == 2
    forced = run_cells(cells, store, force=True, isolate=False, echo=lambda _: None)
    assert (forced.skipped, forced.ran) == (0, 2)


def test_a_record_holds_identity_metrics_timings_and_environment(tiny_decoder, data_dir,
                                                                 tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = cells_for("zero-shot", data_dir, models=(str(tiny_decoder.source),))
    run_cells(cells, store, echo=lambda _: None)
    (record,) = store.records()
    assert record["status"] == "ok", record.get("error")
    for field in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "per_class_f1",
                  "confusion_matrix", "fit_s", "predict_s", "throughput_eps", "latency_p50_ms",
                  "latency_p95_ms", "latency_samples", "rss_baseline_bytes",
                  "rss_above_baseline_bytes", "rss_peak_fit_bytes", "setup_s", "load_s",
                  "trainable_params", "total_params", "config", "train_fingerprint",
                  "eval_fingerprint", "task_sha", "code", "packages", "device_name",
                  "model_source", "model_revision", "cpu_threads", "n_predictions"):
        assert field in record, field
    assert record["accuracy_ci_low"] <= record["accuracy"] <= record["accuracy_ci_high"]
    assert record["rss_baseline_bytes"] > 50 * 2**20  # a real process with torch loaded
    assert record["rss_peak_bytes"] == record["rss_baseline_bytes"] + \
        record["rss_above_baseline_bytes"]
    assert record["throughput_eps"] > 0 and "cost_usd" not in record  # priced by the report
    assert 10 <= record["latency_samples"] <= 12 and record["latency_warmup"] == 3
    assert record["latency_p50_ci_low_ms"] <= record["latency_p50_ms"] \
        <= record["latency_p50_ci_high_ms"]
    assert "torch" in record["environment"]["packages"]
    assert sum(map(sum, record["confusion_matrix"])) == 12
    predictions = store.predictions(record["key"])
    assert len(predictions) == 12 and {"text", "label", "prediction"} <= set(predictions)
    json.dumps(record)  # flat and serialisable


def test_cell_key_changes_with_config_and_rows(data_dir):
    base = cells_for("zero-shot", data_dir)[0]
    other_config = cells_for("zero-shot", data_dir,
                             config={"zero-shot": {"scoring": "mean"}})[0]
    other_rows = build_cells(GridRequest(tasks=["agnews"], strategies="zero-shot", n_train=20,
                                         n_eval=13, data_dir=data_dir))[0]
    assert len({base.key, other_config.key, other_rows.key}) == 3
    assert base.key == cells_for("zero-shot", data_dir)[0].key


def test_a_strategy_cannot_overwrite_what_the_runner_measures(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    run_cells(cells_for("toy-claims-fit-time", data_dir), store, echo=lambda _: None)
    (record,) = store.records()
    # Refused: a footprint naming a measured field fails the cell, with the reason.
    assert record["status"] == "failed"
    assert "fit_s" in record["error"] and "runner's measurements" in record["error"]


def test_artifacts_are_sized_by_the_runner(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    run_cells(cells_for("toy-writes-artifact,toy-first-label", data_dir), store,
              echo=lambda _: None)
    sizes = {r["strategy"]: r["artifact_bytes"] for r in store.records()}
    assert sizes == {"toy-writes-artifact": 12345, "toy-first-label": 0}


def test_latency_uses_up_to_100_rows_after_a_warm_up(toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="toy-first-label", n_train=20,
                                    n_eval=150, data_dir=data_dir))
    run_cells(cells, store, echo=lambda _: None)
    (record,) = store.records()
    assert 10 <= record["latency_samples"] <= 100 and record["latency_warmup"] == 3


def test_latency_sampling_stops_once_the_median_is_known_to_five_percent(monkeypatch):
    """Steady latencies stop at the minimum; scattered ones run to the cap; the interval is
    the median's distribution-free 95% interval. On a clock that only the predictions move."""
    from harness.cell import measure
    from harness.cell.measure import (LATENCY_MIN_SAMPLES, LATENCY_SAMPLES, latency_ms,
                                      median_interval)

    rng, clock = np.random.default_rng(0), [0.0]
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])

    def timed(spread):
        def predict_one(text):
            clock[0] += 0.002 * (1 + spread * rng.random())
        return latency_ms(predict_one, [f"row {i}" for i in range(LATENCY_SAMPLES)], ["w"])

    steady, scattered = timed(0.01), timed(3.0)
    assert steady["latency_samples"] == LATENCY_MIN_SAMPLES
    assert scattered["latency_samples"] == LATENCY_SAMPLES
    assert steady["latency_p50_ci_low_ms"] <= steady["latency_p50_ms"] \
        <= steady["latency_p50_ci_high_ms"] < 2.03
    ordered = list(range(1, 101))
    assert median_interval(ordered) == (41.0, 60.0)  # ranks 50 -/+ 1.96 * sqrt(100) / 2
    assert median_interval([5.0] * 10) == (5.0, 5.0)


def test_fit_time_is_measured_and_memory_is_above_a_baseline(toys, data_dir, tmp_path):
    """Bounded on both sides: a sampler that read 0 (or the baseline) fails the allocating
    toy, one that never releases fails the sleeper."""
    store = Store(tmp_path / "results")
    store.prepare()
    run_cells(cells_for("toy-sleeps-in-fit,toy-allocates", data_dir), store,
              echo=lambda _: None)
    records = {r["strategy"]: r for r in store.records()}
    sleeper, allocating = records["toy-sleeps-in-fit"], records["toy-allocates"]
    assert sleeper["status"] == "ok" and sleeper["fit_s"] >= 1.0
    # A strategy that allocates nothing uses (almost) nothing above the baseline.
    assert sleeper["rss_above_baseline_bytes"] < 50 * 2**20
    assert allocating["status"] == "ok", allocating.get("error")

    def above(field):
        return (allocating[field] - allocating["rss_baseline_bytes"]) / 2**20

    assert 240 <= above("rss_peak_fit_bytes") < 400  # its 256 MiB, seen by the sampler
    # Anonymous memory (what it allocated, not mapped files) sees the same 256 MiB
    anon = allocating["rss_anon_peak_fit_bytes"] - allocating["rss_anon_baseline_bytes"]
    assert 240 <= anon / 2**20 < 400
    assert allocating["rss_above_baseline_bytes"] / 2**20 >= 240
    assert above("rss_peak_predict_bytes") < 50  # released before predicting
    # The probe's span and marks: timed by the runner, the memory at each point
    assert 0.3 <= allocating["span_toy_build_s"] <= allocating["fit_s"]
    assert 240 <= above("rss_peak_span_toy_build_bytes") < 400
    assert 240 <= above("rss_mark_toy_held_bytes") < 400
    assert above("rss_mark_toy_released_bytes") < 50


def test_a_label_that_is_not_the_highest_score_fails_the_cell(toys, data_dir, tmp_path):
    """Accuracy reads labels and calibration reads scores: they must describe one prediction."""
    store = Store(tmp_path / "results")
    store.prepare()
    run_cells(cells_for("toy-labels-against-its-scores,toy-first-label", data_dir), store,
              echo=lambda _: None)
    records = {r["strategy"]: r for r in store.records()}
    refused = records["toy-labels-against-its-scores"]
    assert refused["status"] == "failed"
    assert "not the highest of its scores" in refused["error"]
    assert "12 of 12 rows" in refused["error"]
    assert not store.predictions_path(refused["key"]).exists()
    assert records["toy-first-label"]["status"] == "ok"  # argmax labels pass


def test_latency_warm_up_never_uses_a_measured_row():
    """A cell without training rows (zero-shot) warms up on rows it does not measure, else on
    fixed sentences: a measured row seen in the warm-up would hit a prefix cache."""
    from types import SimpleNamespace

    from harness.inputs.data import Split
    from harness.cell.measure import LATENCY_WARMUP, latency_rows
    from harness.cell.phases import single_row_latency

    class Recorder:
        seen: list = []

        def predict(self, texts, task, trial=0):
            self.seen.extend(texts)

    for n_eval in (12, 150):
        texts = tuple(f"row {i}" for i in range(n_eval))
        cell = SimpleNamespace(eval=Split(texts, np.zeros(n_eval, dtype=int)),
                               train=Split((), np.zeros(0, dtype=int)), seed=0, task=None,
                               device="cpu")
        strategy = Recorder()
        strategy.seen = []
        single_row_latency(strategy, cell)
        measured = {texts[i] for i in latency_rows(n_eval, 0)}
        warmup = strategy.seen[:LATENCY_WARMUP]
        assert len(warmup) == LATENCY_WARMUP and not measured & set(warmup)
        sampled = strategy.seen[LATENCY_WARMUP:]
        assert sampled and sampled == [texts[i] for i in latency_rows(n_eval, 0)][:len(sampled)]


def test_a_cell_is_seeded_as_transformers_seeds_without_importing_its_training_stack():
    import random
    import subprocess
    import sys

    import torch
    from transformers import set_seed

    from harness.environment import seed_everything

    set_seed(7)
    theirs = (random.random(), np.random.rand(), torch.rand(3).tolist())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(3).tolist()) == theirs
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom harness.cell.measure import measured_process\n"
         "with measured_process(0, 'cpu'): pass\n"
         "print(sorted(m for m in ('peft', 'bitsandbytes', 'transformers') if m in sys.modules))"],
        capture_output=True, text=True, check=True).stdout.split("\n")[-2]
    assert loaded == "[]"


def test_a_result_the_store_would_refuse_is_saved_as_a_failed_record_saying_why(
        toys, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    lines = []
    summary = run_cells(cells_for("toy-reports-negative-seconds", data_dir), store,
                        echo=lines.append)
    assert summary.failed == 1
    (record,) = store.records()
    assert record["status"] == "failed"
    assert record["error"].startswith("invalid result: footprint_warmup_s -1.0 is outside")
    assert not store.predictions_path(record["key"]).exists()
    assert any("FAILED: invalid result: footprint_warmup_s" in line for line in lines), lines
