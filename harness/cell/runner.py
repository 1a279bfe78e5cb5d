"""Run and measure one cell, the same way whatever executes the grid: in its own child process
(memory released, crashes contained), every phase timed and its memory sampled here, the
records built here. Which cells run where, and writing what comes back, is
harness.execution.driver's.
After load, fit, export and prepare, the task's kind measures the rest and builds the records
(its Kind's `measure` and `records`, harness.inputs.kinds): a classification cell's below, a
generation cell's in harness.cell.generation.

    computed = compute(CellJob(cell))    # one cell, wherever an executor sent it
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.api.probe import NO_PROBE
from harness.api.strategy import Context
from harness.api.variants import DEFAULT
from harness.cell.isolation import run_isolated
from harness.cell.job import CellJob
from harness.cell.measure import RunnerProbe, measured_process, stopwatch
from harness.cell.phases import (export_bytes, footprint_fields, predict_all, shipped_bytes,
                                  single_row_latency)
from harness.cell.tuning import run_trial, trial_error, tune
from harness.cell.variants import measure_variants, variant_records
from harness.environment import manifest
from harness.inputs.kinds import kind_of
from harness.inputs.tasks import primary_metric
from harness.metrics.classification import record_metrics
from harness.plan.cell import Cell
from harness.results.claims import HOST, scratch_dir
from harness.results.store import SCHEMA_VERSION


@dataclass
class Computed:
    """A cell's outcome where it ran: (record, predictions) per evaluated task, and the output of
    a failed cell's process (kept beside its record, not in it)."""

    results: list[tuple[dict, pd.DataFrame | None]]
    log: str | None = None
    trial: dict | None = None  # a tuning trial's job: status, value, seconds, error


    @property
    def ok(self) -> bool:
        return all(record["status"] == "ok" for record, _ in self.results)


def compute(job: CellJob) -> Computed:
    """Run one cell as placed and measure it, where the executor put it (this process, a pool
    thread or a Ray worker); nothing is written here: the driver stores what comes back."""
    started = time.time()
    outcome = _run(job)
    log = outcome.pop("log", None)
    if job.trial is not None:
        return Computed([], log, trial=outcome)
    return Computed(_records(job, outcome, started), log)


def failed(job: CellJob, error: str) -> Computed:
    """The records of a cell that could not be run at all (its worker lost too often, say)."""
    return Computed(_records(job, {"status": "failed", "error": error[:500]}, time.time()))


def _run(job: CellJob) -> dict:
    prepared = _prepare_model(job.cell)
    if prepared["status"] != "ok":
        return prepared
    outcome = (run_isolated(_run_cell, job, job.timeout_s, job.placement, job.cell.label)
               if job.isolate
               else _run_cell(job))
    if outcome["status"] == "ok":
        outcome["setup_s"] = outcome.get("setup_s", 0.0) + prepared["setup_s"]
    return outcome


def _prepare_model(cell: Cell) -> dict:
    """One-off work on the model (converting a GGUF file, once per machine), timed as set-up
    and done here, before the cell's process starts, so that its memory is not the cell's."""
    start = time.perf_counter()
    try:
        for model in (cell.model, *cell.strategy_models.values()):
            if model is not None:
                model.local_path()
    except Exception as err:  # noqa: BLE001 - the cell fails, the grid goes on
        return {"status": "failed", "error": f"preparing model '{cell.model_name}': "
                                             f"{type(err).__name__}: {err}".splitlines()[0][:500]}
    return {"status": "ok", "setup_s": time.perf_counter() - start}


def _run_cell(job: CellJob) -> dict:
    cell, work_dir = job.cell, scratch_dir()
    try:
        import torch

        with measured_process(cell.seed, cell.device) as (memory, mmap_threshold):
            if job.trial is not None:
                return _trial(cell, job.trial[1], work_dir)
            measured = _measure_phases(cell, work_dir, memory, job.tuned)
            if job.artifacts:
                measured["artifact_path"] = _keep_artifacts(work_dir / "export", job.artifacts,
                                                            cell.key)
            return {"status": "ok", **measured, **memory.record(),
                    "malloc_mmap_threshold_bytes": mmap_threshold,
                    "cpu_threads": torch.get_num_threads(), "host_cpu_count": os.cpu_count()}
    except BaseException as err:  # noqa: BLE001 - any failure is the cell's result
        if isinstance(err, KeyboardInterrupt):
            raise
        return {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
                "traceback": traceback.format_exc()[-4000:]}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _context(cell: Cell, work_dir: Path, probe=NO_PROBE) -> tuple[Context, list]:
    """The strategy's context, and the (task, rows) it fits on."""
    context = Context(cell.task, cell.model, cell.seed, cell.device, work_dir, cell.backend,
                      cell.strategy_models, cell.validation if cell.validates else None, probe,
                      cell.precision, cell.endpoint if cell.backend == "api" else None)
    return context, [(cell.task, cell.fit_train),
                     *((task, train) for task, train, _ in cell.mixture)]


def _trial(cell: Cell, settings: dict, work_dir: Path) -> dict:
    """One tuning trial as a job of its own: its validation value and seconds (load, fit,
    validation); a setting that fails is a failed trial, not a failed job."""
    started = time.perf_counter()
    try:
        value = run_trial(cell, settings, *_context(cell, work_dir))
    except Exception as err:  # noqa: BLE001 - told to the search as a failed trial
        return {"status": "ok", "value": None, "seconds": time.perf_counter() - started,
                "error": trial_error(err)}
    return {"status": "ok", "value": value, "seconds": time.perf_counter() - started}


def _measure_phases(cell: Cell, work_dir: Path, memory, tuned: dict | None = None) -> dict:
    """Load, fit, export and prepare, each timed and its memory sampled, then what the task's
    kind measures. One-off work before inference (starting an engine, merging adapters) is
    `setup_s`. `tuned`: a search that ran as jobs of their own; its chosen settings are fitted
    here, and `fit_s` is the trials' seconds and this fit's."""
    device, timings, tuning = cell.device, {}, None
    context, fit_tasks = _context(cell, work_dir, RunnerProbe(memory, timings, device))
    searching = bool(cell.tune) and tuned is None
    config = cell.config if tuned is None else dataclasses.replace(cell.config,
                                                                   **tuned["chosen"])
    with memory.phase("load"), stopwatch(timings, "load_s", device):
        strategy = cell.strategy_class(config, context)
    with memory.phase("fit"), stopwatch(timings, "fit_s", device):
        if searching:  # every trial prepares to be validated: the search holds its set-up
            strategy, tuning = tune(cell, strategy, context, fit_tasks)
        else:
            strategy.fit(fit_tasks)
    artifact_bytes = export_bytes(strategy, work_dir / "export")
    with memory.phase("setup"), stopwatch(timings, "setup_s", device):
        if not searching:
            strategy.prepare()
    if tuned is not None:
        tuning = _refit(cell, strategy, tuned, timings)
    measure = kind_of(cell.task).part("measure")
    measured = measure(cell, strategy, timings, artifact_bytes, memory)
    if tuning:
        measured["tuning"] = tuning
    if cell.inference:  # each loads the export itself: the fitted model's memory is not theirs
        del strategy
        measured["variants"] = measure_variants(cell, work_dir / "export", work_dir)
    return measured


def _refit(cell: Cell, strategy, tuned: dict, timings: dict) -> dict:
    """The search that ran as jobs of their own, as the record keeps it: the refit scored on the
    validation rows again (`refit_value`: the chosen trial's value where training is
    reproducible), and `fit_s` made what the tuning took: every trial's seconds, the refit
    and its validation."""
    started = time.perf_counter()
    value = kind_of(cell.task).part("validate")(strategy, cell.task, cell.validation)
    refit_s = timings["fit_s"] + time.perf_counter() - started
    trials_s = sum(trial["seconds"] for trial in tuned["history"])
    timings["fit_s"] = trials_s + refit_s
    return {**tuned, "refit_value": value, "refit_s": refit_s, "trials_s": trials_s}


def measure_classification(cell: Cell, strategy, timings: dict, artifact_bytes: int,
                           memory) -> dict:
    """Latency at batch size 1, then every evaluated task's labels and scores, timed (the
    runner measures the inference variants asked once this returns and the model is released)."""
    with memory.phase("predict"):
        timed_single = single_row_latency(strategy, cell)
        labels, scores, predict_s, prompts = predict_all(strategy, cell)
    footprint = footprint_fields(strategy)
    measured = {**timings, **timed_single, **footprint,
                "artifact_bytes": artifact_bytes,
                "disk_bytes": shipped_bytes(cell, footprint, artifact_bytes),
                "trials": int(strategy.trials),
                "predict_s_per_task": predict_s,
                "pred_labels": labels, "pred_scores": scores, "pred_prompts": prompts}
    return measured


def _keep_artifacts(export: Path, artifacts: str, key: str) -> str | None:
    """The exported artifacts copied to `<artifacts>/<key>/`, complete or not at all."""
    if not any(export.iterdir()):
        return None
    target = Path(artifacts) / key
    partial = target.with_name(f".{key}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(export, partial)
    shutil.rmtree(target, ignore_errors=True)  # an earlier computation of this cell, forced
    os.replace(partial, target)
    return str(target)


def _records(job: CellJob, outcome: dict, started: float) -> list[tuple]:
    """(record, predictions) for every task the cell evaluated."""
    cell = job.cell
    base = {**cell.identity(), "schema_version": SCHEMA_VERSION, "status": outcome["status"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_s": time.time() - started, "environment": manifest(),
            "executor": job.executor, "host": HOST}
    if outcome["status"] != "ok":
        return [({**base, "key": cell.key_for(task.name), "task": task.name,
                  "error": outcome["error"], "traceback": outcome.get("traceback"),
                  **({"timed_out": True} if outcome.get("timed_out") else {})}, None)
                for task, _, _ in cell.evaluations]
    return kind_of(cell.task).part("records")(cell, base, outcome)


def classification_records(cell: Cell, base: dict, outcome: dict) -> list[tuple]:
    """A record per evaluated task of a cell that measured, and per inference variant."""
    every_labels, every_scores = outcome.pop("pred_labels"), outcome.pop("pred_scores")
    every_prompts = outcome.pop("pred_prompts", None) or [None] * len(every_labels)
    predict_s = outcome.pop("predict_s_per_task")
    variants = outcome.pop("variants", [])
    results = []
    for (task, train, evaluation), labels, scores, seconds, prompts in zip(
            cell.evaluations, every_labels, every_scores, predict_s, every_prompts):
        record = {**base, "key": cell.key_for(task.name), "task": task.name,
                  "primary_metric": primary_metric(task),
                  "fit_shared_by": len(cell.evaluations), "inference": DEFAULT}
        if task is not cell.task:  # this task's own rows; the primary's are in the identity
            record.update(n_train=len(train), train_fingerprint=train.fingerprint(),
                          n_eval=len(evaluation), eval_fingerprint=evaluation.fingerprint())
        results.append(_record(record, task, evaluation, {**outcome, "predict_s": seconds},
                               labels, scores, cell.strategy, prompts))
    if variants and results[0][0]["status"] == "ok":
        def build(record, measured, labels, scores):
            return _record(record, cell.task, cell.eval, measured, labels, scores, cell.strategy)

        results += variant_records(cell, base, results[0][0], every_labels[0], variants, build)
    return results


def _record(record: dict, task, evaluation, outcome: dict, trial_labels, trial_scores,
            strategy: str, trial_prompts=None):
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
    for t, prompts in enumerate(trial_prompts or []):  # after the scores: readers look there
        if prompts is not None:
            frame["prompt" if t == 0 else f"prompt_trial{t}"] = prompts
    return record, frame


def _prediction_problem(strategy: str, task, evaluation, labels: np.ndarray,
                        scores: np.ndarray) -> str | None:
    n, k = len(evaluation), task.num_labels
    if labels.shape != (n,) or scores.shape != (n, k):
        return (f"strategy '{strategy}' returned labels {labels.shape} and scores "
                f"{scores.shape}; expected ({n},) and ({n}, {k})")
    if labels.min() < 0 or labels.max() >= k:
        return f"strategy '{strategy}' predicted a label outside 0..{k - 1}"
    if np.isnan(scores).any() or np.isposinf(scores).any():
        return (f"strategy '{strategy}' returned {'NaN' if np.isnan(scores).any() else 'infinite'}"
                f" scores (a diverged model?)")
    # Accuracy reads the labels, calibration (ECE) and the score columns read the scores: a
    # label that is not a highest score of its row makes the two disagree about one prediction.
    # A tie may go either way.
    chosen, best = scores[np.arange(n), labels], scores.max(axis=1)
    wrong = np.flatnonzero(chosen < best - 1e-9 * np.maximum(1.0, np.abs(best)))
    if len(wrong):
        i = int(wrong[0])
        return (f"strategy '{strategy}' labelled {len(wrong)} of {n} rows with a label that is "
                f"not the highest of its scores (row {i}: label {int(labels[i])}, scores "
                f"{np.round(scores[i], 4).tolist()})")
    return None
