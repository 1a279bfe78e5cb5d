"""Records that are invalid on disk (garbage, truncated, binary, not an object, missing or
mistyped fields, predictions that do not match): each is skipped with one warning naming the
file, is not finished (so a resumed run computes it again), and never stops a report."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from test_store import ROWS, record

from harness.cli.main import main
from harness.inputs.data import Split
from harness.errors import HarnessError
from harness.results.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


GOOD_FINGERPRINT = Split(tuple(ROWS["text"]), ROWS["label"].to_numpy()).fingerprint()
V2 = {"schema_version": 2, "n_eval": 3, "eval_fingerprint": GOOD_FINGERPRINT}
BAD_RECORDS = {  # name: (record file bytes or a record to save, predictions CSV bytes or None)
    "empty": (b"", None),
    "truncated": (b'{"key": "bad", "status": "o', None),
    "binary": (bytes(range(256)), None),
    "array": (b"[1, 2]", None),
    "string": (b'"a record"', None),
    "null": (b"null", None),
    "no-key": ({**record("bad"), "key": None}, ROWS),
    "no-strategy": (record("bad", strategy=None), ROWS),
    "status-number": (record("bad", status=1), ROWS),
    "status-unknown": (record("bad", status="done"), ROWS),
    "seed-text": (record("bad", seed="0"), ROWS),
    "newer-schema": (record("bad", schema_version=4), ROWS),
    "schema-text": (record("bad", schema_version="2"), ROWS),
    "key-elsewhere": ({**record("bad"), "key": "../../x"}, ROWS),
    "accuracy-text": (record("bad", accuracy="high"), ROWS),
    "no-model": ({**record("bad"), "model": None}, ROWS),
    "no-config": ({**record("bad"), "config": None}, ROWS),
    "latency-text": (record("bad", latency_p50_ms="fast"), ROWS),
    "failed-without-error": ({**record("bad", status="failed"), "error": None}, None),
    "seed-true": (record("bad", seed=True), ROWS),
    "no-predictions": (record("bad"), None),
    "truncated-predictions": (record("bad"), ROWS.to_csv(index=False).encode()[:-4]),
    "rows-short": (record("bad", **V2), ROWS.iloc[:2]),
    "other-rows": (record("bad", **V2), ROWS.assign(text=["a b", "", "changed"])),
    "other-labels": (record("bad", **V2), ROWS.assign(label=[1, 1, 1])),
}


def v4(**fields) -> dict:
    """A finished record as this harness writes it (labels and per-class lists), for FULL_ROWS."""
    import test_report

    rec = {**test_report.record("x"), "key": "bad", "schema_version": 4, "labels": ["neg", "pos"],
           "per_class_f1": [0.8, 0.67], "per_class_precision": [0.67, 1.0],
           "per_class_recall": [1.0, 0.5], "per_class_support": [2, 2],
           "prediction_shares": [0.75, 0.25], "ece": 0.1, "brier": 0.2, "nll": 0.5}
    rec.pop("eval_fingerprint")
    return {**rec, **fields}


FULL_ROWS = pd.DataFrame({"index": range(4), "text": ["good", "bad", "fine", "awful"],
                          "label": [1, 0, 1, 0], "prediction": [1, 0, 0, 0],
                          "score_neg": [-2.0, -0.1, -0.2, -0.1],
                          "score_pos": [-0.1, -2.0, -1.0, -3.0]})
CONTENT = {  # what a report reads, each value wrong in one way (issue 27: each stopped one)
    "prediction-99": (v4(), FULL_ROWS.assign(prediction=[99, 0, 0, 0])),
    "prediction-negative": (v4(), FULL_ROWS.assign(prediction=[-1, 0, 0, 0])),
    "prediction-word": (v4(), FULL_ROWS.assign(prediction=["positive", 0, 0, 0])),
    "prediction-float": (v4(), FULL_ROWS.assign(prediction=[1.5, 0, 0, 0])),
    "label-out-of-range": (v4(), FULL_ROWS.assign(label=[2, 0, 1, 0])),
    "trial-out-of-range": (v4(), FULL_ROWS.assign(prediction_trial1=[0, 0, 7, 0])),
    "score-word": (v4(), FULL_ROWS.assign(score_neg=["abc", -0.1, -0.2, -0.1])),
    "score-empty": (v4(), FULL_ROWS.assign(score_pos=[None, -2.0, -1.0, -3.0])),
    "score-nan": (v4(), FULL_ROWS.assign(score_pos=[float("nan")] * 4)),
    "score-infinite": (v4(), FULL_ROWS.assign(score_pos=[float("inf"), -2.0, -1.0, -3.0])),
    "score-column-missing": (v4(), FULL_ROWS.drop(columns="score_pos")),
    "score-column-other": (v4(), FULL_ROWS.rename(columns={"score_pos": "score_yes"})),
    "matrix-text": (v4(confusion_matrix=[[2, 0], ["x", 1]]), FULL_ROWS),
    "matrix-negative": (v4(confusion_matrix=[[2, 0], [-1, 1]]), FULL_ROWS),
    "matrix-float": (v4(confusion_matrix=[[2, 0], [0.5, 1]]), FULL_ROWS),
    "support-text": (v4(per_class_support=["2", "2"]), FULL_ROWS),
    "support-huge": (v4(per_class_support=[10**30, 2]), FULL_ROWS),
    "f1-text": (v4(per_class_f1=["high", 0.5]), FULL_ROWS),
    "f1-above-one": (v4(per_class_recall=[1e308, 0.5]), FULL_ROWS),
    "labels-numbers": (v4(labels=[0, 1]), FULL_ROWS),
    "task-traversal": (v4(task="../../x"), FULL_ROWS),
    "task-markup": (v4(task="<script>alert(1)</script>"), FULL_ROWS),
    "task-empty": (v4(task=""), FULL_ROWS),
    "accuracy-nan": (v4(accuracy=float("nan")), FULL_ROWS),
    "accuracy-negative": (v4(accuracy=-3.5), FULL_ROWS),
    "accuracy-huge": (v4(accuracy=1e308), FULL_ROWS),
    "fit-negative": (v4(fit_s=-100.0), FULL_ROWS),
    "latency-huge": (v4(latency_p95_ms=1e308), FULL_ROWS),
    "threads-negative": (v4(cpu_threads=-4), FULL_ROWS),
    "n-train-negative": (v4(n_train=-7), FULL_ROWS),
    "memory-negative": (v4(rss_peak_bytes=-1), FULL_ROWS),
}
BAD_RECORDS.update(CONTENT)


def test_the_well_formed_v4_record_of_the_content_cases_is_valid(store):
    store.save(v4(key="fine"), FULL_ROWS)
    assert [r["key"] for r in store.records(strict=True)] == ["fine"]


def write_bad(store, name, key="bad"):
    """The bad record `name` as the file of `key` (its own `key` field follows, where it has
    one and is not the problem)."""
    content, predictions = BAD_RECORDS[name]
    if isinstance(content, dict) and content.get("key") == "bad":
        content = {**content, "key": key}
    path = store.record_path(key)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    if isinstance(predictions, bytes):
        store.predictions_path(key).write_bytes(predictions)
    elif predictions is not None:
        predictions.to_csv(store.predictions_path(key), index=False)
    return path


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_an_invalid_record_is_skipped_with_one_warning_and_is_not_finished(store, name):
    store.save(record("good", **V2), ROWS)
    path = write_bad(store, name)
    warnings = []
    assert [r["key"] for r in store.records(warn=warnings.append)] == ["good"]
    assert len(warnings) == 1 and warnings[0].startswith(f"skipped {path}: ")
    assert "\n" not in warnings[0]
    assert store.load("bad") is None and not store.is_finished("bad")
    with pytest.raises(HarnessError, match=f"invalid record {path}: "):
        store.records(strict=True)


def test_warnings_go_to_stderr_by_default(store, capsys):
    write_bad(store, "truncated")
    assert store.records() == []
    err = capsys.readouterr().err
    assert err == f"warning: skipped {store.root}/bad.json: not valid JSON (truncated, " \
                  f"binary or corrupt)\n"


def test_a_version_1_record_is_read_and_a_matching_version_2_one_too(store):
    store.save(record("v1", n_eval=3, eval_fingerprint="not-checked-in-v1"), ROWS)
    store.save(record("v2", **V2), ROWS)
    assert [r["key"] for r in store.records(strict=True)] == ["v1", "v2"]
    assert store.is_finished("v1") and store.is_finished("v2")


def test_an_unreadable_own_record_is_recomputed_and_replaced(store):
    write_bad(store, "truncated")
    assert not store.is_finished("bad")
    store.save(record("bad"), ROWS)
    assert store.is_finished("bad")


def test_report_writes_what_it_can_and_names_every_bad_file(store, tmp_path):
    import test_report

    test_report.save(store, test_report.record("zero-shot"))
    test_report.save(store, test_report.record("few-shot"))
    bad = [write_bad(store, name, key=f"bad-{name}") for name in BAD_RECORDS]
    result = CliRunner().invoke(main, ["report", "--results", str(store.root),
                                       "--out", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert "| zero-shot " in (tmp_path / "reports" / "sst2.md").read_text()
    warnings = result.stderr.splitlines()
    assert len(warnings) == len(BAD_RECORDS)
    for path, line in zip(sorted(bad), warnings):
        assert line.startswith(f"warning: skipped {path}: ")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == \
        [".index", "index.html", "index.md", "sst2.csv", "sst2.html", "sst2.md", "sst2_files"]


def test_report_strict_refuses_a_bad_record_in_one_line(store, tmp_path):
    import test_report

    test_report.save(store, test_report.record("zero-shot"))
    bad = write_bad(store, next(iter(BAD_RECORDS)), key="bad-one")
    result = CliRunner().invoke(main, ["report", "--results", str(store.root), "--strict",
                                       "--out", str(tmp_path / "reports")])
    assert result.exit_code == 2 and str(bad) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_run_recomputes_its_own_truncated_record_and_reports_beside_garbage(data_dir, tmp_path):
    results = tmp_path / "results"
    args = ["run", "-s", "tfidf-logreg", "--n-train", "40", "--n-eval", "20", "--data-dir",
            str(data_dir), "--out", str(results), "--reports", str(tmp_path / "reports")]
    assert CliRunner().invoke(main, args).exit_code == 0
    (own,) = results.glob("*.json")
    own.write_bytes(own.read_bytes()[:100])
    (results / "garbage.json").write_bytes(b"\x00\x01 not json")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "1 ran, 0 already finished" in again.stdout
    assert again.stderr == f"warning: skipped {results / 'garbage.json'}: not valid JSON " \
                           f"(truncated, binary or corrupt)\n"
    assert Store(results).is_finished(own.name.removesuffix(".json"))
    assert (tmp_path / "reports" / "agnews.md").is_file()
