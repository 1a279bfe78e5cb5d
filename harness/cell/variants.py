"""A cell's inference variants (`--inference`, harness/api/variants.py), measured after the
cell's own predictions, each in a fresh process of its own: every variant starts from the same
baseline (the interpreter and its imports), with nothing left over from the fitted model or
an earlier variant. Each loads what the cell exported (timed as `conversion_s`), is sized as
what serving it ships (`disk_bytes`: the export, and the base model when adapters stay apart),
warmed up, timed at batch size 1 and over every evaluation row, its memory sampled per phase;
then its record says how its predictions compare with the cell's own, paired over the same
rows.

    outcomes = measure_variants(cell, work_dir / "export", work_dir)   # in the cell
    records = variant_records(cell, base, default_record, default_labels, outcomes, evaluation)
"""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np

from harness.cell.isolation import run_isolated
from harness.cell.measure import measured_process, predict_trials, stopwatch
from harness.api.variants import VariantUnavailable
from harness.metrics import stats


def measure_variants(cell, export: Path, work_dir: Path) -> list[dict]:
    """Each variant's outcome, measured in a process of its own."""
    return [{"inference": variant, **run_isolated(_variant_process, (cell, variant, export,
                                                                     work_dir))}
            for variant in cell.inference]


def _variant_process(argument) -> dict:
    cell, variant, export, work_dir = argument
    with measured_process(cell.seed, cell.device) as (memory, threshold):
        outcome = _measure_one(cell, variant, export, work_dir, memory)
    if outcome["status"] == "ok":
        outcome["malloc_mmap_threshold_bytes"] = threshold
    return outcome


def _measure_one(cell, variant: str, export: Path, work_dir: Path, memory) -> dict:
    from harness.cell.phases import (export_bytes, footprint_fields, shipped_bytes,
                                     single_row_latency)
    from harness.api.strategy import Context

    scratch = work_dir / f"variant-{variant}"
    scratch.mkdir()
    context = Context(cell.task, cell.model, cell.seed, cell.device, scratch, cell.backend,
                      cell.strategy_models)
    timings: dict = {}
    try:
        with memory.phase("load"), stopwatch(timings, "conversion_s", cell.device):
            loaded = cell.strategy_class.load_inference(cell.config, context, export, variant)
        artifact_bytes = export_bytes(loaded, scratch / "export")
        with memory.phase("setup"), stopwatch(timings, "setup_s", cell.device):
            loaded.prepare()
        footprint = footprint_fields(loaded)
        with memory.phase("predict"):
            latency = single_row_latency(loaded, cell)
            labels, scores, predict_s, _ = predict_trials(loaded, cell.eval.texts, cell.task,
                                                          cell.device)
    except VariantUnavailable as why:
        return {"status": "skipped", "error": str(why)}
    except Exception as err:  # noqa: BLE001 - the variant fails, the cell's records stand
        return {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
                "traceback": traceback.format_exc()[-4000:]}
    return {"status": "ok", **timings, **latency, **footprint,
            **memory.record(("load", "setup", "predict")),
            "artifact_bytes": artifact_bytes,
            "disk_bytes": shipped_bytes(cell, footprint, artifact_bytes),
            "predict_s": predict_s, "trials": len(labels), "pred_labels": labels,
            "pred_scores": scores}


# The cell's own measurements that a variant shares (it is the same fitted model) or that
# describe the process; everything else in a variant's record is its own.
SHARED = ("load_s", "fit_s", "cpu_threads", "host_cpu_count", "artifact_path")


def variant_records(cell, base: dict, default: dict, default_labels: list, outcomes: list,
                    build) -> list[tuple]:
    """(record, predictions) per variant. `build(record, outcome, labels, scores)` makes an ok
    record the way the cell's own is made (harness.cell.runner._record)."""
    results = []
    truth = np.asarray(cell.eval.labels)
    reference = stats.Clustered.of(np.array([labels == truth for labels in default_labels]))
    for outcome in outcomes:
        variant = outcome.pop("inference")
        record = {**base, **cell.variant_identity(variant), "key": cell.key_for(
            cell.task.name, variant), "task": cell.task.name, "inference": variant,
            "inference_of": default["key"], "fit_shared_by": 1}
        if outcome["status"] != "ok":
            results.append(({**record, "status": outcome["status"], "error": outcome["error"],
                             "traceback": outcome.get("traceback")}, None))
            continue
        labels, scores = outcome.pop("pred_labels"), outcome.pop("pred_scores")
        shared = {key: default[key] for key in SHARED if key in default}
        record, frame = build(record, {**shared, **outcome}, labels, scores)
        if record["status"] == "ok":
            record.update(_against_default(labels, truth, default_labels, reference))
        results.append((record, frame))
    return results


def _against_default(labels: list, truth: np.ndarray, default_labels: list,
                     reference: stats.Clustered) -> dict:
    """Agreement with the cell's own predictions (first trials) and the change in accuracy,
    paired over the same rows (harness.metrics.stats.paired_difference)."""
    correct = stats.Clustered.of(np.array([run == truth for run in labels]))
    change = stats.paired_difference(correct, reference)
    return {"prediction_agreement": float(np.mean(labels[0] == default_labels[0])),
            "accuracy_delta": change.diff, "accuracy_delta_ci_low": change.low,
            "accuracy_delta_ci_high": change.high, "accuracy_delta_p": change.p}
