"""Tuning a strategy inside its cell (`harness run --tune N`): N settings of its `search_space`
(harness.api.search) are each fitted on the training rows less the validation rows and scored
on the validation rows by the task kind's validation metric (macro-F1 for classification,
perplexity for generation); the best fitted strategy is the cell's, and the evaluation rows
are scored once, by it. The evaluation rows are never seen here.

The settings come from Optuna's TPE sampler (Bergstra et al., 2011; what Optuna and Ray Tune
default to): the first trial is the config as given (its defaults), the next N // 2 - 1 are
drawn at random and the rest by TPE (multivariate, as the ranges interact: the best learning
rate depends on the number of steps). Seeded by the cell's seed and data seed, so a rerun
tries the same settings. Every trial's model starts from the same initialisation (the cell's
seed), so that trials differ by their settings alone.

The whole search runs in the cell's fit phase: a tuned row's fit time and cost are what the
tuning took (every trial's load, fit and validation).

    strategy, tuning = tune(cell, strategy, context, fit_tasks)   # tuning: the record's field
"""

from __future__ import annotations

import dataclasses
import gc
import math
import time

import numpy as np

from harness.api.search import Choice, IntRange, LogUniform, Uniform
from harness.inputs.data import Split
from harness.inputs.kinds import kind_of
from harness.metrics import stats


def tune(cell, first, context, fit_tasks: list) -> tuple[object, dict]:
    """(the best fitted and prepared strategy, the search as the record keeps it). `first`: the
    strategy loaded with the cell's config, the first trial."""
    import optuna
    from transformers import set_seed

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, budget = cell.strategy_class.search_space, cell.tune
    kind = kind_of(cell.task)
    metric, direction = kind.validation
    score = kind.part("validate")
    startup = max(1, budget // 2)
    sampler = optuna.samplers.TPESampler(
        seed=int(np.random.SeedSequence([cell.seed, cell.data_seed]).generate_state(1)[0]),
        n_startup_trials=startup, multivariate=True)
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.enqueue_trial({name: getattr(cell.config, name) for name in space})
    best, best_value, chosen, history = None, None, None, []
    for number in range(budget):
        trial = study.ask()
        settings = {name: _suggest(trial, name, searched) for name, searched in space.items()}
        started = time.perf_counter()
        try:
            if number:  # the first trial's strategy is already loaded, with these settings
                set_seed(cell.seed)
                first = cell.strategy_class(dataclasses.replace(cell.config, **settings),
                                            context)
            first.fit(fit_tasks)
            first.prepare()
            value = score(first, cell.task, cell.validation)
        except Exception as err:  # noqa: BLE001 - a setting that fails is a failed trial
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            history.append({"settings": settings, "value": None,
                            "error": f"{type(err).__name__}: {err}".splitlines()[0][:200],
                            "seconds": time.perf_counter() - started})
            first = None
            gc.collect()
            continue
        value = value if math.isfinite(value) else _worst(direction)
        study.tell(trial, value)
        history.append({"settings": settings, "value": value,
                        "seconds": time.perf_counter() - started})
        if best is None or _better(value, best_value, direction):
            best, best_value, chosen = first, value, settings
        first = None
        gc.collect()  # a model no longer the best is released before the next one loads
    if best is None:
        raise RuntimeError(f"every one of the {budget} tuning trials failed; the first: "
                           f"{history[0]['error']}")
    return best, {
        "trials": budget, "metric": metric, "direction": direction,
        "n_validation": len(cell.validation),
        "sampler": f"optuna TPE (multivariate), {startup} start-up trials, the "
                   f"first the config as given",
        "space": {name: str(searched) for name, searched in space.items()},
        "history": history, "chosen": chosen, "best_value": best_value,
        "default_value": history[0]["value"],
    }


def _suggest(trial, name: str, searched):
    if isinstance(searched, LogUniform):
        return trial.suggest_float(name, searched.low, searched.high, log=True)
    if isinstance(searched, Uniform):
        return trial.suggest_float(name, searched.low, searched.high)
    if isinstance(searched, IntRange):
        return trial.suggest_int(name, searched.low, searched.high, log=searched.log)
    if isinstance(searched, Choice):
        return trial.suggest_categorical(name, list(searched.values))
    raise TypeError(f"search range {searched!r} is not one of harness.api.search's")


def _better(value: float, best: float, direction: str) -> bool:
    return value > best if direction == "maximize" else value < best


def _worst(direction: str) -> float:
    # A diverged trial (NaN loss, NaN perplexity) ranks last but stays a finished trial.
    return -1e9 if direction == "maximize" else 1e9


def macro_f1_of(strategy, task, validation: Split) -> float:
    """A classification strategy's macro-F1 on the validation rows (higher is better)."""
    labels = strategy.predict(list(validation.texts), task, 0).labels
    return stats.macro_f1(validation.labels, labels, task.num_labels)


def perplexity_of(strategy, task, validation: Split) -> float:
    """A generation strategy's perplexity on the validation passages (lower is better)."""
    scores = strategy.log_likelihood(list(validation.texts), task, 0)
    return float(np.exp(np.sum(scores.nll) / max(np.sum(scores.tokens), 1)))
