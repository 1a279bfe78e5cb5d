"""Results as data: load_results gives one row per valid record, load_predictions one record's
rows, old records get their labels in task order, and the README's example runs as printed."""

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from test_report import record, save

from harness.errors import HarnessError
from harness.results.frames import load_predictions, load_results
from harness.results.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    """A results folder (tmp/results) with two finished cells, one failed and one corrupt."""
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "results")
    store.prepare()
    save(store, record("tfidf-logreg", accuracy=0.75))
    save(store, record("zero-shot", accuracy=0.5))
    store.save(record("knn", key="sst2__knn__failed", status="failed", error="boom"))
    (tmp_path / "results" / "sst2__broken.json").write_text("{not json")
    return tmp_path / "results"


def test_one_row_per_valid_record(results, capsys):
    frame = load_results(results)
    assert sorted(frame["strategy"]) == ["knn", "tfidf-logreg", "zero-shot"]
    assert frame.set_index("strategy").loc["knn", "status"] == "failed"
    assert "skipped" in capsys.readouterr().err  # the corrupt file, named on stderr
    with pytest.raises(HarnessError, match="sst2__broken.json"):
        load_results(results, strict=True)


def test_predictions_load_by_key(results):
    frame = load_results(results)
    key = frame.set_index("strategy").loc["tfidf-logreg", "key"]
    rows = load_predictions(results, key)
    assert list(rows.columns[:4]) == ["index", "text", "label", "prediction"]
    assert len(rows) == 4
    with pytest.raises(HarnessError, match="no valid record 'sst2__nope'"):
        load_predictions(results, "sst2__nope")


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(HarnessError, match="results folder '.*nowhere' does not exist"):
        load_results(tmp_path / "nowhere")


def test_old_records_get_labels_in_task_order_not_sorted(tmp_path):
    """A schema-2 record has no `labels` and its per_class_f1 dict was written with sorted
    keys: the order comes from the predictions' score columns (task order)."""
    store = Store(tmp_path / "results")
    store.prepare()
    old = record("zero-shot", schema_version=2,
                 per_class_f1={"anger": 0.1, "joy": 0.2, "sadness": 0.3})
    old.pop("labels", None)
    predictions = pd.DataFrame({"index": range(4), "text": list("abcd"), "label": [0, 1, 2, 0],
                                "prediction": [2, 2, 2, 0], "score_sadness": [0.1] * 4,
                                "score_joy": [0.2] * 4, "score_anger": [0.7] * 4})
    store.save({**old, "eval_fingerprint": _fingerprint(predictions)}, predictions)
    [row] = load_results(store.root).to_dict("records")
    assert row["labels"] == ["sadness", "joy", "anger"]
    assert list(json.loads(store.record_path(row["key"]).read_text())["per_class_f1"]) == \
        ["anger", "joy", "sadness"]  # the stored dict's order, which must not be used


def _fingerprint(frame: pd.DataFrame) -> str:
    from harness.inputs.data import Split

    return Split(tuple(frame["text"]), frame["label"].to_numpy()).fingerprint()


def test_the_readme_example_prints_the_table(results):
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Results as data\n", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert lines[0].split() == ["task", "strategy", "inference", "model", "seed", "n_eval",
                                "accuracy", "macro_f1"]
    assert [line.split()[1] for line in lines[1:3]] == ["tfidf-logreg", "zero-shot"]
    assert re.fullmatch(r"0\.\d{3} of 4 rows right", lines[3])


def test_every_row_names_its_inference_and_whether_a_newer_record_replaces_it(results):
    """Issue 27: variant and superseded records came back as duplicate rows, unmarked."""
    store = Store(results)
    old = record("tfidf-logreg", accuracy=0.75)
    save(store, {**old, "key": "sst2__tfidf__recomputed", "accuracy": 0.8,
                 "started_at": "2026-12-02T10:00:00+0000"})
    save(store, {**old, "key": "sst2__tfidf__int8", "inference": "int8", "accuracy": 0.7})
    frame = load_results(results).set_index("key")
    assert frame.loc[old["key"], "superseded"] and not frame.loc["sst2__tfidf__recomputed",
                                                                 "superseded"]
    assert frame.loc["sst2__tfidf__int8", "inference"] == "int8"
    assert not frame.loc["sst2__tfidf__int8", "superseded"]  # another way of predicting
    assert frame.loc[old["key"], "inference"] == "default"
    assert not frame.loc["sst2__knn__failed", "superseded"]
