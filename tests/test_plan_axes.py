"""The grid's seed axes: data seeds draw the training rows (the evaluation rows stay fixed, so
results compare row by row), and what a strategy declares prunes the grid."""

import json

from click.testing import CliRunner

from harness.cli import main
from harness.data import load_split, subset
from harness.plan import build_cells
from harness.tasks import get_task


def plan(spec, data_dir, **kwargs):
    return build_cells(["agnews"], spec, n_train=24, n_eval=12, data_dir=data_dir, **kwargs)


def test_a_deterministic_strategy_is_planned_once_under_seed_0(data_dir):
    cells = plan("tfidf-logreg", data_dir, seeds=[2, 0, 1])
    assert [(c.seed, c.data_seed) for c in cells] == [(0, 0)]
    assert cells[0].identity()["deterministic"] is True
    # Other seeds asked for later: the same cell, found finished, not recomputed.
    assert plan("tfidf-logreg", data_dir, seeds=[5])[0].key == cells[0].key


def test_a_strategy_without_training_rows_is_planned_once_whatever_the_data_seeds(
        data_dir, tiny_decoder):
    cells = plan("zero-shot", data_dir, seeds=[0, 1], data_seeds=[3, 0],
                 model_values=(tiny_decoder.source,))
    assert [(c.seed, c.data_seed) for c in cells] == [(0, 0)]
    again = plan("zero-shot", data_dir, seeds=[4], data_seeds=[7],
                 model_values=(tiny_decoder.source,))
    assert again[0].key == cells[0].key
    identity = cells[0].identity()
    assert len(cells[0].train) == 0
    assert identity["n_train"] == 0 and identity["train_fingerprint"] is None
    assert identity["n_eval"] == 12


def test_data_seeds_draw_other_training_rows_on_the_same_evaluation_rows(data_dir):
    few_shot = plan("few-shot", data_dir, seeds=[0, 1], data_seeds=[0, 1],
                    model_values=("decoder=smollm2-135m-instruct",))
    assert sorted((c.data_seed, c.seed) for c in few_shot) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    tfidf = plan("tfidf-logreg", data_dir, seeds=[0, 1, 2], data_seeds=[0, 1])
    assert [(c.data_seed, c.seed) for c in tfidf] == [(0, 0), (1, 0)]
    for cells in (few_shot, tfidf):
        assert len({c.eval.fingerprint() for c in cells}) == 1
        assert len({c.train.fingerprint() for c in cells}) == 2
        assert len({c.key for c in cells}) == len(cells)
    assert {c.train.fingerprint() for c in few_shot} == {c.train.fingerprint() for c in tfidf}


def test_evaluation_rows_come_from_the_eval_seed_and_data_seed_0_keeps_todays_rows(data_dir):
    task = get_task("agnews")
    train = load_split(task, "train", data_dir)
    test = load_split(task, "test", data_dir)
    cell, = plan("tfidf-logreg", data_dir, data_seeds=[0])
    # Before data seeds, one seed drew both; with data seed 0 both are the rows of then.
    assert cell.train.fingerprint() == subset(train, 24, 0).fingerprint()
    assert cell.eval.fingerprint() == subset(test, 12, 0).fingerprint()
    other, = plan("tfidf-logreg", data_dir, data_seeds=[5], eval_seed=3)
    assert other.train.fingerprint() == subset(train, 24, 5).fingerprint()
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
