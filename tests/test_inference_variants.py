"""Inference variants (`--inference`): a cell fits once and writes one record per variant, each
compared with the cell's own predictions on the same rows."""

import pytest

from harness.errors import HarnessError
from harness.api.variants import parse_variants
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store

FAST = {"epochs": 1, "batch_size": 8, "max_length": 32}


def _run(spec, tiny_encoder, data_dir, tmp_path, variants, isolate=False, **config):
    store = Store(tmp_path / "results")
    store.prepare()
    notes = []
    cells = build_cells(GridRequest(
        tasks=["agnews"], strategies=spec, models=(str(tiny_encoder.source),), n_train=24,
        n_eval=16, data_dir=data_dir, inference=variants,
        config={name: dict(FAST, **config) for name in spec.split(",")}), notes)
    lines = []
    summary = run_cells(cells, store, isolate=isolate, echo=lines.append)
    return store, cells, summary, lines, notes


def test_variants_of_a_cell_in_its_own_process_run_in_processes_of_their_own(
        tiny_encoder, data_dir, tmp_path):
    """As a real run has it: the cell in a (daemonic) process, each variant in a child of it."""
    store, _, summary, _, _ = _run("lora", tiny_encoder, data_dir, tmp_path, ("merged",),
                                   isolate=True)
    records = {r.get("inference"): r for r in store.records()}
    assert summary.failed == 0, [r.get("error") for r in records.values()]
    assert set(records) == {"default", "merged"}
    assert {r["status"] for r in records.values()} == {"ok"}
    assert records["merged"]["prediction_agreement"] == pytest.approx(1.0)


def test_lora_variants_are_one_record_each_against_the_default(tiny_encoder, data_dir,
                                                                tmp_path):
    store, (cell,), summary, lines, _ = _run("lora", tiny_encoder, data_dir, tmp_path,
                                             ("fp32", "bf16", "int8", "fp16", "merged"))
    records = {r.get("inference"): r for r in store.records()}
    assert set(records) == {"default", "fp32", "bf16", "int8", "fp16", "merged"}
    assert summary.failed == 0 and summary.ran == 1
    default = records["default"]
    assert default["key"] == cell.key  # the default's key is the one before variants existed
    # fp32 reloads the export unchanged: the same predictions; merged folds the same update in
    for same in ("fp32", "merged"):
        assert records[same]["prediction_agreement"] == pytest.approx(1.0), same
        assert records[same]["accuracy_delta"] == pytest.approx(0.0, abs=1e-12)
    assert records["fp16"]["status"] == "skipped" and "CUDA" in records["fp16"]["error"]
    int8 = records["int8"]
    assert int8["status"] == "ok" and int8["inference_of"] == default["key"]
    assert int8["accuracy_delta_ci_low"] <= int8["accuracy_delta"] <= int8["accuracy_delta_ci_high"]
    # Dynamic int8 packs the Linear weights: fewer bytes as loaded and on disk than fp32's
    assert int8["weight_bytes"] < records["merged"]["weight_bytes"]
    assert records["bf16"]["weight_bytes"] < records["fp32"]["weight_bytes"]
    # One definition of what ships, the default's included: unmerged adapters with their base,
    # merged weights alone; and each row says which
    base = default["disk_bytes"] - default["artifact_bytes"]
    assert base > 1e6 and records["fp32"]["disk_bytes"] == records["fp32"]["artifact_bytes"] + base
    assert records["merged"]["disk_bytes"] == records["merged"]["artifact_bytes"]
    assert records["int8"]["disk_bytes"] == records["int8"]["artifact_bytes"]  # merged on CPU
    assert [records[v]["footprint_adapters"] for v in ("default", "fp32", "bf16", "int8",
                                                       "merged")] == \
        ["apart", "apart", "apart", "merged", "merged"]
    baselines = []
    for record in (records[v] for v in ("fp32", "bf16", "int8", "merged")):
        assert 0 < record["conversion_s"] < record["wall_s"], record["inference"]
        assert 0 < record["latency_p50_ms"] <= record["latency_p95_ms"]
        assert record["throughput_eps"] > 0 and record["n_predictions"] == 16
        assert record["accuracy_ci_low"] <= record["accuracy"] <= record["accuracy_ci_high"]
        assert record["accuracy_ci_low"] < record["accuracy_ci_high"]
        # Loaded weights show above the baseline, and the baseline is a fresh process's: the
        # same for every variant, none carrying the fitted model or an earlier variant
        assert record["rss_above_baseline_bytes"] > record["weight_bytes"] / 2
        baselines.append(record["rss_baseline_bytes"])
        assert store.predictions_path(record["key"]).exists()
    assert max(baselines) - min(baselines) < 64 * 2**20, baselines
    assert any(line.endswith("skipped (fp16 runs on CUDA only; on CPU use bf16)")
               for line in lines)
    # Finished, skipped variant included: a rerun computes nothing
    again = run_cells([cell], store, isolate=False, echo=lambda _: None)
    assert (again.skipped, again.ran) == (1, 0)


def test_full_finetune_nf4_and_a_variant_it_lacks(tiny_encoder, data_dir, tmp_path):
    store, _, summary, _, notes = _run("full-finetune", tiny_encoder, data_dir, tmp_path,
                                       ("nf4", "merged"))
    records = {r["inference"]: r for r in store.records()}
    assert set(records) == {"default", "nf4"} and summary.failed == 0
    assert records["nf4"]["weight_bytes"] < records["default"]["weight_bytes"]
    assert any("full-finetune: no merged inference" in note for note in notes)


def test_bad_variant_names_are_one_line_errors():
    with pytest.raises(HarnessError, match="'int4' is not a variant"):
        parse_variants("fp32,int4")
    assert parse_variants("default,bf16,bf16") == ("bf16",)


def test_zero_shot_prompts_the_same_decoder_in_each_variant(tiny_decoder, data_dir, tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="zero-shot",
                                    models=(f"decoder={tiny_decoder.source}",), n_train=8,
                                    n_eval=16, data_dir=data_dir,
                                    inference=("fp32", "int8", "nf4"),
                                    # the default in float32 too: else a bf16 body on a CPU
                                    # that has it, whose near-tied random scores may flip
                                    precision="fp32"))
    summary = run_cells(cells, store, isolate=False, echo=lambda _: None)
    records = {r["inference"]: r for r in store.records()}
    assert set(records) == {"default", "fp32", "int8", "nf4"} and summary.failed == 0
    assert records["fp32"]["prediction_agreement"] == pytest.approx(1.0)  # the same model
    # The output layer that scores the label words stays float32: int8 packs the rest
    assert records["int8"]["weight_bytes"] < records["fp32"]["weight_bytes"]
    assert records["nf4"]["weight_bytes"] < records["fp32"]["weight_bytes"]
    # Nothing was exported: what ships is the decoder as published, quantized when loaded
    assert records["int8"]["disk_bytes"] == records["fp32"]["disk_bytes"] > 0
