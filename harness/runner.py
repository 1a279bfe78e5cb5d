"""Run the grid: each cell in its own child process (memory released, crashes contained),
finished cells skipped unless forced, every cell measured here and the same way.

    results = run_cells(cells, Store("results"), prices=load_prices(None))
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import cost
from harness.environment import manifest
from harness.metrics import trial_metrics
from harness.plan import Cell
from harness.store import Store

LATENCY_SAMPLES = 20


@dataclass
class Summary:
    ran: int = 0
    skipped: int = 0
    failed: int = 0


def run_cells(cells: list[Cell], store: Store, prices: dict, force: bool = False,
              isolate: bool = True, echo=print) -> Summary:
    summary = Summary()
    for number, cell in enumerate(cells, 1):
        prefix = f"[{number}/{len(cells)}] {cell.label}"
        if not force and all(store.is_finished(key) for key in cell.keys):
            summary.skipped += 1
            echo(f"{prefix}: already finished, not recomputed (use --force to recompute)")
            continue
        echo(f"{prefix}: running on {len(cell.train)} training / {len(cell.eval)} evaluation rows")
        started = time.time()
        outcome = _run_isolated(cell) if isolate else _run_cell(cell)
        results = _records(cell, outcome, prices, started)
        for record, predictions in results:
            store.save(record, predictions)
        failed = [record for record, _ in results if record["status"] != "ok"]
        if not failed:
            summary.ran += 1
            for record, _ in results:
                task = f" on {record['task']}" if cell.mixture else ""
                echo(f"{prefix}: accuracy{task} {record['accuracy']:.3f} "
                     f"[{record['accuracy_ci_low']:.3f}, {record['accuracy_ci_high']:.3f}], "
                     f"fit {record['fit_s']:.1f} s, {record['throughput_eps']:.1f} examples/s")
        else:
            summary.failed += 1
            echo(f"{prefix}: FAILED: {failed[0]['error']}")
    return summary


def _run_isolated(cell: Cell) -> dict:
    context = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or memory
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(cell, sender, os.getpid()), daemon=True)
    process.start()
    sender.close()
    outcome = None
    try:
        outcome = receiver.recv()
    except EOFError:  # the child died without a word: crash, OOM kill, signal
        pass
    process.join()
    if outcome is None:
        code = process.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code and code < 0
               else f"exit code {code}")
        outcome = {"status": "failed", "error": f"cell process ended without a result ({how})"}
    return outcome


def _child(cell: Cell, sender, parent_pid: int) -> None:
    _exit_with_parent(parent_pid)
    try:
        sender.send(_run_cell(cell))
    finally:
        sender.close()


def _exit_with_parent(parent_pid: int) -> None:
    """A cell whose runner was killed stops too, instead of computing a result nobody stores."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_cell(cell: Cell) -> dict:
    from harness.measure import PeakMemory, stopwatch

    work_dir = Path(tempfile.mkdtemp(prefix="harness-cell-"))
    try:
        import torch
        from transformers import set_seed

        from harness.environment import device_info
        from harness.strategy import Context

        device = device_info()
        set_seed(cell.seed)
        memory = PeakMemory(device["device"])
        timings: dict = {}
        context = Context(cell.task, cell.model, cell.seed, device["device"], work_dir,
                          cell.backend)
        with stopwatch(timings, "load_s", device["device"]):
            strategy = cell.strategy_class(cell.config, context)
        peak_load = memory.peak_bytes()
        memory.reset()
        with stopwatch(timings, "fit_s", device["device"]):
            if cell.mixture:  # one model trained on every task of the cell
                strategy.fit_tasks([(task, train) for task, train, _ in cell.evaluations])
            else:
                strategy.fit(cell.train)
        peak_fit = memory.peak_bytes()
        memory.reset()
        predictions, predict_s, latency = _predict_all(strategy, cell, device["device"])
        timings["predict_s"] = predict_s[0]
        footprint = strategy.footprint()
        return {
            "status": "ok", **device, **timings, **latency,
            "peak_memory_bytes": max(peak_load, peak_fit, memory.peak_bytes()),
            "peak_memory_load_bytes": peak_load, "peak_memory_fit_bytes": peak_fit,
            "baseline_memory_bytes": memory.baseline_bytes,
            "trainable_params": footprint.trainable_params,
            "total_params": footprint.total_params, **footprint.extra,
            "torch_threads": torch.get_num_threads(),
            "predict_s_per_task": predict_s,
            "pred_labels": [[np.asarray(run.labels, dtype=np.int64) for run in runs]
                            for runs in predictions],
            "pred_scores": [[np.asarray(run.scores, dtype=np.float64) for run in runs]
                            for runs in predictions],
        }
    except BaseException as err:  # noqa: BLE001 - any failure is the cell's result
        if isinstance(err, KeyboardInterrupt):
            raise
        return {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
                "traceback": traceback.format_exc()[-4000:]}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _predict_all(strategy, cell: Cell, device: str):
    """Predictions of every evaluated task, their timings, and single-example latency."""
    from harness.measure import latency_ms, stopwatch

    predictions, predict_s = [], []
    for task, _, evaluation in cell.evaluations:
        timing: dict = {}
        with stopwatch(timing, "predict_s", device):
            predictions.append(_predict_trials(strategy, cell, task, list(evaluation.texts)))
        predict_s.append(timing["predict_s"])
    predict_one = ((lambda text: strategy.predict([text], task=cell.task)) if cell.mixture
                   else (lambda text: strategy.predict([text])))
    latency = latency_ms(predict_one, list(cell.eval.texts[:LATENCY_SAMPLES]), device=device)
    return predictions, predict_s, latency


def _predict_trials(strategy, cell: Cell, task, texts: list[str]) -> list:
    """One Predictions per trial: a strategy with several trials (few-shot demonstration draws)
    predicts the rows once per trial; a multi-task cell names the task."""
    trials = int(getattr(strategy, "trials", 1))
    kwargs = {"task": task} if cell.mixture else {}
    if trials == 1:
        return [strategy.predict(texts, **kwargs)]
    return [strategy.predict(texts, trial=t, **kwargs) for t in range(trials)]


def _records(cell: Cell, outcome: dict, prices: dict, started: float) -> list[tuple]:
    """(record, predictions) for every task the cell evaluated."""
    base = {**cell.identity(), "backend": cell.backend, "status": outcome["status"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_s": time.time() - started, "environment": manifest()}
    if outcome["status"] != "ok":
        return [({**base, "key": cell.key_for(task.name), "task": task.name,
                  "error": outcome["error"], "traceback": outcome.get("traceback")}, None)
                for task, _, _ in cell.evaluations]
    every_labels, every_scores = outcome.pop("pred_labels"), outcome.pop("pred_scores")
    predict_s = outcome.pop("predict_s_per_task")
    results = []
    for (task, train, evaluation), labels, scores, seconds in zip(
            cell.evaluations, every_labels, every_scores, predict_s):
        record = {**base, "key": cell.key_for(task.name), "task": task.name}
        if task is not cell.task:  # this task's own rows; the primary's are in the identity
            record.update(n_train=len(train), train_fingerprint=train.fingerprint(),
                          n_eval=len(evaluation), eval_fingerprint=evaluation.fingerprint())
        results.append(_record(record, task, evaluation, {**outcome, "predict_s": seconds},
                               labels, scores, prices, cell.strategy))
    return results


def _record(record: dict, task, evaluation, outcome: dict, trial_labels, trial_scores,
            prices: dict, strategy: str):
    problem = next(filter(None, (_prediction_problem(strategy, task, evaluation, labels, scores)
                                 for labels, scores in zip(trial_labels, trial_scores))), None)
    if problem:
        return {**record, "status": "failed", "error": problem}, None
    labels, scores = trial_labels[0], trial_scores[0]
    scored = len(labels) * len(trial_labels)
    usd_per_hour = cost.price_per_hour(prices, outcome["device"], outcome["device_name"])
    compute_s = outcome["load_s"] + outcome["fit_s"] + outcome["predict_s"]
    record.update(outcome)
    record.update(trial_metrics(evaluation.labels, trial_labels, task.labels))
    record.update({
        "throughput_eps": scored / max(outcome["predict_s"], 1e-9),
        "usd_per_hour": usd_per_hour,
        "cost_usd": cost.cost_usd(compute_s, usd_per_hour),
        "fit_cost_usd": cost.cost_usd(outcome["fit_s"], usd_per_hour),
        "predict_cost_usd_per_1k": cost.cost_usd(outcome["predict_s"], usd_per_hour)
        * 1000 / scored,
    })
    frame = pd.DataFrame({"index": np.arange(len(labels)), "text": list(evaluation.texts),
                          "label": evaluation.labels, "prediction": labels})
    for t, other in enumerate(trial_labels[1:], start=1):
        frame[f"prediction_trial{t}"] = other
    if len(trial_labels) > 1:  # each row's share of correct trials, for paired comparisons
        frame["correct"] = np.mean([t == evaluation.labels for t in trial_labels], axis=0)
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
