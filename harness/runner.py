"""Run the grid: each cell in its own child process (memory released, crashes contained),
finished cells skipped unless forced, each cell claimed first so that runs sharing a results
folder share the grid (harness.claims), every cell measured here and the same way.

    summary = run_cells(cells, Store("results"))
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.claims import Claim, read_holder, remove_scratch, scratch_dir
from harness.environment import manifest
from harness.isolation import run_isolated
from harness.metrics import record_metrics
from harness.plan import Cell
from harness.store import SCHEMA_VERSION, Store


@dataclass
class Summary:
    ran: int = 0
    skipped: int = 0  # finished before this run
    failed: int = 0
    by_others: int = 0  # computed meanwhile by another process sharing the folder

    def line(self, cells: int, out) -> str:
        others = f", {self.by_others} ran in other processes" if self.by_others else ""
        return (f"{cells} cells: {self.ran} ran, {self.skipped} already finished (not "
                f"recomputed){others}, {self.failed} failed. Records in {out}/")


CLAIM_POLL_S = 1.0


def run_cells(cells: list[Cell], store: Store, force: bool = False, isolate: bool = True,
              echo=print) -> Summary:
    """Every cell not finished yet, each claimed first so that runs sharing the folder share
    the grid: a cell another live process holds is left for the end, then waited for."""
    remove_scratch()  # leftovers of killed runs
    summary, claimed = Summary(), []
    for number, cell in enumerate(cells, 1):
        prefix = f"[{number}/{len(cells)}] {cell.label}"
        if not force and all(store.is_finished(key) for key in cell.keys):
            summary.skipped += 1
            echo(f"{prefix}: already finished, not recomputed (use --force to recompute)")
            continue
        holder = _claim_and_run(cell, store, summary, prefix, force, isolate, echo)
        if holder is not None:
            echo(f"{prefix}: {_held_by(holder)}, coming back to it at the end")
            claimed.append((prefix, cell))
    for prefix, cell in claimed:
        holder = read_holder(store.claim_path(cell.keys[0]))
        if holder is not None:
            echo(f"{prefix}: {_held_by(holder)}, waiting")
        while _claim_and_run(cell, store, summary, prefix, False, isolate, echo) is not None:
            time.sleep(CLAIM_POLL_S)
    return summary


def _held_by(holder: dict) -> str:
    return f"claimed by pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"


def _claim_and_run(cell: Cell, store: Store, summary: Summary, prefix: str, force: bool,
                   isolate: bool, echo) -> dict | None:
    """Run the cell under its claim; the live holder instead when another process has it."""
    claim = Claim(store.claim_path(cell.keys[0]))
    holder = claim.acquire()
    if holder is not None:
        return holder
    try:
        if not force and all(store.is_finished(key) for key in cell.keys):
            summary.by_others += 1  # finished between our look and our claim
            echo(f"{prefix}: finished by another process meanwhile")
        else:
            _run_and_save(cell, store, summary, prefix, isolate, echo)
    finally:
        claim.release()
    return None


def _run_and_save(cell: Cell, store: Store, summary: Summary, prefix: str, isolate: bool,
                  echo) -> None:
    echo(f"{prefix}: running on {len(cell.train)} training / {len(cell.eval)} evaluation rows")
    started = time.time()
    outcome = _run(cell, isolate)
    log = outcome.pop("log", None)  # a failed cell's output: beside its record, not in it
    results = _records(cell, outcome, started)
    try:
        for record, predictions in results:
            store.save(record, predictions)
        if log and outcome["status"] != "ok":
            store.save_log(cell.keys[0], log)
    except Exception as err:  # noqa: BLE001 - disk full, permissions: this cell fails, not the grid
        summary.failed += 1
        echo(f"{prefix}: FAILED: cannot save its record: {type(err).__name__}: {err}"[:600])
        return
    failed = [record for record, _ in results if record["status"] != "ok"]
    if failed:
        summary.failed += 1
        echo(f"{prefix}: FAILED: {failed[0]['error']}")
        return
    summary.ran += 1
    for record, _ in results:
        if record.get("task_kind") == "generation":
            echo(f"{prefix}: perplexity {record['perplexity']:.1f} "
                 f"[{record['perplexity_ci_low']:.1f}, {record['perplexity_ci_high']:.1f}], "
                 f"style accuracy {record['style_accuracy']:.3f} "
                 f"[{record['style_accuracy_ci_low']:.3f}, {record['style_accuracy_ci_high']:.3f}]"
                 f", chrF {record['chrf']:.1f}, fit {record['fit_s']:.1f} s, "
                 f"{record['tokens_per_s']:.1f} tokens/s")
            continue
        task = f" on {record['task']}" if cell.mixture else ""
        trials = f" over {record['trials']} trials" if record["trials"] > 1 else ""
        echo(f"{prefix}: accuracy{task} {record['accuracy']:.3f}{trials} "
             f"[{record['accuracy_ci_low']:.3f}, {record['accuracy_ci_high']:.3f}], "
             f"macro-F1 {record['macro_f1']:.3f}, fit {record['fit_s']:.1f} s, "
             f"{record['throughput_eps']:.1f} examples/s")


def _run(cell: Cell, isolate: bool) -> dict:
    prepared = _prepare_model(cell)
    if prepared["status"] != "ok":
        return prepared
    outcome = run_isolated(_run_cell, cell) if isolate else _run_cell(cell)
    if outcome["status"] == "ok":
        outcome["setup_s"] = outcome.get("setup_s", 0.0) + prepared["setup_s"]
    return outcome


def _prepare_model(cell: Cell) -> dict:
    """One-off work on the model (converting a GGUF file, once per machine), timed as set-up
    and done here, before the cell's process starts, so that its memory is not the cell's."""
    start = time.perf_counter()
    try:
        if cell.model is not None:
            cell.model.local_path()
    except Exception as err:  # noqa: BLE001 - the cell fails, the grid goes on
        return {"status": "failed", "error": f"preparing model '{cell.model_name}': "
                                             f"{type(err).__name__}: {err}".splitlines()[0][:500]}
    return {"status": "ok", "setup_s": time.perf_counter() - start}


def _run_cell(cell: Cell) -> dict:
    work_dir = scratch_dir()
    memory = None
    try:
        import torch
        from transformers import set_seed

        from harness.measure import PhaseMemory

        set_seed(cell.seed)
        memory = PhaseMemory(cell.device)
        measured = _measure_phases(cell, work_dir, memory)
        return {"status": "ok", **measured, **memory.record(),
                "cpu_threads": torch.get_num_threads(), "host_cpu_count": os.cpu_count()}
    except BaseException as err:  # noqa: BLE001 - any failure is the cell's result
        if isinstance(err, KeyboardInterrupt):
            raise
        return {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
                "traceback": traceback.format_exc()[-4000:]}
    finally:
        if memory is not None:
            memory.close()
        shutil.rmtree(work_dir, ignore_errors=True)


def _measure_phases(cell: Cell, work_dir: Path, memory) -> dict:
    """Load, fit, export, prepare and predict, each timed and its memory sampled. One-off work
    before inference (starting an engine, merging adapters) is `setup_s`."""
    from harness.measure import stopwatch
    from harness.strategy import Context

    device, timings = cell.device, {}
    context = Context(cell.task, cell.model, cell.seed, device, work_dir, cell.backend)
    with memory.phase("load"), stopwatch(timings, "load_s", device):
        strategy = cell.strategy_class(cell.config, context)
    with memory.phase("fit"), stopwatch(timings, "fit_s", device):
        strategy.fit([(task, train) for task, train, _ in cell.evaluations])
    artifact_bytes = _export(strategy, work_dir / "export")
    with memory.phase("setup"), stopwatch(timings, "setup_s", device):
        strategy.prepare()
    if cell.task.kind == "generation":
        return _measure_generation(cell, strategy, timings, artifact_bytes, memory)
    with memory.phase("predict"):
        latency = _latency(strategy, cell)
        predictions, predict_s = _predict_all(strategy, cell)
    return {**timings, **latency, **_footprint(strategy), "artifact_bytes": artifact_bytes,
            "trials": int(strategy.trials), "predict_s_per_task": predict_s,
            "pred_labels": [[np.asarray(run.labels, dtype=np.int64) for run in runs]
                            for runs in predictions],
            "pred_scores": [[np.asarray(run.scores, dtype=np.float64) for run in runs]
                            for runs in predictions]}


def _measure_generation(cell: Cell, strategy, timings: dict, artifact_bytes: int,
                        memory) -> dict:
    """Writing and scoring, timed; then, with the strategy's model released, the fluency of
    what it wrote under the base model (not the strategy's time or memory)."""
    import gc

    from harness.generation_cell import fluency, generate_all

    with memory.phase("predict"):
        outputs = generate_all(strategy, cell)
    measured = {**timings, **_footprint(strategy), "artifact_bytes": artifact_bytes,
                "trials": int(strategy.trials)}
    del strategy
    gc.collect()
    return {**measured, **outputs, **fluency(cell, outputs["continuations"])}


def _export(strategy, folder: Path) -> int:
    """Bytes on disk of what the strategy ships besides the base model, written where the
    runner says and sized by the runner."""
    folder.mkdir(parents=True)
    strategy.export(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# Fields the runner writes: a strategy's footprint may not name one, even namespaced.
RUNNER_FIELDS = frozenset({
    "status", "error", "setup_s", "load_s", "fit_s", "predict_s", "wall_s", "latency_p50_ms",
    "latency_p95_ms", "latency_samples", "latency_warmup", "artifact_bytes", "trials",
    "cpu_threads", "host_cpu_count", "n_predictions", "fit_shared_by", "peak_memory_bytes",
    "rss_baseline_bytes", "rss_peak_bytes", "rss_above_baseline_bytes", "device", "device_name",
    "accuracy", "throughput_eps", "cost_usd", "scoring_s", "ttft_ms", "ms_per_token",
    "tokens_per_s", "perplexity", "style_accuracy", "fluency_perplexity", "chrf"})


def _footprint(strategy) -> dict:
    footprint = strategy.footprint()
    clashes = sorted(k for k in footprint.extra if k in RUNNER_FIELDS or k.startswith("rss_"))
    if clashes:
        raise ValueError(f"strategy '{strategy.name}' reports {', '.join(clashes)} in its "
                         f"footprint: those are the runner's measurements")
    return {"trainable_params": footprint.trainable_params,
            "total_params": footprint.total_params, "weight_bytes": footprint.weight_bytes,
            "base_weight_bytes": footprint.base_weight_bytes,
            **{f"footprint_{key}": value for key, value in footprint.extra.items()}}


def _latency(strategy, cell: Cell) -> dict:
    """Single-example latency of the primary task with the first trial's model, measured before
    the batch prediction so that no row was just scored (a prefix cache cannot hit), after a
    warm-up on texts it does not measure: training rows, else evaluation rows outside the
    measured ones, else fixed sentences (a strategy without training rows, on a small set)."""
    from harness.measure import LATENCY_WARMUP, WARMUP_TEXTS, latency_ms, latency_rows

    measured = latency_rows(len(cell.eval), cell.seed)
    texts = [cell.eval.texts[i] for i in measured]
    skip = set(measured)
    unmeasured = [t for i, t in enumerate(cell.eval.texts) if i not in skip]
    warmup = (list(cell.train.texts) or unmeasured or list(WARMUP_TEXTS))[:LATENCY_WARMUP]
    return latency_ms(lambda text: strategy.predict([text], cell.task, 0), texts, warmup,
                      device=cell.device)


def _predict_all(strategy, cell: Cell):
    """Every trial's predictions of every evaluated task, and each task's seconds."""
    from harness.measure import stopwatch

    predictions, predict_s = [], []
    for task, _, evaluation in cell.evaluations:
        timing: dict = {}
        texts = list(evaluation.texts)
        with stopwatch(timing, "predict_s", cell.device):
            predictions.append([strategy.predict(texts, task, trial)
                                for trial in range(int(strategy.trials))])
        predict_s.append(timing["predict_s"])
    return predictions, predict_s


def _records(cell: Cell, outcome: dict, started: float) -> list[tuple]:
    """(record, predictions) for every task the cell evaluated."""
    base = {**cell.identity(), "schema_version": SCHEMA_VERSION, "status": outcome["status"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_s": time.time() - started, "environment": manifest()}
    if outcome["status"] != "ok":
        return [({**base, "key": cell.key_for(task.name), "task": task.name,
                  "error": outcome["error"], "traceback": outcome.get("traceback")}, None)
                for task, _, _ in cell.evaluations]
    if cell.task.kind == "generation":  # one task: generation strategies train no mixtures
        from harness.generation_cell import generation_record

        record = {**base, "key": cell.key, "task": cell.task.name, "fit_shared_by": 1}
        return [generation_record(record, cell, cell.task, cell.eval, outcome)]
    every_labels, every_scores = outcome.pop("pred_labels"), outcome.pop("pred_scores")
    predict_s = outcome.pop("predict_s_per_task")
    results = []
    for (task, train, evaluation), labels, scores, seconds in zip(
            cell.evaluations, every_labels, every_scores, predict_s):
        record = {**base, "key": cell.key_for(task.name), "task": task.name,
                  "fit_shared_by": len(cell.evaluations)}
        if task is not cell.task:  # this task's own rows; the primary's are in the identity
            record.update(n_train=len(train), train_fingerprint=train.fingerprint(),
                          n_eval=len(evaluation), eval_fingerprint=evaluation.fingerprint())
        results.append(_record(record, task, evaluation, {**outcome, "predict_s": seconds},
                               labels, scores, cell.strategy))
    return results


def _record(record: dict, task, evaluation, outcome: dict, trial_labels, trial_scores,
            strategy: str):
    problem = next(filter(None, (_prediction_problem(strategy, task, evaluation, labels, scores)
                                 for labels, scores in zip(trial_labels, trial_scores))), None)
    if problem:
        return {**record, "status": "failed", "error": problem}, None
    labels, scores = trial_labels[0], trial_scores[0]
    scored = len(labels) * len(trial_labels)
    record.update(outcome)
    record.update(record_metrics(evaluation.labels, trial_labels, trial_scores, task.labels))
    record.update({"n_predictions": scored,
                   "throughput_eps": scored / max(outcome["predict_s"], 1e-9)})
    frame = pd.DataFrame({"index": np.arange(len(labels)), "text": list(evaluation.texts),
                          "label": evaluation.labels, "prediction": labels})
    for t, other in enumerate(trial_labels[1:], start=1):
        frame[f"prediction_trial{t}"] = other
    for k, name in enumerate(task.labels):
        frame[f"score_{name}"] = scores[:, k]
    return record, frame


def _prediction_problem(strategy: str, task, evaluation, labels: np.ndarray,
                        scores: np.ndarray) -> str | None:
    n, k = len(evaluation), task.num_labels
    if labels.shape != (n,) or scores.shape != (n, k):
        return (f"strategy '{strategy}' returned labels {labels.shape} and scores "
                f"{scores.shape}; expected ({n},) and ({n}, {k})")
    if labels.min() < 0 or labels.max() >= k:
        return f"strategy '{strategy}' predicted a label outside 0..{k - 1}"
    return None
