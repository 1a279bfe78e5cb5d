"""Reports from synthetic records: re-pricing without re-running, cost and memory columns,
rows that must not pool, and notes when records come from different code or machines."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli.main import main
from harness.results.cost import DEFAULT_PRICES_USD_PER_HOUR
from harness.report import write_reports
from harness.report.tables import leaderboard
from harness.results.store import Store

LABELS = ("neg", "pos")
CODE = {"distribution": "adapt-harness", "version": "0.4.0", "sources_sha": "a" * 40}
SOURCE = "GGUF Q4_1 de-quantized to float32"


def record(strategy: str, seed: int = 0, **fields) -> dict:
    """A finished cell as the runner writes it; seconds chosen so costs are round numbers."""
    key = f"sst2__{strategy}__seed{seed}__{abs(hash(json.dumps(fields, sort_keys=True))) % 10**8}"
    return {
        "key": key, "status": "ok", "task": "sst2", "strategy": strategy, "model": "tiny",
        "model_source": SOURCE, "seed": seed, "config": {"lr": 0.001}, "n_train": 8,
        "n_eval": 4, "train_fingerprint": "t1", "eval_fingerprint": "e1",
        "accuracy": 0.75, "accuracy_ci_low": 0.5, "accuracy_ci_high": 1.0, "macro_f1": 0.7,
        "per_class_f1": {"neg": 0.7, "pos": 0.7}, "confusion_matrix": [[2, 0], [1, 1]],
        "throughput_eps": 10.0, "latency_p50_ms": 5.0, "latency_p95_ms": 9.0,
        "latency_samples": 4, "device": "cpu", "device_name": "Intel Xeon", "cpu_threads": 2,
        "host_cpu_count": 2, "setup_s": 1800.0, "load_s": 600.0, "fit_s": 3000.0,
        "predict_s": 36.0, "n_predictions": 1000, "fit_shared_by": 1,
        "rss_baseline_bytes": 500 * 2**20, "rss_peak_bytes": 520 * 2**20,
        "rss_above_baseline_bytes": 20 * 2**20, "weight_bytes": 2**20,
        "base_weight_bytes": None, "artifact_bytes": 0, "trainable_params": 10,
        "total_params": 100, "code": CODE, "packages": {"torch": "2.6.0"},
        "started_at": "2026-12-01T10:00:00+0000", **fields,
    }


def save(store: Store, rec: dict, prediction=(1, 0, 0, 0)) -> None:
    predictions = pd.DataFrame({"index": range(4), "text": ["good", "bad", "fine", "awful"],
                                "label": [1, 0, 1, 0], "prediction": list(prediction),
                                "score_neg": [-2.0, -0.1, -0.2, -0.1],
                                "score_pos": [-0.1, -2.0, -1.0, -3.0]})
    store.save(rec, predictions)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def report(store: Store, out, *extra) -> tuple[str, str]:
    result = CliRunner().invoke(main, ["report", "--results", str(store.root), "--out", str(out),
                                       *map(str, extra)])
    assert result.exit_code == 0, result.output
    return (out / "sst2.md").read_text(), (out / "sst2.html").read_text()


def markdown_tables(markdown: str, first: str = "row") -> list[list[dict]]:
    """Every Markdown table whose first header is `first`, as lists of {header: cell}."""
    lines = markdown.splitlines()
    tables = []
    for start in (i for i, line in enumerate(lines) if line.startswith(f"| {first} |")):
        header = [c.strip() for c in lines[start].strip("|").split("|")]
        rows = []
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")))))
        tables.append(rows)
    return tables


def money(text: str) -> float:
    """A cost cell ('$0.0041', '$3,400', '<$0.000001') as dollars."""
    assert text.startswith(("$", "<$")), text
    return float(text.lstrip("<$").replace(",", ""))


def leaderboard_rows(markdown: str) -> list[dict]:
    """The leaderboard's rows, best first, each with its columns from the time-and-memory
    table too."""
    *leaderboards, resources = markdown_tables(markdown)
    more = {row["row"]: row for row in resources}
    return [{**more[row["row"]], **row} for table in leaderboards for row in table]


def test_report_prices_with_a_doubled_table_doubles_every_cost(store, tmp_path):
    save(store, record("tfidf-logreg"))
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200", load_s=720.0,
                       fit_s=0.0, cuda_peak_reserved_bytes=300 * 2**20))  # $0.70 at $3.50/h
    double = tmp_path / "double.json"
    double.write_text(json.dumps({k: 2 * v for k, v in DEFAULT_PRICES_USD_PER_HOUR.items()}))
    once = leaderboard_rows(report(store, tmp_path / "once")[0])
    twice = leaderboard_rows(report(store, tmp_path / "twice", "--prices", double)[0])
    cost_headers = [h for h in once[0] if once[0][h].startswith(("$", "<$"))]
    assert sorted(cost_headers) == ["fit", "per 1M predictions", "set-up (once)"]
    for before, after in zip(once, twice):
        for header in cost_headers:
            # two significant figures each: doubling may round either way by up to 5%
            assert money(after[header]) == pytest.approx(2 * money(before[header]),
                                                         rel=0.05), header
        assert {k: v for k, v in before.items() if k not in cost_headers} == \
               {k: v for k, v in after.items() if k not in cost_headers}
    tfidf = next(row for row in once if row["row"] == "tfidf-logreg (tiny)")
    assert money(tfidf["fit"]) == pytest.approx(0.09)  # one hour on 2 cores at $0.045


def test_a_bad_price_file_fails_in_one_line_before_anything_runs(store, tmp_path):
    save(store, record("tfidf-logreg"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cpu_core": "cheap"}))
    result = CliRunner().invoke(main, ["report", "--results", str(store.root),
                                       "--out", str(tmp_path / "out"), "--prices", str(bad)])
    assert result.exit_code == 2 and "bad entries: cpu_core" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["run", "-s", "tfidf-logreg", "--out", str(tmp_path / "r"),
                                       "--reports", str(tmp_path / "rep"), "--prices", str(bad)])
    assert result.exit_code == 2 and "bad entries: cpu_core" in result.output
    assert not (tmp_path / "r").exists() and not (tmp_path / "rep").exists()


def test_memory_columns_and_notes(store, tmp_path):
    save(store, record("tfidf-logreg"))
    markdown, _ = report(store, tmp_path / "cpu-only")
    row = leaderboard_rows(markdown)[0]
    assert row["RAM above baseline (MiB)"] == "20" and "GPU reserved (MiB)" not in row
    assert "the baseline (interpreter and libraries" in markdown
    assert "(it was 500 MiB here)" in markdown
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200",
                       cuda_peak_reserved_bytes=300 * 2**20,
                       footprint_vllm_reserved_bytes=1024 * 2**20))
    markdown, _ = report(store, tmp_path / "with-gpu")
    rows = {r["row"]: r for r in leaderboard_rows(markdown)}
    assert rows["zero-shot (tiny)"]["GPU reserved (MiB)"] == "300 (vLLM 1024)"
    assert rows["tfidf-logreg (tiny)"]["GPU reserved (MiB)"] == "-"
    assert "GPU reserved: peak memory held by PyTorch's CUDA allocator" in markdown


def test_records_of_different_code_versions_get_a_note(store, tmp_path):
    # Each strategy's sources hash is its own: strategies differing in it is no warning.
    save(store, record("tfidf-logreg", packages={"scikit-learn": "1.6.0"}))
    save(store, record("knn", code={**CODE, "sources_sha": "b" * 40}))
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200"))
    markdown, _ = report(store, tmp_path / "same")
    assert "code versions" not in markdown and "Package versions differ" not in markdown
    assert "different devices" not in markdown
    # A second seed of knn made by other code, other torch, on another CPU.
    save(store, record("knn", seed=1, code={**CODE, "sources_sha": "c" * 40},
                       packages={"torch": "2.5.1"}, device_name="AMD EPYC"))
    markdown, html = report(store, tmp_path / "mixed")
    note = ("Records of one strategy come from different code versions: knn (2: adapt-harness "
            "0.4.0 sources bbbbbbbbbbbb, adapt-harness 0.4.0 sources cccccccccccc); compare "
            "with care.")
    assert note in markdown and note in html
    assert "torch 2.5.1 (knn), 2.6.0 (knn, zero-shot)" in markdown
    assert "different devices of one kind: cpu: AMD EPYC (knn), Intel Xeon (knn, " in markdown


def test_records_differing_only_in_model_source_are_two_rows(store, tmp_path):
    hub = "hub HuggingFaceTB/SmolLM2-135M-Instruct@0123456789abcdef0123456789abcdef01234567"
    save(store, record("zero-shot", accuracy=0.75))
    save(store, record("zero-shot", model_source=hub, accuracy=0.5), prediction=(1, 0, 0, 1))
    ok = pd.DataFrame(store.records())
    board = leaderboard(ok, store)
    assert len(board) == 2 and (board["seeds"] == 1).all()
    rows = leaderboard_rows(report(store, tmp_path / "out")[0])
    assert [r["model source"] for r in rows] == [
        SOURCE, "hub HuggingFaceTB/SmolLM2-135M-Instruct@0123456"]
    assert len({r["row"] for r in rows}) == 2  # the names tell them apart


def test_seeds_pool_and_a_superseded_record_is_left_out(store, tmp_path):
    save(store, record("knn", seed=0, accuracy=0.5), prediction=(1, 0, 0, 1))
    save(store, record("knn", seed=1, accuracy=0.75), prediction=(1, 0, 0, 0))
    # The same cell recomputed after a code change: a new key, a newer record.
    save(store, record("knn", seed=1, accuracy=1.0, started_at="2026-12-02T10:00:00+0000",
                       code={**CODE, "sources_sha": "c" * 40}), prediction=(1, 0, 1, 0))
    markdown, _ = report(store, tmp_path / "out")
    [row] = leaderboard_rows(markdown)
    # The mean over the newest record of each seed, always with the row's interval.
    assert re.fullmatch(rf"{np.mean([0.5, 1.0]):.3f} \\\[0\.\d{{3}}, 1\.000\\\]",
                        row["accuracy (95% CI)"])
    # one row: its interval's description is said once, above the table
    assert "interval" not in row
    assert re.search(r"intervals: covers rows \+ 2 seeds[^\n]*sd 0\.354 over 2 seeds", markdown)
    assert "1 older record(s) of the same cells" in markdown


def test_write_reports_takes_prices(store, tmp_path):
    save(store, record("tfidf-logreg"))
    prices = {**DEFAULT_PRICES_USD_PER_HOUR, "cpu_core": 1.0}
    write_reports(store, tmp_path / "out", prices=prices)
    row = leaderboard_rows((tmp_path / "out" / "sst2.md").read_text())[0]
    assert money(row["fit"]) == pytest.approx(2.0)  # one hour on 2 cores at $1
    assert row["device"] == "cpu, 2 threads"


# ----- a report you can trust at a glance -----

FEELINGS = ["sadness", "joy", "anger"]  # task order, not alphabetical
TRUTH = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]


def save_rows(store: Store, rec: dict, prediction, labels=FEELINGS, truth=TRUTH) -> dict:
    """A record and its predictions on len(truth) rows, its metrics as the runner computes
    them: confusion matrix and per-class lists in task order."""
    k, n = len(labels), len(truth)
    matrix = np.zeros((k, k), dtype=int)
    for t, p in zip(truth, prediction):
        matrix[t, p] += 1
    rec = {**rec, "n_eval": n, "confusion_matrix": matrix.tolist(),
           "per_class_f1": {name: 0.5 for name in labels}}
    scores = np.full((n, k), -3.0)
    scores[np.arange(n), list(prediction)] = -0.1
    frame = pd.DataFrame({"index": range(n), "text": [f"text {i}" for i in range(n)],
                          "label": truth, "prediction": list(prediction),
                          **{f"score_{name}": scores[:, i] for i, name in enumerate(labels)}})
    store.save(rec, frame)
    return rec


def feelings(strategy: str, **fields) -> dict:
    return record(strategy, task="feelings", **fields)


def confusion_panels(html: str) -> list[list[str]]:
    """The texts of each confusion-matrix panel in the HTML's SVG, in drawing order: x tick
    labels, 'predicted', y tick labels, 'true', the counts row by row, the title."""
    svg = html.split("<h3>Confusion matrices</h3>", 1)[1].split("</figure>", 1)[0]
    texts = [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    panels, current = [], []
    for text in texts:
        current.append(text)
        if len(current) > 1 and current[-2].isdigit() and not text.isdigit():
            panels.append(current)  # the title follows the last count
            current = []
    return panels


@pytest.mark.parametrize("labels_in_record", [True, False], ids=["schema-3", "older"])
def test_confusion_matrices_follow_the_task_label_order(store, tmp_path, labels_in_record):
    # Zero-shot predicting "anger" nearly always: its counts must sit in the anger column.
    prediction = [2, 2, 2, 0, 2, 1, 2, 2, 2, 2, 2, 2]
    extra = {"labels": FEELINGS} if labels_in_record else {}
    save_rows(store, feelings("zero-shot", **extra), prediction)
    write_reports(store, tmp_path / "out")
    html = (tmp_path / "out" / "feelings.html").read_text()
    [panel] = confusion_panels(html)
    assert panel[:8] == [*FEELINGS, "predicted", *FEELINGS, "true"]
    assert [int(c) for c in panel[8:17]] == [1, 0, 3, 0, 1, 2, 0, 0, 5]
    markdown = (tmp_path / "out" / "feelings.md").read_text()
    [classes] = markdown_tables(markdown, "label")
    assert [(r["label"], r["support"]) for r in classes] == [("sadness", "4"), ("joy", "3"),
                                                             ("anger", "5")]
    assert [r["recall"] for r in classes] == ["0.250", "0.333", "1.000"]


def test_every_row_has_its_named_matrix_section_and_settings(store, tmp_path):
    for seed in (0, 1, 2):  # identical predictions: a deterministic strategy's seeds
        save_rows(store, feelings("knn", seed=seed, config={"k": 1}), TRUTH)
    save_rows(store, feelings("knn", config={"k": 3}), [0] * 12)
    write_reports(store, tmp_path / "out")
    board = pd.read_csv(tmp_path / "out" / "feelings.csv")
    names = list(board["row"])
    assert len(set(names)) == 2
    markdown = (tmp_path / "out" / "feelings.md").read_text()
    html = (tmp_path / "out" / "feelings.html").read_text()
    assert [panel[-1] for panel in confusion_panels(html)] == names
    for name in names:
        assert f"### {name}\n" in markdown and f"<h3>{name}</h3>" in html
        assert f"Confidently wrong ({name}):" in markdown or name == names[0]
    rows = {r["settings"]: r for r in leaderboard_rows(markdown)}
    assert set(rows) == {"k=1", "k=3"}
    # alike in every row: said once, above the table
    assert "n_train" not in rows["k=1"] and "n_eval" not in rows["k=1"]
    assert "\n12 evaluation rows; training rows: 8" in markdown
    for row in rows.values():  # the row's interval, always; never a lone spread over seeds
        assert re.fullmatch(r"\d\.\d{3} \\\[\d\.\d{3}, \d\.\d{3}\\\]", row["accuracy (95% CI)"])
    assert rows["k=1"]["interval"] == "covers rows + 3 seeds, Wilson (identical predictions)"
    assert rows["k=1"]["Δ vs best (95% CI)"] == "best"
    assert re.fullmatch(r"-0\.667 \\\[-\d\.\d{3}, -\d\.\d{3}\\\]",
                        rows["k=3"]["Δ vs best (95% CI)"])
    assert rows["k=3"]["top class share"] == "100% sadness ⚠"
    warnings = [line for line in markdown.splitlines() if "⚠ it predicts" in line]
    assert len(warnings) == 2  # among the notes, and in the row's own section
    assert warnings[0].startswith(f"- *{names[1]}*: **⚠ it predicts sadness for 100% of its")
    assert markdown.split(f"### {names[1]}\n", 1)[1].lstrip().startswith(
        "12 evaluation rows; 8 training rows; settings: k=3. **⚠ it predicts sadness")


def test_one_leaderboard_per_evaluation_set_each_naming_its_size(store, tmp_path):
    save_rows(store, feelings("tfidf-logreg", eval_fingerprint="e12"), TRUTH)
    save_rows(store, feelings("zero-shot", eval_fingerprint="e12"), [2] * 12)
    save_rows(store, feelings("tfidf-logreg", eval_fingerprint="e6", n_train=16),
              [0, 1, 2, 2, 2, 2], truth=[0, 1, 2, 0, 1, 2])
    write_reports(store, tmp_path / "out")
    markdown = (tmp_path / "out" / "feelings.md").read_text()
    assert "2 different sets of evaluation rows (set 1: 12 rows, set 2: 6 rows)" in markdown
    first, second = markdown.split("### Evaluation set 1\n", 1)[1].split(
        "### Evaluation set 2\n", 1)
    assert first.lstrip().startswith("12 evaluation rows; differences and p-values compare")
    assert second.lstrip().startswith("6 evaluation rows;")
    tables = markdown_tables(markdown)[:2]
    assert [len(t) for t in tables] == [2, 1]
    assert [[r["Δ vs best (95% CI)"] == "best" for r in t] for t in tables] == [
        [True, False], [True]]
    assert tables[0][1]["p vs best (Holm)"] not in ("best", "n/a")


def test_the_csv_holds_the_leaderboard_as_numbers(store, tmp_path):
    save_rows(store, feelings("tfidf-logreg"), TRUTH)
    save_rows(store, feelings("zero-shot"), [2] * 12)
    write_reports(store, tmp_path / "out")
    board = pd.read_csv(tmp_path / "out" / "feelings.csv")
    assert list(board.columns[:2]) == ["eval_set", "row"]
    for column in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "diff_vs_best",
                   "diff_ci_low", "p_vs_best", "p_holm", "n_eval", "majority_share",
                   "fit_cost_usd"):
        assert pd.api.types.is_numeric_dtype(board[column]), column
    assert list(board["accuracy"]) == [1.0, pytest.approx(5 / 12)]
    assert board["labels"].iloc[0] == "sadness joy anger"


def test_writing_a_report_removes_stale_plots_only(store, tmp_path):
    save(store, record("tfidf-logreg"))
    assets = tmp_path / "out" / "sst2_files"
    assets.mkdir(parents=True)
    for name in ("confusion_matrix_knn.png", "old.svg", "notes.txt"):
        (assets / name).write_text("left by an earlier report")
    write_reports(store, tmp_path / "out")
    assert sorted(p.name for p in assets.iterdir()) == [
        "accuracy_vs_cost.png", "accuracy_vs_latency.png", "confusion_matrices.png", "notes.txt"]


# ----- the report of `harness run` and `harness report --task` -----

def local_task(folder, name="mine") -> str:
    """A task file without hub_id and its data folder, labels given by name."""
    rows = "text,label\n" + "".join(f"{word} item {i},{word}\n" for i in range(4)
                                    for word in ("up", "down"))
    for split in ("train", "test"):
        (folder / "data" / name).mkdir(parents=True, exist_ok=True)
        (folder / "data" / name / f"{split}.csv").write_text(rows)
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nlabels: [up, down]\nprompt_template: '{{text}} {{choices}}'\n")
    return str(path)


def run(tmp_path, *args):
    return CliRunner().invoke(main, ["run", "--data-dir", tmp_path / "data", "--out",
                                     tmp_path / "results", "--reports", tmp_path / "reports",
                                     "--no-isolation", *map(str, args)],
                              env={"HARNESS_DATA_DIR": None})


def test_run_with_a_task_file_reports_every_record_and_a_failure_keeps_them(tmp_path, toys):
    task = local_task(tmp_path)
    first = run(tmp_path, "-s", "tfidf-logreg", "-t", task)
    assert first.exit_code == 0, first.output
    assert f"report: {tmp_path / 'reports' / 'mine.html'}" in first.output
    failed = run(tmp_path, "-s", "toy-raising", "-t", task)
    assert failed.exit_code == 1, failed.output
    markdown = (tmp_path / "reports" / "mine.md").read_text()
    # The failed run's report still holds the earlier run's row, and says it covers both.
    [row] = leaderboard_rows(markdown)
    assert row["row"].startswith("tfidf-logreg")
    assert "## Failed cells" in markdown and "the toy strategy refuses to train" in markdown
    assert "covers every record of the task" in markdown and "(1 ok, 1 failed)" in markdown


def test_report_task_takes_names_and_files_and_fails_loudly(tmp_path):
    task = local_task(tmp_path)
    assert run(tmp_path, "-s", "tfidf-logreg", "-t", task).exit_code == 0
    for chosen in (task, "mine"):
        out = tmp_path / f"by-{Path(chosen).stem}"
        result = CliRunner().invoke(main, ["report", "--results", str(tmp_path / "results"),
                                           "--out", str(out), "--task", chosen])
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in out.iterdir()) == [
            ".index", "index.html", "index.md", "mine.csv", "mine.html", "mine.md", "mine_files"]
    for chosen, message in (
            ("sst2", f"no records of task 'sst2' in '{tmp_path / 'results'}' (tasks with "
                     f"records: mine)"),
            ("../x", "task name '../x' must be 1-64 letters"),
            (str(tmp_path / "absent.yaml"), f"unknown task '{tmp_path / 'absent.yaml'}': "
                                            f"no such task file")):
        result = CliRunner().invoke(main, ["report", "--results", str(tmp_path / "results"),
                                           "--out", str(tmp_path / "none"), "--task", chosen])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "none").exists()


def test_a_report_killed_while_writing_leaves_nothing_for_the_next(store, tmp_path):
    """Issue 27: kill -9 during `harness report` left .tmp-<pid>-... files forever."""
    from test_store import dead_pid

    from harness.paths import HOST_TAG, TEMP_PREFIX

    save(store, record("tfidf-logreg"))
    assets = tmp_path / "out" / "sst2_files"
    assets.mkdir(parents=True)
    dead = f"{TEMP_PREFIX}{dead_pid()}-{HOST_TAG}-"
    live = f"{TEMP_PREFIX}{os.getppid()}-{HOST_TAG}-inflight"
    for folder in (tmp_path / "out", assets):
        (folder / f"{dead}x.png").write_text("half a plot")
        (folder / live).write_text("another report writing now")
    write_reports(store, tmp_path / "out")
    for folder in (tmp_path / "out", assets):
        assert not (folder / f"{dead}x.png").exists() and (folder / live).exists()
