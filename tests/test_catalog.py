"""The metrics catalog (harness.metrics.catalog) is the one list of metrics: every column a
leaderboard shows is a catalog metric (or one of the few row descriptions below) with the
catalog's header and arrow, every row is well formed, and a row added to the catalog reaches
the record, the leaderboard, its arrow, the CSV and the reading notes with no other change."""

import numpy as np
import pandas as pd
import pytest

from harness.cell.phases import RUNNER_FIELDS, footprint_fields
from harness.api.strategy import Footprint
from harness.metrics import catalog, stats
from harness.metrics.catalog import CLASSIFICATION, GENERATION, Metric
from harness.metrics.classification import record_metrics
from harness.report.build import board_csv
from harness.report.display import leaderboard_tables, resources_table
from harness.report.formats import DIGITS, FORMATS
from harness.report.generation_table import generation_board, generation_tables, ranked_by
from harness.report.notes import reading_notes
from harness.report.tables import leaderboard
from harness.results.cost import DEFAULT_PRICES_USD_PER_HOUR, price_records
from harness.results.store import OK_FIELDS_3, SCHEMA_VERSION, Store

from test_leaderboard_stats import rows, save_record
from test_report_generation import generation

# Columns that describe a row rather than measure it: no catalog row, no arrow.
DESCRIPTIONS = {"row", "settings", "n_train", "n_eval", "interval", "p vs best (Holm)",
                "top class share", "model source", "trainable / total params", "device",
                "trials × seeds"}
# Columns that show a catalog metric under a header of their own: (metric, why).
OWN_HEADERS = {"Δ vs best (95% CI)": "accuracy",  # accuracy's difference to the best row
               "per 1M continuations": "predict_cost_usd_per_1k"}  # a generation's word


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def classification_board(store: Store) -> pd.DataFrame:
    texts, labels = rows(40, k=2)
    save_record(store, "a", texts, labels, [labels])
    save_record(store, "b", texts, labels, [np.zeros(40, dtype=int)])
    ok = price_records(pd.DataFrame(store.records(strict=True)), DEFAULT_PRICES_USD_PER_HOUR)
    return leaderboard(ok, store)


def check_columns(table) -> None:
    """Every column is a description or a catalog metric, shown with the catalog's arrow."""
    columns = {m.column: m for m in catalog.CATALOG if m.header}
    for header in table.shown.columns:
        if header in DESCRIPTIONS:
            assert header not in table.higher_is_better, header
            continue
        metric = catalog.METRICS[OWN_HEADERS[header]] if header in OWN_HEADERS else \
            columns.get(header)
        assert metric is not None, f"column '{header}' is not in the metrics catalog"
        assert table.higher_is_better[header] is metric.higher_is_better, header


def test_every_leaderboard_column_is_a_catalog_metric_with_its_arrow(store):
    board = classification_board(store)
    [table] = leaderboard_tables(board)
    for shown in (table, resources_table(board)):
        check_columns(shown)
    assert "Cohen's kappa" in table.shown.columns  # the worked example: one catalog row


def test_every_generation_column_is_a_catalog_metric_with_its_arrow():
    ok = price_records(pd.DataFrame([generation("x"), generation("y", seed=1)]),
                       DEFAULT_PRICES_USD_PER_HOUR)
    for table in generation_tables(generation_board(ok), ranked_by(ok)):
        check_columns(table)


@pytest.mark.parametrize("metric", catalog.CATALOG, ids=lambda m: m.name)
def test_each_row_is_complete_for_what_reads_it(metric: Metric):
    if metric.header:  # a column gets an arrow: which way is better must be declared
        assert metric.higher_is_better is not None
    assert metric.format in FORMATS
    if metric.interval == catalog.SHOWN:
        assert metric.format in DIGITS  # an interval is written with the point's digits
    if metric.per_trial:
        assert metric.kind == CLASSIFICATION and callable(getattr(stats, metric.per_trial[1]))
    if metric.progress:  # a line part fills from the record alone
        assert metric.required, "a progress line prints only what every record carries"
        metric.progress.format(value=0.5, low=0.25, high=0.75, on="", over="")
    assert set(metric.fields) <= RUNNER_FIELDS  # the harness's own names


def test_a_bad_row_is_an_error_that_names_it():
    with pytest.raises(ValueError, match=r"metric 'x': pooling='average'"):
        Metric("x", CLASSIFICATION, True, pooling="average")


def test_the_store_checks_the_fields_the_catalog_requires():
    required = catalog.required_fields(CLASSIFICATION, SCHEMA_VERSION)
    assert required["accuracy"] == catalog.NUMBER and "ece" in required
    assert "ece" not in catalog.required_fields(CLASSIFICATION, 2)  # schema 3 added it
    assert set(required) <= set(OK_FIELDS_3)
    assert "cohen_kappa" not in required  # records made before it still load
    assert {"perplexity_ci_low", "chrf", "tokens_per_s"} <= set(
        catalog.required_fields(GENERATION, SCHEMA_VERSION))


def test_a_strategy_may_not_report_a_metric_in_its_footprint():
    class Reports:
        name = "reports-kappa"

        def footprint(self):
            return Footprint(1, 1, extra={"cohen_kappa": 1.0})

    with pytest.raises(ValueError, match="cohen_kappa"):
        footprint_fields(Reports())


def share_of_first_label(y_true, y_pred, num_labels: int) -> float:
    return float(np.mean(np.asarray(y_pred) == 0))


@pytest.fixture
def with_toy_metric(monkeypatch):
    """A metric added the way the catalog says: one row, and its function in stats."""
    toy = Metric("first_share", CLASSIFICATION, False, "first-label share",
                 per_trial=("labels", "share_of_first_label"),
                 note="*first-label share*: a toy row of the catalog test.")
    monkeypatch.setattr(stats, "share_of_first_label", share_of_first_label, raising=False)
    monkeypatch.setattr(catalog, "CATALOG", (*catalog.CATALOG, toy))
    monkeypatch.setattr(catalog, "METRICS", {**catalog.METRICS, toy.name: toy})
    return toy


def test_a_catalog_row_reaches_the_record_leaderboard_arrow_csv_and_notes(with_toy_metric,
                                                                          store):
    metrics = record_metrics([0, 1, 1, 0], [[0, 0, 1, 0], [1, 1, 1, 1]],
                             [np.eye(2)[[0, 0, 1, 0]], np.eye(2)[[1, 1, 1, 1]]], ["a", "b"])
    assert metrics["first_share"] == pytest.approx(np.mean([0.75, 0.0]))  # over trials
    board = classification_board(store)
    assert board.set_index("row")["first_share"].to_dict() == pytest.approx(
        {"a (tiny)": 0.5, "b (tiny)": 1.0})
    [table] = leaderboard_tables(board)
    assert table.higher_is_better["first-label share"] is False
    assert "first_share" in board_csv(board).splitlines()[0].split(",")
    context = {"leaderboard": board, "ok": pd.DataFrame(store.records()),
               "prices": DEFAULT_PRICES_USD_PER_HOUR}
    assert any("*first-label share*" in note for note in reading_notes(context))
