"""Learning curves from synthetic records in a real Store: curves found only when a strategy
has two training sizes, a flat line for one without training rows, crossings interpolated on
log rows with a bootstrap interval that holds the truth, and the report's section and plots."""

import numpy as np
import pandas as pd
import pytest
from test_leaderboard_stats import board_of, predictions_right_on, rows, save_record

from harness.report.anchors import anchors_for
from harness.report import write_reports
from harness.report.curves import crossing_size, crossovers, learning_curves
from harness.report.curve_section import accuracy_table, crossover_table
from harness.results.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def grow(store, strategy, accuracies, sizes=(32, 128, 512), n=400, seed=0, trials=1,
         **fields):
    """A curve: at each size, predictions right on a nested set of rows of that share."""
    texts, labels = rows(n)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    for size, accuracy in zip(sizes, accuracies):
        preds = []
        for trial in range(trials):
            right = np.zeros(n, dtype=bool)
            jitter = rng.integers(-8, 9) if trials > 1 else 0
            right[order[:int(accuracy * n) + jitter]] = True
            preds.append(predictions_right_on(labels, right, 2))
        per_label = {"n_per_class": size // 2} if fields.get("per_label") else {}
        save_record(store, strategy, texts, labels, preds, n_train=size,
                    fit_s=size / 10, train_fingerprint=f"{strategy}-{size}", **per_label,
                    **{k: v for k, v in fields.items() if k != "per_label"})


def test_a_crossing_is_interpolated_on_log_rows_where_the_difference_turns_for_good():
    sizes = np.array([32.0, 128, 512, 2000])
    at = crossing_size(sizes, np.array([-0.1, -0.02, 0.05, 0.1]))
    share = 0.02 / 0.07
    assert at == pytest.approx(np.exp(np.log(128) + share * np.log(4)))
    assert crossing_size(sizes, np.array([0.1, 0.2, 0.1, 0.3])) == -np.inf  # ahead throughout
    assert crossing_size(sizes, np.array([-0.1, 0.1, 0.2, -0.01])) == np.inf  # falls back
    # Ahead, behind, then ahead for good: the last turn counts.
    assert 512 < crossing_size(sizes, np.array([0.1, 0.05, -0.1, 0.2])) < 2000


def test_a_trained_curve_overtakes_a_flat_line_with_an_interval_around_the_crossing(store):
    grow(store, "lora", [0.5, 0.65, 0.9])
    texts, labels = rows(400)
    right = np.random.default_rng(1).random(400) < 0.75
    save_record(store, "zero-shot", texts, labels, [predictions_right_on(labels, right, 2)],
                n_train=0, train_fingerprint=None, deterministic=True)
    board = board_of(store)
    curves = learning_curves(board)
    assert set(curves.loc[curves["flat"], "strategy"]) == {"zero-shot"}
    assert sorted(curves.loc[~curves["flat"], "n_train"]) == [32, 128, 512]
    crossings = crossovers(curves, pd.DataFrame(store.records(strict=True)), store)
    row, = crossings.itertuples()
    assert row.leader.startswith("lora") and row.other.startswith("zero-shot")
    assert 128 < row.crossing_rows < 512
    assert row.low <= row.crossing_rows <= row.high
    # One run of lora per size: the crossing is conditional on it, nothing is claimed
    assert row.conditional and row.significant_from is None and row.diff > 0.1
    assert row.covers == "rows"
    shown = crossover_table(crossings).iloc[0]
    assert "lora (tiny) overtakes zero-shot (tiny)" == shown["overtakes"]
    assert shown["significantly ahead from"] == "not claimed: conditional on one run"
    # Two more draws of lora's training rows make it a claim about the method
    for draw in (1, 2):
        grow(store, "lora", [0.5, 0.65, 0.9], seed=draw, data_seed=draw)
    ok = pd.DataFrame(store.records(strict=True))
    row, = crossovers(learning_curves(board_of(store)), ok, store).itertuples()
    assert not row.conditional and row.covers == "rows + 3 data seeds"
    assert row.significant_from == 512
    table = accuracy_table(curves)
    assert list(table.columns) == ["curve", "32 rows", "128 rows", "512 rows"]
    assert table.iloc[-1]["512 rows"] == "lora (tiny) (0.900)"
    assert "(no training rows)" in table.set_index("curve").loc["zero-shot (tiny)", "32 rows"]


def test_two_curves_cross_where_the_better_at_many_rows_was_worse_at_few(store):
    grow(store, "full-finetune", [0.4, 0.8, 0.95])
    grow(store, "few-shot", [0.7, 0.72, 0.73], trials=5, seed=3)
    curves = learning_curves(board_of(store))
    crossings = crossovers(curves, pd.DataFrame(store.records(strict=True)), store)
    assert list(crossings["leader"].str.split().str[0]) == ["full-finetune"]
    row = crossings.iloc[0]
    assert 32 < row["crossing_rows"] < 128 and row["sizes"] == [32, 128, 512]


def test_without_two_training_sizes_there_is_no_curve_and_no_section(store, tmp_path):
    grow(store, "lora", [0.6], sizes=(128,))
    assert learning_curves(board_of(store)) is None
    write_reports(store, tmp_path / "reports")
    assert "## Learning curves" not in (tmp_path / "reports" / "t.md").read_text()


def test_the_report_draws_the_curves_and_the_crossover_table(store, tmp_path):
    grow(store, "lora", [0.5, 0.65, 0.9])
    grow(store, "tfidf-logreg", [0.6, 0.62, 0.64], seed=2)
    write_reports(store, tmp_path / "reports")
    markdown = (tmp_path / "reports" / "t.md").read_text()
    assert "## Learning curves" in markdown and "### Crossovers" in markdown
    assert "lora (tiny) overtakes tfidf-logreg (tiny)" in markdown
    for plot in ("learning_curve", "learning_cost"):
        png = tmp_path / "reports" / "t_files" / f"{plot}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert "learning_curve" in (tmp_path / "reports" / "t.html").read_text()


def test_published_anchors_match_task_and_model_only():
    setfit, = anchors_for("agnews", "minilm-l6")
    assert (setfit.n_per_class, setfit.n_train) == (8, 32) and 0.8 < setfit.accuracy < 0.9
    assert anchors_for("agnews", "bert-base-uncased") == []
    assert anchors_for("sst2", "minilm-l6") == []


def test_sizes_asked_per_label_say_so_in_the_table(store):
    grow(store, "lora", [0.5, 0.65], sizes=(16, 64), per_label=True)
    table = accuracy_table(learning_curves(board_of(store)))
    assert list(table.columns) == ["curve", "16 rows (8 per label)", "64 rows (32 per label)"]


def test_a_learning_curve_from_the_command_line_to_the_report_and_recommend(data_dir,
                                                                             tmp_path):
    from click.testing import CliRunner

    from harness.cli.main import main

    out, reports = str(tmp_path / "results"), str(tmp_path / "reports")
    result = CliRunner().invoke(main, ["run", "-s", "tfidf-logreg", "--data-dir", data_dir,
                                       "--n-train", "16,64", "--n-eval", "40", "--out", out,
                                       "--reports", reports, "--no-isolation"])
    assert result.exit_code == 0, result.output
    assert "· 16 training rows ·" in result.output and "· 64 training rows ·" in result.output
    assert "note: learning curve: 2 cells, training sizes 16, 64 (nested draws" in result.output
    markdown = (tmp_path / "reports" / "agnews.md").read_text()
    assert "## Learning curves" in markdown and "| tfidf-logreg on scikit-learn |" in markdown
    answer = CliRunner().invoke(main, ["recommend", "--results", out, "-t", "agnews",
                                       "--n-train", "32", "--explain"])
    assert answer.exit_code == 0, answer.output
    assert "interpolated between the measured 16 and 64 rows" in answer.output


@pytest.mark.parametrize("clusters, run_sd", [(1, 0.0), (3, 0.03)])
def test_the_crossing_interval_covers_the_true_crossing_in_simulated_curves(clusters, run_sd):
    """The bootstrap interval of a crossing (evaluation rows resampled for every point alike,
    each point's runs on their own, as `crossovers` computes it) holds the crossing of the
    population curves in about 95% of 150 simulated learning curves: a leader at 0.55, 0.65,
    0.75 at 32, 128, 512 rows (one run, or 3 runs whose accuracy moves by run_sd) against a
    flat 0.62 on 400 rows; on log rows they cross at 32 x 4^0.7."""
    from scipy.special import expit, logit

    from harness.report.curves import _bootstrap

    sizes, leader, flat = np.array([32.0, 128, 512]), (0.55, 0.65, 0.75), 0.62
    truth = np.exp(np.log(32) + 0.7 * np.log(4))
    rng, covered, reps = np.random.default_rng(11), 0, 150
    for rep in range(reps):
        points = {j: rng.random((clusters, 400)) < expit(
            logit(p) + rng.normal(0, run_sd, (clusters, 1))) for j, p in enumerate(leader)}
        points["flat"] = rng.random((1, 400)) < flat
        boot = _bootstrap(points, 300, rep)
        replicates = np.sort([crossing_size(sizes, d) for d in np.stack(
            [boot[j] - boot["flat"] for j in range(3)], axis=1)])
        low, high = replicates[7], replicates[-8]  # the 2.5% and 97.5% of 300 replicates
        covered += low <= truth <= high
    assert 0.88 <= covered / reps <= 0.99, covered / reps
