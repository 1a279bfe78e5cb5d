"""The verdict at the top of a task's report: what `harness recommend` says under its default
constraints (none: the most accurate option, and how far the runner-up is, paired), the
Pareto front of accuracy against the price of a prediction in one sentence, and for each
trained option the volume of predictions after which its training has paid for itself against
the cheapest prompted one.

    lines = report_verdict(store, "agnews", ok_records)   # Markdown, one item per line

Money is shown with two significant figures, a prediction's price per million predictions:
"$0.0041 to train", "$0.91 per million predictions".
"""

from __future__ import annotations

import pandas as pd

from harness.inputs.kinds import record_kind
from harness.recommend.generation import apart_from_first
from harness.recommend.options import Constraints, candidates, recommend
from harness.report.escape import md_escape
from harness.report.formats import dollars, metric_text
from harness.recommend.run import paired_against_first
from harness.report.tables import latest_per_seed, leaderboard
from harness.results.store import Store

PER_MILLION = 1000  # the records price 1,000 predictions


def count(value: float) -> str:
    """A number of predictions in words a reader scans: 8,200, 1.4 million, 37 billion."""
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if value >= size:
            return f"{value / size:.2g} {word}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2g}"


def report_verdict(store: Store, task: str, records: pd.DataFrame) -> list[str]:
    """The verdict's lines (Markdown) from a task's priced records, as its report reads them
    (the latest finished record of each cell); none when nothing has an accuracy to rank."""
    ok = records[records["status"] == "ok"]
    if not ok.empty and "accuracy" not in ok:
        return primary_verdict(task, latest_per_seed(ok))
    if ok.empty:
        return []
    ok = latest_per_seed(ok)
    board = leaderboard(ok, store)
    options = candidates(board)
    if options.empty:
        return []
    verdict = recommend(options, Constraints())
    ranked = verdict.qualifying
    best = ranked.iloc[0]
    lines = [f"**Recommended: {_name(best)}**, accuracy {best['accuracy']:.3f} "
             f"[{best['accuracy_ci_low']:.3f}, {best['accuracy_ci_high']:.3f}] "
             f"({md_escape(best['how'])}), {_cost_words(best)} — what `harness recommend "
             f"--task {md_escape(task)}` says under its default constraints (none: the most "
             f"accurate option); add yours, e.g. `--max-latency-ms 50 --max-usd-per-1k "
             f"0.01`."]
    runner = _runner_up(ranked, ok, store)
    if runner:
        lines.append(runner)
    front = pareto_front(options)
    if len(front):
        lines.append("Pareto front of accuracy against the price of a prediction: " + "; ".join(
            f"{_name(o)} ({o['accuracy']:.3f}, {_per_million(o)} per million predictions)" for _, o in front.iterrows())
            + ". Every other row is beaten on both by one of these.")
    lines += break_even(options)
    return lines


def primary_verdict(task: str, ok: pd.DataFrame) -> list[str]:
    """The verdict of a task ranked by its primary metric (a generation task): the first row
    under no constraint, and the runner-up against it by their intervals."""
    kind = record_kind(ok.iloc[0].to_dict())
    if kind.options is None:
        return []
    options, metric = kind.part("options")(ok)
    ranked = recommend(options, Constraints(), metric).qualifying
    if ranked.empty or pd.isna(ranked.iloc[0][metric.name]):
        return []
    best = ranked.iloc[0]
    lines = [f"**Recommended: {_name(best)}**, {metric.header} {metric_text(metric, best)} "
             f"({md_escape(best['how'])}), {_cost_words(best)} — what `harness recommend "
             f"--task {md_escape(task)}` says under its default constraints (none: the best "
             f"by the task's primary metric, {metric.header}, "
             f"{'higher' if metric.higher_is_better else 'lower'} is better)."]
    versus = apart_from_first(ranked, metric)
    if len(ranked) > 1 and ranked.iloc[1]["name"] in versus:
        second = ranked.iloc[1]
        lines.append(f"Runner-up: {_name(second)}, {metric.header} "
                     f"{metric_text(metric, second)}, {versus[second['name']]}.")
    return lines


def _name(option: pd.Series) -> str:
    return md_escape(str(option["name"]))


def _cost_words(option: pd.Series) -> str:
    per = _per_million(option)
    if option.get("flat") == True:  # noqa: E712 - NaN where a board has no flat rows
        return f"{per} per million predictions, nothing to train"
    return f"{dollars(option.get('fit_cost_usd'))} to train, {per} per million predictions"


def _runner_up(ranked: pd.DataFrame, ok: pd.DataFrame, store: Store) -> str | None:
    differences = paired_against_first(ranked, ok, store)
    if len(ranked) < 2 or ranked.iloc[1]["name"] not in differences:
        return None
    second = ranked.iloc[1]
    return (f"Runner-up: {_name(second)}, {differences[second['name']]} (95% CI over the "
            f"evaluation rows, and trials where there are several, paired).")


def pareto_front(options: pd.DataFrame) -> pd.DataFrame:
    """The options no other beats on both accuracy and the price of a prediction (ties on
    both keep the first), most accurate first."""
    priced = options.dropna(subset=["accuracy", "predict_cost_usd_per_1k"])
    keep = []
    for index, option in priced.iterrows():
        beaten = ((priced["accuracy"] >= option["accuracy"])
                  & (priced["predict_cost_usd_per_1k"] <= option["predict_cost_usd_per_1k"])
                  & ((priced["accuracy"] > option["accuracy"])
                     | (priced["predict_cost_usd_per_1k"] < option["predict_cost_usd_per_1k"])))
        if not beaten.any():
            keep.append(index)
    front = priced.loc[keep].sort_values("accuracy", ascending=False, kind="stable")
    return front.drop_duplicates("name")


def break_even(options: pd.DataFrame) -> list[str]:
    """For each trained option, against the cheapest option that trains nothing: the
    predictions after which the training cost is paid back by cheaper predictions."""
    flat = (options["flat"].fillna(False).astype(bool) if "flat" in options
            else pd.Series(False, index=options.index))
    prompted = options[flat].dropna(subset=["predict_cost_usd_per_1k"])
    trained = options[~flat].dropna(subset=["predict_cost_usd_per_1k", "fit_cost_usd"])
    if prompted.empty or trained.empty:
        return []
    cheapest = prompted.sort_values("predict_cost_usd_per_1k").iloc[0]
    base = cheapest["predict_cost_usd_per_1k"] / 1000
    lines = [f"Training against prompting, each trained row against {_name(cheapest)} (the "
             f"cheapest row that trains nothing, {dollars(base * 1e6)} per million predictions):"]
    for _, option in trained.sort_values("accuracy", ascending=False).drop_duplicates(
            "name").iterrows():
        saving = base - option["predict_cost_usd_per_1k"] / 1000
        fit = option["fit_cost_usd"]
        head = f"{_name(option)} costs {dollars(fit)} to train"
        if saving <= 0:
            lines.append(f"- {head} and more per prediction ({_per_million(option)} "
                         f"per million): it never pays back on price; it is chosen for "
                         f"accuracy ({option['accuracy']:.3f} against "
                         f"{cheapest['accuracy']:.3f}).")
            continue
        lines.append(f"- {head}; at {dollars(saving * 1e6)} less per million predictions it pays "
                     f"back after {count(fit / saving)} predictions (accuracy "
                     f"{option['accuracy']:.3f} against {cheapest['accuracy']:.3f}).")
    return lines


def _per_million(option) -> str:
    return dollars(option.get("predict_cost_usd_per_1k", float("nan")) * PER_MILLION)
