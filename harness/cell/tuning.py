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
from harness.environment import seed_everything
from harness.inputs.data import Split
from harness.inputs.kinds import kind_of
from harness.metrics import stats


def tune(cell, first, context, fit_tasks: list) -> tuple[object, dict]:
    """(the best fitted and prepared strategy, the search as the record keeps it), the trials
    one after another in this process. `first`: the strategy loaded with the cell's config, the
    first trial."""
    search, best = Search(cell), None
    while not search.finished:
        for number, settings in search.round():
            started = time.perf_counter()
            try:
                if number:  # the first trial's strategy is already loaded, with these settings
                    seed_everything(cell.seed)
                    first = cell.strategy_class(dataclasses.replace(cell.config, **settings),
                                                context)
                value = fit_and_validate(cell, first, fit_tasks)
            except Exception as err:  # noqa: BLE001 - a setting that fails is a failed trial
                search.tell(number, None, time.perf_counter() - started, trial_error(err))
                first = None
                gc.collect()
                continue
            if search.tell(number, value, time.perf_counter() - started):
                best = first
            first = None
            gc.collect()  # a model no longer the best is released before the next one loads
    return best, search.summary()


def run_trial(cell, settings: dict, context, fit_tasks: list) -> float:
    """One trial as a job of its own (`--tune-parallel`): the strategy loaded with `settings`,
    fitted and scored on the validation rows; the fitted model is not kept (the chosen
    settings are fitted again for the evaluation rows)."""
    strategy = cell.strategy_class(dataclasses.replace(cell.config, **settings), context)
    return fit_and_validate(cell, strategy, fit_tasks)


def fit_and_validate(cell, strategy, fit_tasks: list) -> float:
    strategy.fit(fit_tasks)
    strategy.prepare()
    return kind_of(cell.task).part("validate")(strategy, cell.task, cell.validation)


class Search:
    """The settings to try and what they scored, asked and told in rounds of `cell.tune_parallel`
    trials: each round is asked once the one before it is told in full, and told in trial
    order, so that the same cell tries the same settings however its trials are executed (one
    at a time, or spread over a cluster in any order). Within a round Optuna's constant liar
    counts the trials not told yet as the worst value, so a round does not ask one setting
    twice. With rounds of 1 (the default) every trial sees every earlier one.

        search = Search(cell)
        while not search.finished: number, settings = search.ask(); ...; search.tell(...)
    """

    def __init__(self, cell):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.cell, self.space, self.budget = cell, cell.strategy_class.search_space, cell.tune
        self.parallel = cell.tune_parallel
        self.metric, self.direction = kind_of(cell.task).validation
        self.startup = max(1, self.budget // 2)
        sampler = optuna.samplers.TPESampler(
            seed=int(np.random.SeedSequence([cell.seed, cell.data_seed]).generate_state(1)[0]),
            n_startup_trials=self.startup, multivariate=True,
            constant_liar=self.parallel > 1)
        self.study = optuna.create_study(direction=self.direction, sampler=sampler)
        self.study.enqueue_trial({name: getattr(cell.config, name) for name in self.space})
        self.asked: dict[int, tuple] = {}  # number -> (optuna trial, settings)
        self.told: dict[int, dict] = {}  # number -> the history entry
        self.next_to_tell = 0  # Optuna hears of the trials in trial order

    @property
    def finished(self) -> bool:
        return len(self.told) == self.budget

    def round(self) -> list[tuple[int, dict]]:
        """The next round's (number, settings): none while the current one is not told."""
        if len(self.told) < len(self.asked) or len(self.asked) == self.budget:
            return []
        return [self.ask() for _ in range(min(self.parallel, self.budget - len(self.asked)))]

    def ask(self) -> tuple[int, dict]:
        trial = self.study.ask()
        settings = {name: _suggest(trial, name, searched)
                    for name, searched in self.space.items()}
        number = len(self.asked)
        self.asked[number] = (trial, settings)
        return number, settings

    def tell(self, number: int, value: float | None, seconds: float,
             error: str | None = None) -> bool:
        """Record a trial's validation value (None: it failed, `error` says how); True when it is
        the best so far."""
        import optuna

        settings = self.asked[number][1]
        if value is not None and not math.isfinite(value):
            value = _worst(self.direction)  # diverged: ranks last, stays a finished trial
        self.told[number] = {"settings": settings, "value": value, "seconds": seconds,
                             **({"error": error} if value is None else {})}
        while self.next_to_tell in self.told:
            told, trial = self.told[self.next_to_tell], self.asked[self.next_to_tell][0]
            if told["value"] is None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, told["value"])
            self.next_to_tell += 1
        return self.best == number

    @property
    def best(self) -> int | None:
        """The number of the best trial told so far, the first of equals (trials end in any
        order on an executor; the choice must not depend on it)."""
        best = None
        for number in sorted(self.told):
            value = self.told[number]["value"]
            if value is not None and (best is None or _better(
                    value, self.told[best]["value"], self.direction)):
                best = number
        return best

    @property
    def history(self) -> list[dict]:
        return [self.told[number] for number in sorted(self.told)]

    def summary(self, refit: dict | None = None) -> dict:
        """The search as the record keeps it (`refit`: how the chosen settings were fitted again,
        when the trials ran as jobs of their own); a RuntimeError when every trial failed (the
        cell fails saying how the first did)."""
        history, best = self.history, self.best
        if best is None:
            raise RuntimeError(f"every one of the {self.budget} tuning trials failed; the "
                               f"first: {history[0]['error']}")
        rounds = f", in rounds of {self.parallel}" if self.parallel > 1 else ""
        return {
            "trials": self.budget, "metric": self.metric, "direction": self.direction,
            "n_validation": len(self.cell.validation),
            "sampler": f"optuna TPE (multivariate), {self.startup} start-up trials, the "
                       f"first the config as given{rounds}",
            "parallel": self.parallel,
            "space": {name: str(searched) for name, searched in self.space.items()},
            "history": history, "chosen": history[best]["settings"],
            "best_value": history[best]["value"],
            "default_value": history[0]["value"], **(refit or {}),
        }


def trial_error(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


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
