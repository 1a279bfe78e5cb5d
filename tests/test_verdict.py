"""The verdict at the top of a report: readable money, the Pareto front of accuracy against
the price of a prediction, and when training pays back against prompting."""

import pandas as pd

from harness.recommend.verdict import break_even, count, pareto_front
from harness.report.formats import FORMATS, dollars


def test_money_and_volumes_read_without_exponents():
    assert [dollars(v) for v in (0.0041234, 0.9149, 12.3, 3412.0, 0.0, 9.07e-6, 4e-8)] == [
        "$0.0041", "$0.91", "$12", "$3,400", "$0", "$0.0000091", "<$0.000001"]
    # the leaderboard's price of a prediction: per 1k in the record, per million shown
    assert FORMATS["dollars per 1M"](0.00000907) == "$0.0091"
    assert [count(v) for v in (37.0, 8212.0, 1.44e6, 3.7e10)] == [
        "37", "8,212", "1.4 million", "37 billion"]


def options():
    return pd.DataFrame([
        {"name": "zero-shot", "accuracy": 0.67, "predict_cost_usd_per_1k": 0.02, "flat": True,
         "fit_cost_usd": 0.0},
        {"name": "few-shot", "accuracy": 0.55, "predict_cost_usd_per_1k": 0.05, "flat": True,
         "fit_cost_usd": 0.0},
        {"name": "full-finetune", "accuracy": 0.88, "predict_cost_usd_per_1k": 0.001,
         "flat": False, "fit_cost_usd": 0.019},
        {"name": "tfidf-logreg", "accuracy": 0.85, "predict_cost_usd_per_1k": 0.0001,
         "flat": False, "fit_cost_usd": 0.0002},
        {"name": "big-model", "accuracy": 0.90, "predict_cost_usd_per_1k": 0.08,
         "flat": False, "fit_cost_usd": 1.0}])


def test_the_pareto_front_keeps_only_rows_nothing_beats_on_both():
    front = pareto_front(options())
    # zero-shot and few-shot are beaten by tfidf-logreg on both accuracy and price
    assert list(front["name"]) == ["big-model", "full-finetune", "tfidf-logreg"]


def test_training_pays_back_after_the_predictions_its_cheaper_price_takes_to_cover_it():
    lines = break_even(options())
    assert "against zero-shot (the cheapest row that trains nothing, $20 per million" in lines[0]
    full = next(line for line in lines if line.startswith("- full-finetune"))
    # $0.019 / ($0.02 - $0.001 per 1,000) = 1,000 predictions
    assert "costs $0.019 to train; at $19 less per million predictions it pays back after " \
           "1,000 predictions" in full
    big = next(line for line in lines if line.startswith("- big-model"))
    assert "never pays back on price; it is chosen for accuracy" in big
