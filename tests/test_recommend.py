"""`harness recommend` on synthetic records in a real Store: curves read at the asked size
(measured, interpolated, or the largest), constraints that exclude with a reason, a ranking
by accuracy, exit 1 with the binding constraint named when nothing qualifies, the paragraph."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_leaderboard_stats import predictions_right_on, rows, save_record

from harness.cli.main import main
from harness.results.cost import load_prices, price_records
from harness.report.tables import leaderboard
from harness.recommend.options import Constraints, candidates, number, recommend

GIB = 2**30


@pytest.fixture
def store(tmp_path):
    from harness.results.store import Store

    s = Store(tmp_path / "results")
    s.prepare()
    return s


def curve(store, strategy, accuracies, sizes=(32, 128, 512), latency=5.0, memory_gib=1.0,
          n=400):
    texts, labels = rows(n)
    order = np.random.default_rng(len(strategy)).permutation(n)
    for size, accuracy in zip(sizes, accuracies):
        right = np.zeros(n, dtype=bool)
        right[order[:int(accuracy * n)]] = True
        save_record(store, strategy, texts, labels, [predictions_right_on(labels, right, 2)],
                    n_train=size, fit_s=size / 4, latency_p95_ms=latency,
                    rss_above_baseline_bytes=memory_gib * GIB, rss_baseline_bytes=0,
                    train_fingerprint=f"{strategy}-{size}", predict_s=latency * n / 1000)


@pytest.fixture
def grid(store):
    curve(store, "lora", [0.5, 0.65, 0.9], latency=20.0, memory_gib=2.0)
    curve(store, "tfidf-logreg", [0.6, 0.7, 0.75], latency=0.5, memory_gib=0.3)
    curve(store, "zero-shot", [0.8], sizes=(0,), latency=200.0, memory_gib=1.5)
    return store


def board_of(store):
    records = price_records(pd.DataFrame(store.records(strict=True)), load_prices(None))
    return leaderboard(records, store)


def option(options, strategy):
    return options[options["name"].str.startswith(strategy)].iloc[0]


def test_a_curve_is_read_at_the_asked_size_between_and_beyond_the_measured_ones(grid):
    board = board_of(grid)
    between = option(candidates(board, n_train=256), "lora")
    assert between["accuracy"] == pytest.approx(0.65 + 0.5 * (0.9 - 0.65))
    assert between["how"] == "interpolated between the measured 128 and 512 rows"
    assert between["fit_s"] == pytest.approx(32 + (256 - 128) / (512 - 128) * (128 - 32))
    beyond = option(candidates(board, n_train=5000), "lora")
    assert beyond["accuracy"] == pytest.approx(0.9) and "largest size" in beyond["how"]
    assert option(candidates(board, n_train=128), "lora")["how"] == "measured at 128 rows"
    below = option(candidates(board, n_train=10), "lora")
    assert "smallest measured size is 32 rows" in below["excluded_by_rows"]
    assert option(candidates(board, n_train=10), "zero-shot")["how"] == "uses no training rows"


def test_constraints_exclude_with_a_reason_and_the_rest_rank_by_accuracy(grid):
    options = candidates(board_of(grid), n_train=512)
    verdict = recommend(options, Constraints(max_latency_ms=50))
    assert [n.split()[0] for n in verdict.qualifying["name"]] == ["lora", "tfidf-logreg"]
    (name, why), = verdict.excluded
    assert name.startswith("zero-shot") and "p95 latency 200 ms > 50 ms" in why[0]
    tight = recommend(options, Constraints(max_latency_ms=50, max_memory_gib=1))
    assert list(tight.qualifying["name"].str.split().str[0]) == ["tfidf-logreg"]


def test_without_a_size_a_curve_offers_its_best_qualifying_size_once(grid):
    verdict = recommend(candidates(board_of(grid)), Constraints(max_fit_usd=1.0))
    lora = option(verdict.qualifying, "lora")
    assert lora["n_train"] == 512 and verdict.qualifying["name"].is_unique


def test_nothing_qualifies_exits_1_and_names_the_binding_constraint(grid):
    result = CliRunner().invoke(main, ["recommend", "--results", str(grid.root), "-t", "t",
                                       "--n-train", "512", "--max-latency-ms", "0.1",
                                       "--min-accuracy", "0.5"])
    assert result.exit_code == 1, result.output
    assert "No strategy meets every constraint. Binding: --max-latency-ms 0.1:" in \
        result.output
    assert "the lowest p95 latency measured is 0.5 ms (tfidf-logreg" in result.output


def test_the_explanation_names_the_best_its_numbers_and_what_was_excluded(grid):
    result = CliRunner().invoke(main, ["recommend", "--results", str(grid.root), "-t", "t",
                                       "--n-train", "200", "--max-latency-ms", "50",
                                       "--explain"])
    assert result.exit_code == 0, result.output
    paragraph = result.output.split("\n\n")[-1]
    assert paragraph.startswith("With 200 labelled rows and p95 latency at most 50 ms on cpu")
    assert "lora (tiny) is best: 0.73" in paragraph and "interpolated" in paragraph
    assert "zero-shot (tiny) would be" in paragraph and "excluded: p95 latency" in paragraph


def test_measured_options_are_compared_pairwise_with_the_first(grid):
    result = CliRunner().invoke(main, ["recommend", "--results", str(grid.root), "-t", "t",
                                       "--n-train", "512"])
    assert result.exit_code == 0
    assert "vs #1" in result.output
    # One run each of strategies whose runs differ: marked, never claimed
    assert "conditional on one run" in result.output


def test_deterministic_options_are_called_significant_or_not(store):
    texts, labels = rows(400)
    order = np.random.default_rng(0).permutation(400)
    for strategy, accuracy in (("tfidf-logreg", 0.9), ("zero-shot", 0.6)):
        right = np.zeros(400, dtype=bool)
        right[order[:int(accuracy * 400)]] = True
        save_record(store, strategy, texts, labels, [predictions_right_on(labels, right, 2)],
                    n_train=512, deterministic=True, train_fingerprint=strategy)
    result = CliRunner().invoke(main, ["recommend", "--results", str(store.root), "-t", "t",
                                       "--n-train", "512"])
    assert result.exit_code == 0, result.output
    assert ", significant" in result.output and "conditional" not in result.output


@pytest.mark.parametrize("options, message", [
    (["--max-latency-ms", "-1"], "--max-latency-ms must be a number >= 0, got -1.0"),
    (["--min-accuracy", "80"], "--min-accuracy is a share in 0..1, got 80.0"),
    (["--n-train", "0"], "--n-train must be positive, got 0"),
    (["-t", "sst2"], "no records of task 'sst2'"),
])
def test_bad_input_is_one_line(grid, options, message):
    result = CliRunner().invoke(main, ["recommend", "--results", str(grid.root), "-t", "t",
                                       *options])
    assert result.exit_code not in (0, 1) or message in result.output
    assert message in result.output and result.exit_code != 0


def test_numbers_are_short_and_never_in_exponent_form():
    assert [number(v) for v in (0.0000013, 0.0042, 0.5, 12.345, 1840.2, 0)] == \
        ["0.0000013", "0.0042", "0.5", "12.35", "1,840", "0"]
    assert number(float("nan")) == "-" and pd.isna(np.nan)


def test_each_variant_is_its_own_option_with_its_own_figures(store):
    """Issue 27: after `--inference fp32,int8`, recommend printed the int8 variant's accuracy
    and latency under the plain strategy's name. Each option is now one record's, named."""
    texts, labels = rows(400)
    order = np.random.default_rng(0).permutation(400)
    saved = {}
    for strategy, inference, accuracy, latency in [("lora", None, 0.41, 3488.0),
                                                   ("lora", "fp32", 0.42, 3400.0),
                                                   ("lora", "int8", 0.44, 1616.0),
                                                   ("zero-shot", None, 0.30, 17510.0),
                                                   ("zero-shot", "fp32", 0.30, 9096.0)]:
        right = np.zeros(400, dtype=bool)
        right[order[:int(accuracy * 400)]] = True
        variant = {"inference": inference} if inference else {}
        record = save_record(store, strategy, texts, labels,
                             [predictions_right_on(labels, right, 2)], n_train=200,
                             latency_p95_ms=latency, **variant)
        saved[strategy + (f" · {inference}" if inference else "")] = record
    options = candidates(board_of(store), n_train=200)
    assert sorted(options["name"].str.split(" \\(").str[0]) == sorted(saved)
    for _, shown in options.iterrows():
        own = saved[shown["name"].split(" (")[0]]
        assert shown["accuracy"] == pytest.approx(own["accuracy"])
        assert shown["latency_p95_ms"] == own["latency_p95_ms"]
    result = CliRunner().invoke(main, ["recommend", "--results", str(store.root), "--task", "t",
                                       "--n-train", "200"])
    assert result.exit_code == 0, result.output
    output = result.output.splitlines()
    numbered = [i for i, line in enumerate(output)
                if line.lstrip().startswith(tuple(f"{i}." for i in range(1, 9)))]
    assert len(numbered) == len(saved), result.output
    for i in numbered:  # the option's line, then its costs' line
        name = output[i].split(". ", 1)[1].split(" (")[0]
        assert f"accuracy {saved[name]['accuracy']:.3f}" in output[i], output[i]
        assert f"p95 latency {saved[name]['latency_p95_ms']:,.0f} ms" in output[i + 1]
