"""`harness recommend`: read a task's records as the report does (latest record per cell,
priced), turn them into options (harness.recommend.options) and say which qualify."""

from __future__ import annotations

import json
from dataclasses import fields

import pandas as pd

from harness.metrics import stats
from harness.results.cost import load_prices, price_records
from harness.errors import HarnessError
from harness.recommend.generation import apart_from_first
from harness.recommend.options import ACCURACY, Constraints, candidates, recommend
from harness.recommend.text import explanation, render
from harness.report.tables import correctness, latest_per_seed, leaderboard
from harness.results.frames import with_labels
from harness.results.store import Store
from harness.inputs.kinds import KINDS, kind_of, record_kind
from harness.inputs.tasks import BUILTIN_TASKS


def run_recommend(results: str, task: str, n_train: int | None, constraints: Constraints,
                  explain: bool, prices: str | None, as_json: bool = False) -> tuple[str, bool]:
    """(what to print, whether anything qualified); `as_json`: the verdict as JSON."""
    _check(constraints, n_train)
    price_table = load_prices(prices)
    store = Store(results)
    ok = finished_records(store, task, price_table)
    kind = _ranking_kind(task, ok)
    if kind.ranked:
        options, by = candidates(leaderboard(ok, store), n_train), ACCURACY
        verdict = recommend(options, constraints)
        differences = paired_against_first(verdict.qualifying, ok, store)
    else:  # by the task's primary metric, over the kind's options
        if constraints.min_accuracy is not None:
            raise HarnessError(f"--min-accuracy is for classification tasks; '{task}' is a "
                               f"{kind.name} task, ranked by its primary metric")
        options, by = kind.part("options")(ok, n_train)
        verdict = recommend(options, constraints, by)
        differences = apart_from_first(verdict.qualifying, by)
    device = _device(options)
    if as_json:
        return json.dumps(verdict_json(verdict, constraints, task, n_train, differences,
                                       device, by), indent=1), len(verdict.qualifying) > 0
    text = render(verdict, constraints, task, n_train, differences, device, by)
    if explain:
        text += "\n\n" + explanation(verdict, constraints, options, n_train, device,
                                     differences, by)
    return text, len(verdict.qualifying) > 0


JSON_FIGURES = ("n_train", "latency_p95_ms", "predict_cost_usd_per_1k", "memory_gib",
                "fit_cost_usd", "fit_s")


def verdict_json(verdict, constraints: Constraints, task: str, n_train: int | None,
                 differences: dict[str, str], device: str, by=ACCURACY) -> dict:
    """What `render` says, as data: the qualifying options best first with their figures and
    their difference to the first, the excluded ones with why, the binding constraint."""
    def figure(value):
        return None if value is None or pd.isna(value) else float(value)

    return {"task": task, "n_train": n_train, "device": device, "ranked_by": by.name,
            "constraints": {f.name: getattr(constraints, f.name) for f in constraints.given()},
            "qualifying": [{"name": option["name"], "how": option["how"],
                            **{k: figure(option.get(k)) for k in (*by.fields, *JSON_FIGURES)},
                            "versus_first": differences.get(option["name"])}
                           for _, option in verdict.qualifying.iterrows()],
            "excluded": [{"name": name, "why": why} for name, why in verdict.excluded],
            "binding": verdict.binding}


def _ranking_kind(task: str, ok: pd.DataFrame):
    """The kind of the task's records, when recommend ranks it (by accuracy, or by the task's
    primary metric over the kind's options)."""
    kinds = list(map(record_kind, ok.to_dict("records")))
    unranked = next((kind for kind in kinds if not kind.ranked and kind.options is None), None)
    if unranked is not None:
        ranked = " and ".join(name for name, kind in KINDS.items()
                              if kind.ranked or kind.options is not None)
        raise HarnessError(f"'{task}' is a {unranked.name} task: recommend ranks {ranked} "
                           f"tasks; compare {unranked.name} strategies in its report")
    return kinds[0]


def _check(constraints: Constraints, n_train: int | None) -> None:
    if n_train is not None and n_train <= 0:
        raise HarnessError(f"--n-train must be positive, got {n_train}")
    for f in fields(constraints):
        value = getattr(constraints, f.name)
        if value is not None and not value >= 0:
            raise HarnessError(f"{f.metadata['option']} must be a number >= 0, got {value}")
    if constraints.min_accuracy is not None and constraints.min_accuracy > 1:
        raise HarnessError(f"--min-accuracy is a share in 0..1, got {constraints.min_accuracy}")


def finished_records(store: Store, task: str, prices: dict,
                     strict: bool = False) -> pd.DataFrame:
    """A task's finished records as its report reads them: labelled, priced, the latest of
    each cell; a HarnessError when there are none (or, `strict`, when one is invalid)."""
    records = pd.DataFrame(store.records(strict=strict))
    if records.empty:
        raise HarnessError(f"no records in '{store.root}': run `harness run` first")
    found = sorted(set(records["task"]))
    if task not in found:
        raise HarnessError(f"no records of task '{task}' in '{store.root}' (tasks with records: "
                           f"{', '.join(found)})")
    records = records[(records["task"] == task) & (records["status"] == "ok")]
    if records.empty:
        raise HarnessError(f"no finished records of task '{task}' in '{store.root}'")
    labels = {name: t.labels for name, t in BUILTIN_TASKS.items() if kind_of(t).labelled}
    records = records.assign(labels=with_labels(records, store, labels)["labels"])
    return latest_per_seed(price_records(records, prices))


def paired_against_first(qualifying: pd.DataFrame, ok: pd.DataFrame,
                         store: Store) -> dict[str, str]:
    """Each measured runner-up against the first, paired over the same evaluation rows; an
    interpolated option has no rows of its own to pair."""
    if len(qualifying) < 2 or qualifying.iloc[0].get("interpolated") is True:
        return {}
    best = qualifying.iloc[0]
    first = stats.Clustered.of(correctness(best, ok, store))
    out = {}
    for _, option in qualifying.iloc[1:].iterrows():
        if option.get("interpolated") is True or option["eval_set"] != best["eval_set"]:
            continue
        diff = stats.paired_difference(stats.Clustered.of(correctness(option, ok, store)),
                                       first)
        verdict = stats.verdict(diff.p, bool(option.get("conditional", True))
                                or bool(best.get("conditional", True)))
        out[option["name"]] = (f"vs #1 {diff.diff:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}], "
                               f"p={diff.p:.2g}, {verdict}")
    return out


def _device(options: pd.DataFrame) -> str:
    names = options.apply(lambda o: f"{o.get('device_name') or o.get('device')}"
                          + (f", {int(o['cpu_threads'])} threads"
                             if o.get("device") == "cpu" and pd.notna(o.get("cpu_threads"))
                             else ""), axis=1)
    return "; ".join(dict.fromkeys(names))
