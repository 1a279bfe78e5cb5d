"""The grid's seed axes: data seeds draw the training rows (the evaluation rows stay fixed, so
results compare row by row), and what a strategy declares prunes the grid."""

import json

import numpy as np
import pytest

from click.testing import CliRunner

from harness.cli.main import main
from harness.inputs.data import load_split, subset, training_rows
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.inputs.tasks import get_task


def plan(spec, data_dir, **kwargs):
    return build_cells(GridRequest(tasks=["agnews"], strategies=spec, n_train=24, n_eval=12,
                                   data_dir=data_dir, **kwargs))


def test_a_deterministic_strategy_is_planned_once_under_seed_0(data_dir):
    cells = plan("tfidf-logreg", data_dir, seeds=[2, 0, 1])
    assert [(c.seed, c.data_seed) for c in cells] == [(0, 0)]
    assert cells[0].identity()["deterministic"] is True
    # Other seeds asked for later: the same cell, found finished, not recomputed.
    assert plan("tfidf-logreg", data_dir, seeds=[5])[0].key == cells[0].key


def test_a_strategy_without_training_rows_is_planned_once_whatever_the_data_seeds(
        data_dir, tiny_decoder):
    cells = plan("zero-shot", data_dir, seeds=[0, 1], data_seeds=[3, 0],
                 models=(tiny_decoder.source,))
    assert [(c.seed, c.data_seed) for c in cells] == [(0, 0)]
    again = plan("zero-shot", data_dir, seeds=[4], data_seeds=[7],
                 models=(tiny_decoder.source,))
    assert again[0].key == cells[0].key
    identity = cells[0].identity()
    assert len(cells[0].train) == 0
    assert identity["n_train"] == 0 and identity["train_fingerprint"] is None
    assert identity["n_eval"] == 12


def test_data_seeds_draw_other_training_rows_on_the_same_evaluation_rows(data_dir):
    few_shot = plan("few-shot", data_dir, seeds=[0, 1], data_seeds=[0, 1],
                    models=("decoder=smollm2-135m-instruct",))
    assert sorted((c.data_seed, c.seed) for c in few_shot) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    tfidf = plan("tfidf-logreg", data_dir, seeds=[0, 1, 2], data_seeds=[0, 1])
    assert [(c.data_seed, c.seed) for c in tfidf] == [(0, 0), (1, 0)]
    for cells in (few_shot, tfidf):
        assert len({c.eval.fingerprint() for c in cells}) == 1
        assert len({c.train.fingerprint() for c in cells}) == 2
        assert len({c.key for c in cells}) == len(cells)
    assert {c.train.fingerprint() for c in few_shot} == {c.train.fingerprint() for c in tfidf}


def test_training_rows_come_from_the_data_seed_and_evaluation_rows_from_the_eval_seed(data_dir):
    task = get_task("agnews")
    train = load_split(task, "train", data_dir)
    test = load_split(task, "test", data_dir)
    cell, = plan("tfidf-logreg", data_dir, data_seeds=[0])
    # Training rows are a prefix of the data seed's nested order (a learning curve's sizes
    # contain each other); evaluation rows a stratified draw of their own seed.
    assert cell.train.fingerprint() == training_rows(train, 0, 24).fingerprint()
    assert cell.eval.fingerprint() == subset(test, 12, 0).fingerprint()
    other, = plan("tfidf-logreg", data_dir, data_seeds=[5], eval_seed=3)
    assert other.train.fingerprint() == training_rows(train, 5, 24).fingerprint()
    assert other.eval.fingerprint() == subset(test, 12, 3).fingerprint()
    assert other.identity()["eval_seed"] == 3 and other.key != cell.key


def test_data_seeds_on_the_command_line_make_one_record_each(data_dir, tmp_path):
    args = ["run", "-s", "tfidf-logreg", "--data-dir", data_dir, "--n-train", 40,
            "--n-eval", 20, "--seeds", "0,1", "--data-seeds", "0,1",
            "--out", tmp_path / "results", "--reports", tmp_path / "reports"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert sorted((r["data_seed"], r["seed"]) for r in records) == [(0, 0), (1, 0)]
    assert len({r["eval_fingerprint"] for r in records}) == 1
    assert len({r["train_fingerprint"] for r in records}) == 2
    assert all(r["deterministic"] is True and r["status"] == "ok" for r in records)


def test_data_seed_stays_a_one_value_alias(data_dir, tmp_path):
    result = CliRunner().invoke(main, [
        "run", "-s", "tfidf-logreg", "--data-dir", str(data_dir), "--n-train", "40",
        "--n-eval", "20", "--data-seed", "4", "--out", str(tmp_path / "results"),
        "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    record, = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert record["data_seed"] == 4


def test_training_sizes_are_nested_draws_and_a_strategy_without_training_rows_runs_once(
        data_dir, tiny_decoder):
    cells = build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg,zero-shot",
                                    n_train=[40, 8, 16, 16], n_eval=12, data_dir=data_dir,
                                    models=(tiny_decoder.source,)))
    sizes = [len(c.train) for c in cells if c.strategy == "tfidf-logreg"]
    assert sizes == [8, 16, 40]  # smallest first, each once
    assert [len(c.train) for c in cells if c.strategy == "zero-shot"] == [0]
    texts = [set(c.train.texts) for c in cells if c.strategy == "tfidf-logreg"]
    assert texts[0] < texts[1] < texts[2]
    for cell in cells[:3]:  # every prefix stratified: 4 labels, within one row of the share
        counts = np.bincount(cell.train.labels, minlength=4)
        assert counts.max() - counts.min() <= 1 and "training rows" in cell.label
    assert len({c.key for c in cells}) == len(cells)
    # A size is the same rows whichever other sizes are asked with it.
    alone, = build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg", n_train=16,
                                     n_eval=12, data_dir=data_dir))
    assert alone.key == cells[1].key


def test_rows_per_label_draw_that_many_of_each_label_and_name_it_in_the_identity(data_dir):
    small, large = build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg",
                                           n_per_class=[5, 2], n_eval=12, data_dir=data_dir))
    assert np.bincount(small.train.labels).tolist() == [2, 2, 2, 2]
    assert np.bincount(large.train.labels).tolist() == [5, 5, 5, 5]
    assert set(small.train.texts) < set(large.train.texts)
    assert small.identity()["n_per_class"] == 2 and "n_per_class" not in plan(
        "tfidf-logreg", data_dir)[0].identity()
    # Drawn per label or in rows, the same seed orders the rows alike.
    rows, = build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg", n_train=8,
                                    n_eval=12, data_dir=data_dir))
    assert set(rows.train.texts) == set(small.train.texts)


@pytest.mark.parametrize("options, message", [
    (["--n-train", "32,x"], "--n-train '32,x' must be comma-separated whole numbers"),
    (["--n-train", "0,8"], "--n-train sizes must be positive, got 0"),
    (["--n-per-class", "8", "--n-train", "32"], "--n-train and --n-per-class both given"),
    (["--n-per-class", "20000"], "--n-per-class 20000 is more than the"),
])
def test_bad_training_sizes_are_one_line_errors(data_dir, tmp_path, options, message):
    result = CliRunner().invoke(main, ["run", "-s", "tfidf-logreg", "--data-dir", data_dir,
                                       "--n-eval", "8", "--out", str(tmp_path / "r"),
                                       "--reports", str(tmp_path / "p"), *options])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_a_model_for_a_kind_no_strategy_uses_is_noted(data_dir):
    """Issue 27: `--model decoder=...` on an encoder-only grid was ignored silently."""
    notes = []
    build_cells(GridRequest(tasks=["agnews"], strategies="tfidf-logreg", data_dir=data_dir,
                            n_train=8, n_eval=8, models=("decoder=smollm2-135m-instruct",)),
                notes)
    assert "--model decoder=smollm2-135m-instruct: no strategy of this run uses a decoder " \
           "model; it changes nothing" in notes
    notes = []
    build_cells(GridRequest(tasks=["agnews"], strategies="distill", data_dir=data_dir,
                            n_train=8, n_eval=8, models=("decoder=smollm2-135m-instruct",)),
                notes)
    assert not any("changes nothing" in note for note in notes)  # distill's teacher uses it
