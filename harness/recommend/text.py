"""What `harness recommend` prints: the ranked options with their figures, what excludes the
others, and with `--explain` a paragraph to paste into a design document."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd

from harness.metrics import catalog
from harness.recommend.options import ACCURACY, Constraints, Verdict, number
from harness.report.display import accuracy_text
from harness.report.formats import metric_text

_WORDS = {"max_latency_ms": "p95 latency at most {} ms",
          "max_usd_per_1k": "at most USD {} per 1,000 predictions",
          "max_memory_gib": "peak memory at most {} GiB",
          "max_fit_usd": "at most USD {} to train",
          "min_accuracy": "accuracy at least {}"}


def constraint_words(constraints: Constraints) -> str:
    parts = [_WORDS[f.name].format(number(getattr(constraints, f.name)))
             for f in fields(constraints) if getattr(constraints, f.name) is not None]
    return ", ".join(parts) if parts else "no constraint"


def figures(option: pd.Series) -> str:
    """An option's measured numbers, in one line."""
    parts = [f"p95 latency {number(option.get('latency_p95_ms'))} ms",
             f"USD {number(option.get('predict_cost_usd_per_1k'))} per 1,000 predictions",
             f"peak memory {number(option.get('memory_gib'))} GiB"]
    if not option.get("flat", False):
        parts.append(f"USD {number(option.get('fit_cost_usd'))} to train "
                     f"({number(option['fit_s'])} s)")
    return ", ".join(parts)


def render(verdict: Verdict, constraints: Constraints, task: str, n_train: int | None,
           differences: dict[str, str], device: str, by: catalog.Metric = ACCURACY) -> str:
    rows = f"{n_train} labelled rows" if n_train else "the measured training sizes"
    lines = [f"{task}: {rows}; {constraint_words(constraints)}; measured on {device}."]
    if len(verdict.qualifying):
        order = "most accurate first" if by is ACCURACY else \
            f"best {by.header} first ({'higher' if by.higher_is_better else 'lower'} is better)"
        lines.append(f"Qualifying, {order} ({len(verdict.qualifying)}):")
    for rank, option in enumerate(verdict.qualifying.itertuples(index=False), 1):
        option = pd.Series(option._asdict())
        versus = differences.get(option["name"])
        lines.append(f"  {rank}. {option['name']}: {by.header} {metric_text(by, option)} "
                     f"({option['how']}){'; ' + versus if versus else ''}")
        lines.append(f"     {figures(option)}")
    if verdict.excluded:
        lines.append("Excluded:")
        lines += [f"  - {name}: {'; '.join(why)}" for name, why in verdict.excluded]
    if not len(verdict.qualifying):
        lines.append("No strategy meets every constraint. " + (
            f"Binding: {verdict.binding}." if verdict.binding else
            "No single constraint binds: each option fails more than one."))
    return "\n".join(lines)


def explanation(verdict: Verdict, constraints: Constraints, options: pd.DataFrame,
                n_train: int | None, device: str, differences: dict[str, str],
                by: catalog.Metric = ACCURACY) -> str:
    """A paragraph a person can paste into a design document."""
    given = constraint_words(constraints)
    rows = f"With {n_train} labelled rows" if n_train else "At the measured training sizes"
    where = f"{rows} and {given} on {device}" if given != "no constraint" else \
        f"{rows} on {device}"
    if not len(verdict.qualifying):
        return (f"{where}, no measured strategy qualifies. {verdict.binding or ''}".strip()
                + ("." if verdict.binding else ""))
    if by is not ACCURACY:
        return _ranked_by_metric(verdict, where, differences, by)
    best = verdict.qualifying.iloc[0]
    text = [f"{where}, {best['name']} is best: {accuracy_text(best)} ({best['how']}), "
            f"{_cost_words(best)}."]
    if len(verdict.qualifying) > 1:
        second = verdict.qualifying.iloc[1]
        gap = best["accuracy"] - second["accuracy"]
        versus = differences.get(second["name"], "")
        text.append(f"The runner-up, {second['name']}, is {gap:.3f} below"
                    f"{' (' + versus + ')' if versus else ''}, {_cost_words(second)}.")
    better = options[(options["accuracy"] > best["accuracy"])
                     & ~options["name"].isin(verdict.qualifying["name"])]
    mentioned = {best["name"], *better["name"]}
    for name, group in better.sort_values("accuracy", ascending=False).groupby(
            "name", sort=False):
        top = group.iloc[0]
        why = next((w for n, w in verdict.excluded if n == name), [])
        text.append(f"{name} would be {top['accuracy'] - best['accuracy']:.3f} higher but is "
                    f"excluded: {'; '.join(why)}.")
    flat = options[options["flat"].fillna(False).astype(bool)
                   & ~options["name"].isin(mentioned)] if "flat" in options else options.iloc[:0]
    for _, prompt in flat.iterrows():
        gap = best["accuracy"] - prompt["accuracy"]
        side = "below" if gap > 0 else "above"
        text.append(f"{prompt['name']}, which needs no training rows, is {abs(gap):.3f} "
                    f"{side}.")
    text.append("Accuracies are on the same evaluation rows with 95% intervals; costs are at "
                "the report's prices; latency is batch size 1.")
    return " ".join(text)


def _ranked_by_metric(verdict: Verdict, where: str, differences: dict[str, str],
                      by: catalog.Metric) -> str:
    """The paragraph where a task ranks by its primary metric (a generation task)."""
    best = verdict.qualifying.iloc[0]
    text = [f"{where}, {best['name']} is best by {by.header} "
            f"({'higher' if by.higher_is_better else 'lower'} is better): "
            f"{metric_text(by, best)} ({best['how']}), {_cost_words(best)}."]
    for _, option in verdict.qualifying.iloc[1:].iterrows():
        versus = differences.get(option["name"])
        text.append(f"{option['name']}: {metric_text(by, option)}"
                    f"{' (' + versus + ')' if versus else ''}.")
    text.append("Each figure is on the same evaluation passages, with the span of its "
                "records' 95% intervals; costs are at the report's prices.")
    return " ".join(text)


def _cost_words(option: pd.Series) -> str:
    train = (f"USD {number(option['fit_cost_usd'])} to train"
             if not option.get("flat", False) else "nothing to train")
    return (f"{train}, USD {number(option.get('predict_cost_usd_per_1k'))} per 1,000 "
            f"predictions, p95 latency {number(option.get('latency_p95_ms'))} ms")
