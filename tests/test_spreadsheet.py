"""CSV cells that a spreadsheet would run as formulas are written guarded, and read back as
they were (harness.results.spreadsheet), in predictions and report CSVs alike."""

import pandas as pd
from click.testing import CliRunner
from test_leaderboard_stats import rows, save_record

from harness.cli.main import main
from harness.results.spreadsheet import guarded, unguarded
from harness.results.store import Store

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "@SUM(A1:A2)", "-2+3", "\tx", "\rx",
           "'=already quoted", "''+twice", '=HYPERLINK("http://evil.example","neg")']
PLAIN = ["'Tis the season", "a = b", "", "'", "''", "100", "-"]


def test_guarding_is_undone_on_reading_and_leaves_plain_text_alone():
    for text in HOSTILE + PLAIN:
        assert unguarded(guarded(text)) == text
    assert all(guarded(text)[0] == "'" for text in HOSTILE)
    assert all(guarded(text) == text for text in PLAIN if text != "-")


def test_predictions_and_report_csv_hold_no_formula_and_read_back_whole(tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    texts, labels = rows(len(HOSTILE) * 2)
    texts = HOSTILE + list(texts[len(HOSTILE):])
    labels_named = ('=HYPERLINK("http://evil.example","neg")', "pos")
    record = save_record(store, "toy", texts, labels, [labels], task_labels=labels_named)
    raw = pd.read_csv(store.predictions_path(record["key"]), dtype=str, keep_default_na=False)
    assert not raw["text"].str[:1].isin(list("=+-@\t\r")).any()
    assert list(store.predictions(record["key"])["text"]) == texts
    assert store.load(record["key"]) is not None  # its fingerprint still matches
    result = CliRunner().invoke(main, ["report", "--results", str(store.root),
                                       "--out", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    board = pd.read_csv(tmp_path / "reports" / "t.csv", dtype=str, keep_default_na=False)
    cells = board.to_numpy().ravel()
    assert not any(c[:1] in "=+@\t\r" and c for c in cells), cells
    assert any(c.startswith("'=HYPERLINK") for c in cells)
