"""A run is data: the grid as a file (`--grid`, `--dump-grid`), every record keeps the command
and grid that made it, a recomputed cell keeps the record it replaces (history/), and
`harness compare` says what changed between two runs of the same cells."""

import json
from pathlib import Path

from test_cli import harness

from harness.results.store import Store

GRID_ARGS = ["-s", "tfidf-logreg,knn", "-t", "agnews", "--n-train", "40", "--n-eval", "24",
             "--seeds", "0", "-c", "tfidf-logreg.C=2.5", "-c", "knn.k=3"]


def run_args(data_dir, out: Path, *more):
    return ["run", *more, "--data-dir", data_dir, "--out", out / "results",
            "--reports", out / "reports"]


def keys(out: Path) -> set[str]:
    return {record["key"] for record in Store(out / "results").records()}


def test_a_grid_file_plans_the_cells_of_its_command_line_and_round_trips(data_dir, tmp_path):
    dumped = harness("run", *GRID_ARGS, "--dump-grid")
    assert dumped.exit_code == 0, dumped.output
    assert "strategies:\n- tfidf-logreg\n- knn\n" in dumped.output
    assert "config:\n  tfidf-logreg:\n    C: 2.5\n  knn:\n    k: 3\n" in dumped.output
    grid = tmp_path / "grid.yaml"
    grid.write_text(dumped.output)
    again = harness("run", "--grid", grid, "--dump-grid")
    assert again.output == dumped.output  # the file means what the command line meant

    by_flags = harness(*run_args(data_dir, tmp_path / "flags", *GRID_ARGS))
    by_file = harness(*run_args(data_dir, tmp_path / "file", "--grid", grid))
    assert by_flags.exit_code == 0 and by_file.exit_code == 0, by_flags.output + by_file.output
    assert keys(tmp_path / "flags") == keys(tmp_path / "file") and len(keys(tmp_path / "file")) == 2

    # A flag given with the file wins over the file's value
    changed = harness("run", "--grid", grid, "--n-eval", "12", "--dump-grid")
    assert "n_eval: 12\n" in changed.output and "n_eval: 24" not in changed.output


def test_a_bad_grid_file_is_one_line_naming_the_problem(tmp_path):
    cases = {"strategie: [knn]\n": "unknown key 'strategie'",
             "- knn\n": "must be a mapping",
             "n_eval: many\n": "'n_eval' must be a whole number",
             "config: {knn: 3}\n": "'config' must map each strategy to its settings",
             "tasks: [agnews\n": "not valid YAML"}
    for text, problem in cases.items():
        grid = tmp_path / "grid.yaml"
        grid.write_text(text)
        result = harness("run", "--grid", grid, "--dump-grid")
        assert result.exit_code != 0 and problem in result.output, (text, result.output)
        assert "Traceback" not in result.output


def test_records_keep_their_command_and_a_recomputed_cell_keeps_the_one_it_replaced(
        data_dir, tmp_path):
    first = harness(*run_args(data_dir, tmp_path, *GRID_ARGS))
    assert first.exit_code == 0, first.output
    store = Store(tmp_path / "results")
    before = {r["key"]: r for r in store.records()}
    record = next(iter(before.values()))
    assert record["command"].startswith("harness run -s tfidf-logreg,knn")
    assert record["grid"]["config"] == {"tfidf-logreg": {"C": 2.5}, "knn": {"k": 3}}
    assert len({r["run_id"] for r in before.values()}) == 1

    # tfidf-logreg recomputed with another setting under --force (another cell), then as it was
    forced = harness(*run_args(data_dir, tmp_path, *GRID_ARGS, "--force"))
    assert forced.exit_code == 0, forced.output
    after = {r["key"]: r for r in store.records()}
    assert after.keys() == before.keys()
    history = store.history()
    assert sorted(r["key"] for r in history) == sorted(before)  # nothing lost
    assert {r["run_id"] for r in history} == {record["run_id"]}
    for kept in history:  # whole: its predictions beside it, readable as a store
        assert kept == before[kept["key"]]
    old_run, new_run = record["run_id"], next(iter(after.values()))["run_id"]
    assert old_run != new_run

    listed = harness("compare", "--results", tmp_path / "results", "--list")
    assert old_run in listed.output and new_run in listed.output
    latest = harness("compare", "--results", tmp_path / "results")
    named = harness("compare", old_run, new_run, "--results", tmp_path / "results")
    assert latest.exit_code == 0 and named.output == latest.output, latest.output
    # Same code, data and settings: the same predictions, and the interval says so
    assert "accuracy" in latest.output and "+0.000 [+0.000, +0.000]" in latest.output
    assert "identical predictions 100.0%" in latest.output
    assert "command: harness run" in latest.output  # --force was added
    rows = json.loads(harness("compare", "--results", tmp_path / "results", "--json").output)
    assert {row["strategy"] for row in rows} == {"tfidf-logreg", "knn"}
    assert all(row["paired"] and row["difference"] == 0 for row in rows)


def test_compare_names_what_it_cannot_find(data_dir, tmp_path):
    assert "no results folder" in harness("compare", "--results", tmp_path / "none").output
    first = harness(*run_args(data_dir, tmp_path, *GRID_ARGS))
    assert first.exit_code == 0
    result = harness("compare", "--results", tmp_path / "results")
    assert result.exit_code != 0 and "history/ is empty" in result.output
    result = harness("compare", "nope", "other", "--results", tmp_path / "results")
    assert result.exit_code != 0 and "no run 'nope'" in result.output


def test_recommend_says_its_verdict_as_json_for_a_script(data_dir, tmp_path):
    done = harness(*run_args(data_dir, tmp_path, *GRID_ARGS))
    assert done.exit_code == 0, done.output
    result = harness("recommend", "--results", tmp_path / "results", "--task", "agnews",
                     "--max-latency-ms", "10000", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["constraints"] == {"max_latency_ms": 10000.0}
    names = [option["name"] for option in verdict["qualifying"]]
    assert len(set(names)) == 2 and any(name.startswith("knn") for name in names)
    accuracies = [option["accuracy"] for option in verdict["qualifying"]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert verdict["qualifying"][1]["versus_first"].startswith("vs #1 ")
