"""The command line end to end: records and both reports, resume, and bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.api import registry
from harness.cli.main import main


def harness(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result


def tiny_args(tiny_encoder, tiny_decoder, data_dir, out: Path):
    return ["--model", f"encoder={tiny_encoder.source}", "--model", f"decoder={tiny_decoder.source}",
            "--data-dir", data_dir, "--n-train", 24, "--n-eval", 12,
            "--out", out / "results", "--reports", out / "reports"]


def test_run_writes_records_and_both_reports_then_skips_on_rerun(tiny_encoder, tiny_decoder,
                                                                 data_dir, tmp_path):
    # Two cells at a time (each on its own core): the concurrent path, end to end.
    args = ["run", "--strategies", "all", "--task", "agnews", "-c", "full-finetune.epochs=1",
            "--jobs", "2", *tiny_args(tiny_encoder, tiny_decoder, data_dir, tmp_path)]
    first = harness(*args)
    assert first.exit_code == 0, first.output
    records = sorted((tmp_path / "results").glob("*.json"))
    names = set(registry.entries())
    assert {json.loads(p.read_text())["strategy"] for p in records} == names
    assert all(json.loads(p.read_text())["status"] == "ok" for p in records)
    assert len(list((tmp_path / "results").glob("*.predictions.csv"))) == len(names)
    markdown = (tmp_path / "reports" / "agnews.md").read_text()
    html = (tmp_path / "reports" / "agnews.html").read_text()
    for name in names:  # each row's name starts with its strategy's
        assert f"| {name} " in markdown and f"<td>{name} " in html
    assert "accuracy (95% CI)" in markdown and "<figure><h3>" in html and "<svg" in html
    assert (tmp_path / "reports" / "agnews.csv").is_file()
    assert (tmp_path / "reports" / "agnews_files" / "accuracy_vs_cost.png").is_file()

    again = harness(*args)
    assert again.exit_code == 0, again.output
    assert again.output.count("already finished, not recomputed") == len(names)
    assert f"0 ran, {len(names)} already finished" in again.output
    assert sorted((tmp_path / "results").glob("*.json")) == records

    report = harness("report", "--results", tmp_path / "results", "--out", tmp_path / "again")
    assert report.exit_code == 0 and (tmp_path / "again" / "agnews.html").is_file()


def test_dataset_text_is_escaped_in_html(tiny_decoder, tmp_path):
    folder = tmp_path / "data" / "agnews"
    folder.mkdir(parents=True)
    rows = "text,label\n" + "".join(f"<script>alert({i})</script> & news,{i % 4}\n"
                                    for i in range(16))
    (folder / "train.csv").write_text(rows)
    (folder / "test.csv").write_text(rows)
    result = harness("run", "-s", "zero-shot", "--model", tiny_decoder.source, "--data-dir",
                     tmp_path / "data", "--n-train", 8, "--n-eval", 16, "--out", tmp_path / "r",
                     "--reports", tmp_path / "rep")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "rep" / "agnews.html").read_text()
    assert html.count("<script") == 1  # the report's own table sorter
    assert "&lt;script&gt;alert(" in html


def write_task(folder: Path, train: str, test: str):
    (folder / "agnews").mkdir(parents=True)
    (folder / "agnews" / "train.csv").write_text(train)
    (folder / "agnews" / "test.csv").write_text(test)
    return folder


GOOD = "text,label\n" + "".join(f"row {i},{i % 4}\n" for i in range(8))


@pytest.mark.parametrize("args, data, message", [
    (["-s", "zero-shoot"], None, "unknown strategy 'zero-shoot' (did you mean 'zero-shot'?)"),
    (["-t", "agnew"], None, "unknown task 'agnew' (did you mean 'agnews'?)"),
    (["--model", "minilm-l7"], None, "did you mean 'minilm-l6'?"),
    (["--n-train", "100000"], None, "--n-train=100000 is more than the 43388 rows available"),
    (["--seeds", "a,b"], None, "--seeds 'a,b' must be comma-separated integers"),
    (["-c", "full-finetune.epoch=1"], None, "has no setting 'epoch' (did you mean 'epochs'?)"),
    (["--backend", "vllm"], None, "strategy 'full-finetune' has no 'vllm' backend (it runs on: hf)"),
    ([], ("text,label\n", GOOD), "the split is empty"),
    ([], ("words,label\nx,1\n", GOOD), "missing column(s) text"),
    ([], (GOOD, "text,label\nx,7\n"), "label '7' in row 1 is not an integer in 0..3"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, data, message, data_dir, tmp_path):
    folder = write_task(tmp_path / "data", *data) if data else data_dir
    out = tmp_path / "results"
    result = harness("run", "--data-dir", folder, "--out", out, "--reports", tmp_path / "rep",
                     "-s", "full-finetune", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "rep").exists()


def test_no_local_data_and_no_hub_says_how_to_point_at_data(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HARNESS_DATA_DIR": ""}
    result = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", "-s", "full-finetune",
                             "--out", tmp_path / "r"], capture_output=True, text=True,
                            env={**os.environ, **env}, cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot load task 'agnews' split 'train' from the hub" in result.stderr
    assert "--data-dir" in result.stderr and "HARNESS_DATA_DIR" in result.stderr


def test_unwritable_output_folder(data_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = harness("run", "-s", "full-finetune", "--data-dir", data_dir, "--out",
                     blocker / "results")
    assert result.exit_code == 2
    assert "cannot write to results folder" in result.output


def test_kill_9_mid_run_keeps_finished_cells(tiny_encoder, tiny_decoder, data_dir, tmp_path):
    # few-shot, not zero-shot: a deterministic strategy runs once whatever the seeds.
    args = [sys.executable, "-m", "harness.cli.main", "run", "-s", "few-shot", "--seeds", "0,1,2",
            "-c", "few-shot.trials=1",
            *map(str, tiny_args(tiny_encoder, tiny_decoder, data_dir, tmp_path))]
    results = tmp_path / "results"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(results.glob("*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its cell, mid-run
    process.wait()
    kept = {p.name: p.read_text() for p in results.glob("*.json")}
    assert 1 <= len(kept) < 3
    for text in kept.values():
        assert json.loads(text)["status"] == "ok"  # complete records only

    rerun = subprocess.run(args, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.stdout.count("already finished, not recomputed") == len(kept)
    assert len(list(results.glob("*.json"))) == 3
    assert not list(results.glob(".tmp-*"))
    for name, text in kept.items():
        assert (results / name).read_text() == text  # finished cells untouched


def test_list_commands():
    strategies = harness("list", "strategies")
    assert strategies.exit_code == 0
    assert "zero-shot" in strategies.output and "adapt-harness" in strategies.output
    assert "agnews" in harness("list", "tasks").output
    assert "smollm2-135m-instruct" in harness("list", "models").output
    assert harness("list", "nothing").exit_code == 2


def test_multi_task_strategy_trains_one_model_and_reports_each_task(tiny_decoder, data_dir,
                                                                    tmp_path):
    args = ["run", "-s", "instruction-tuned,zero-shot", "--task", "agnews,sst2",
            "--model", f"decoder={tiny_decoder.source}", "--data-dir", data_dir,
            "--n-train", 16, "--n-eval", 8, "--out", tmp_path / "results",
            "--reports", tmp_path / "reports"]
    first = harness(*args)
    assert first.exit_code == 0, first.output
    # One instruction-tuned cell for the mixture; zero-shot has nothing to share, one per task.
    assert "agnews+sst2 · instruction-tuned" in first.output
    assert "4 cells" not in first.output and "3 cells: 3 ran" in first.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    tuned = {r["task"]: r for r in records if r["strategy"] == "instruction-tuned"}
    assert set(tuned) == {"agnews", "sst2"}
    assert tuned["agnews"]["fit_s"] == tuned["sst2"]["fit_s"]  # one training run
    assert [t["task"] for t in tuned["sst2"]["trained_on"]] == ["agnews", "sst2"]
    assert tuned["sst2"]["n_eval"] == 8 and len(tuned["sst2"]["confusion_matrix"]) == 2
    for task in ("agnews", "sst2"):
        assert "instruction-tuned (trained on agnews+sst2)" in (
            tmp_path / "reports" / f"{task}.md").read_text()
    again = harness(*args)
    assert "0 ran, 3 already finished" in again.output


def test_trials_are_recorded_with_their_spread(tiny_decoder, data_dir, tmp_path):
    result = harness("run", "-s", "few-shot", "-c", "few-shot.trials=3", "--model",
                     tiny_decoder.source, "--data-dir", data_dir, "--n-train", 16, "--n-eval", 12,
                     "--out", tmp_path / "results", "--reports", tmp_path / "reports")
    assert result.exit_code == 0, result.output
    record = json.loads(next((tmp_path / "results").glob("*.json")).read_text())
    assert record["trials"] == 3 and len(record["trial_accuracies"]) == 3
    assert abs(record["accuracy"] - sum(record["trial_accuracies"]) / 3) < 1e-9
    assert "3 trials" in (tmp_path / "reports" / "agnews.md").read_text()  # in the interval
