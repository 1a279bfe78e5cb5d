"""What the runner does with a strategy between its timers, the same for a cell's own model and
for each of its inference variants: size what it exported, read its footprint, time it at
batch size 1, predict every evaluated task.

    artifact_bytes = export_bytes(strategy, work_dir / "export")
    record.update(footprint_fields(strategy)); record.update(latency(strategy, cell))
"""

from __future__ import annotations

from pathlib import Path

from harness.cell.measure import (LATENCY_WARMUP, WARMUP_TEXTS, latency_ms, latency_rows,
                                  predict_trials)
from harness.api.resources import model_bytes
from harness.metrics import catalog
from harness.plan.cell import Cell

# Fields the runner writes besides the metrics (harness.metrics.catalog): a strategy's footprint
# may name none of them, even namespaced.
RUNNER_FIELDS = frozenset({
    "status", "error", "setup_s", "load_s", "wall_s", "latency_samples", "latency_warmup",
    "artifact_bytes", "trials", "cpu_threads", "host_cpu_count", "n_predictions",
    "fit_shared_by", "peak_memory_bytes", "rss_peak_bytes", "device", "device_name",
    "scoring_s", "executor", "host", "attempts", "ray_node_id", "ray_attempt_nodes",
    "artifact_path", "timed_out", "inference", "inference_of", "prediction_agreement",
    "accuracy_delta", "conversion_s", "disk_bytes", "tuning",
    "malloc_mmap_threshold_bytes", "load_average_1m_start", "load_average_1m_end",
    "machine_busy", "busy_phases", "latency_p50_ci_low_ms", "latency_p50_ci_high_ms"}) | catalog.record_fields()

def export_bytes(strategy, folder: Path) -> int:
    """Bytes on disk of what the strategy ships besides the base model, written where the
    runner says and sized by the runner."""
    folder.mkdir(parents=True)
    strategy.export(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
def shipped_bytes(cell: Cell, footprint: dict, artifact_bytes: int) -> int:
    """Bytes on disk of what serving the model ships, one definition for every row: what the
    strategy exported, and the base model's files when its weights stay apart (adapters, a
    prompted model: a footprint with base_weight_bytes)."""
    needs_base = footprint.get("base_weight_bytes") is not None
    return artifact_bytes + (model_bytes(cell.model) if needs_base else 0)


def footprint_fields(strategy) -> dict:
    footprint = strategy.footprint()
    clashes = sorted(k for k in footprint.extra if k in RUNNER_FIELDS or k.startswith("rss_"))
    if clashes:
        raise ValueError(f"strategy '{strategy.name}' reports {', '.join(clashes)} in its "
                         f"footprint: those are the runner's measurements")
    return {"trainable_params": footprint.trainable_params,
            "total_params": footprint.total_params, "weight_bytes": footprint.weight_bytes,
            "base_weight_bytes": footprint.base_weight_bytes,
            **{f"footprint_{key}": value for key, value in footprint.extra.items()}}
def single_row_latency(strategy, cell: Cell) -> dict:
    """Single-example latency of the primary task with the first trial's model, measured before
    the batch prediction so that no row was just scored (a prefix cache cannot hit), after a
    warm-up on texts it does not measure: training rows, else evaluation rows outside the
    measured ones, else fixed sentences (a strategy without training rows, on a small set)."""
    measured = latency_rows(len(cell.eval), cell.seed)
    texts = [cell.eval.texts[i] for i in measured]
    skip = set(measured)
    unmeasured = [t for i, t in enumerate(cell.eval.texts) if i not in skip]
    warmup = (list(cell.train.texts) or unmeasured or list(WARMUP_TEXTS))[:LATENCY_WARMUP]
    return latency_ms(lambda text: strategy.predict([text], cell.task, 0), texts, warmup,
                      device=cell.device)
def predict_all(strategy, cell: Cell) -> tuple[list, list, list, list]:
    """Every evaluated task's labels, scores and prompts per trial, and each task's seconds."""
    runs = [predict_trials(strategy, evaluation.texts, task, cell.device)
            for task, _, evaluation in cell.evaluations]
    return ([run[0] for run in runs], [run[1] for run in runs], [run[2] for run in runs],
            [run[3] for run in runs])