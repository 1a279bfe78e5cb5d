"""The bad-input corpus (tests/bad_inputs/cases.yaml): each case fails before anything runs,
in one line naming the culprit, with its exit code, no traceback and nothing written. Also:
no unexpected exception reaches the user as a traceback, and a bad report folder after a
run keeps the run's records."""

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli.main import main

CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs" / "cases.yaml").read_text())
DEFAULTS = {
    "run": ["-s", "tfidf-logreg", "--data-dir", "{data}", "--out", "{tmp}/results",
            "--reports", "{tmp}/reports", "--n-train", "4", "--n-eval", "4"],
    "report": ["--results", "{tmp}/results", "--out", "{tmp}/reports"],
    "project": [],
}
ENV = {"HARNESS_DATA_DIR": None, "HARNESS_DEBUG": None, "HF_HUB_OFFLINE": "1",
       "HF_DATASETS_OFFLINE": "1"}


def good_data(folder: Path) -> Path:
    """Eight rows per split of agnews (4 labels) and sst2 (2 labels)."""
    for task, labels in (("agnews", 4), ("sst2", 2)):
        (folder / task).mkdir(parents=True)
        rows = "text,label\n" + "".join(f"{task} row {i},{i % labels}\n" for i in range(8))
        for split in ("train", "test"):
            (folder / task / f"{split}.csv").write_text(rows)
    return folder


def fill(value: str, tmp: Path, data: Path) -> str:
    return value.replace("{tmp}", str(tmp)).replace("{data}", str(data))


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env={**ENV, **(env or {})})


def test_the_corpus_is_big_and_its_ids_unique():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_fails_in_one_line_writing_nothing(case, tmp_path):
    data = good_data(tmp_path / "good-data")
    for name, text in case.get("files", {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("hex:"):
            path.write_bytes(bytes.fromhex(text[4:]))
        else:
            path.write_text(text)
    for name, target in case.get("links", {}).items():
        (tmp_path / name).symlink_to(fill(target, tmp_path, data))
    command, *args = case["args"]
    before = files_under(tmp_path)
    env = {name: fill(value, tmp_path, data) for name, value in case.get("env", {}).items()}
    result = invoke(command, *[fill(a, tmp_path, data) for a in DEFAULTS[command] + args],
                    env=env)
    lines = result.output.strip().splitlines()
    if case.get("usage"):  # click's own refusal of an option's value: usage, then the line
        lines = lines[-1:]
    assert result.exit_code == case.get("exit", 2), result.output
    assert len(lines) == 1, result.output
    assert case["message"] in lines[0]
    assert "Traceback" not in result.output
    assert files_under(tmp_path) == before  # not even the --out or --reports folders


def test_an_unexpected_exception_is_one_line_with_a_debug_hint(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr("harness.plan.grid.build_cells", broken)
    result = invoke("run", "--out", tmp_path / "r", "--reports", tmp_path / "rep")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: unexpected error KeyError: 'boom' (a bug; rerun with HARNESS_DEBUG=1 for the "
        "traceback and report it)"]
    debug = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "r")],
                               env={"HARNESS_DEBUG": "1"})
    assert isinstance(debug.exception, KeyError)  # the traceback, for whoever asked for it


def test_a_refused_report_file_keeps_the_records_and_is_one_line(tmp_path):
    data = good_data(tmp_path / "data")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "agnews_files").write_text("a file where the plots folder goes")
    result = invoke("run", "-s", "tfidf-logreg", "--data-dir", data, "--n-train", 8,
                    "--n-eval", 8, "--out", tmp_path / "results", "--reports", reports,
                    "--no-isolation")
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot write the report into '{reports}': ")
    assert "agnews_files" in last and "Traceback" not in result.output
    [record] = (tmp_path / "results").glob("*.json")
    assert json.loads(record.read_text())["status"] == "ok"


def test_a_record_whose_task_climbs_out_writes_nothing_outside_out(tmp_path):
    results, out = tmp_path / "a" / "results", tmp_path / "a" / "reports"
    results.mkdir(parents=True)
    key = "x__tfidf-logreg__-__seed0__0123456789"
    record = {"key": key, "status": "failed", "task": "../../x", "strategy": "tfidf-logreg",
              "model": "-", "seed": 0, "error": "boom"}
    (results / f"{key}.json").write_text(json.dumps(record))
    before = files_under(tmp_path)
    result = invoke("report", "--results", results, "--out", out)
    written = files_under(tmp_path) - before
    assert all(name.startswith(os.path.join("a", "reports")) for name in written), written
    assert "Traceback" not in result.output
    assert "../../x" in result.output or key in result.output  # the culprit is named
