"""`harness recommend` on a generation task: its leaderboard's rows ranked by the task's primary
metric (the one its report ranks by), constraints and --n-train excluding with a reason, each
runner-up read against the first by their intervals, and --min-accuracy refused in one line."""

import json

from click.testing import CliRunner
from test_report_generation import continuations, generation, interval, predictions

from harness.cli.main import main
from harness.results.store import Store


def save(store: Store, primary: str | None = None) -> None:
    """Three rows whose perplexity and judge AUC rank them in opposite orders."""
    for strategy, ppl, auc, fit_s in (("style-base", (45.0, 40.0, 50.0), (0.60, 0.5, 0.7), 0.0),
                                      ("style-lora", (20.0, 18.0, 22.0), (0.90, 0.85, 0.95), 3000.0),
                                      ("style-few", (30.0, 27.0, 33.0), (0.65, 0.55, 0.75), 0.0)):
        fields = {**interval("hard_judge_auc", *auc), "fit_s": fit_s}
        if primary:
            fields["primary_metric"] = primary
        store.save(generation(strategy, ppl=ppl, **fields), predictions(continuations(strategy)))


def recommend(store: Store, *options: str):
    return CliRunner().invoke(main, ["recommend", "--results", str(store.root), "--task", "verse",
                                     *options])


def test_rows_rank_by_the_tasks_primary_metric_with_their_intervals(tmp_path):
    store = Store(tmp_path / "by-perplexity")
    store.prepare()
    save(store)
    result = recommend(store)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Qualifying, best perplexity first (lower is better) (3):" in lines[1]
    assert lines[2].startswith("  1. style-lora (tiny): perplexity 20.0 [18.0, 22.0]")
    assert "style-few (tiny): perplexity 30.0 [27.0, 33.0]" in lines[4]
    assert "vs #1 +10.000, 95% intervals apart" in lines[4]
    judged = Store(tmp_path / "by-judge")
    judged.prepare()
    save(judged, primary="hard_judge_auc")
    result = recommend(judged, "--explain")
    lines = result.output.splitlines()
    assert "best judge AUC first (lower is better)" in lines[1]
    assert lines[2].startswith("  1. style-base (tiny): judge AUC 0.600 [0.500, 0.700]")
    assert "style-few (tiny): judge AUC 0.650 [0.550, 0.750]" in lines[4]
    assert "95% intervals overlap: not told apart" in lines[4]
    assert "style-base (tiny) is best by judge AUC (lower is better)" in result.output


def test_constraints_and_training_rows_exclude_with_a_reason(tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    save(store)
    result = recommend(store, "--max-fit-usd", "0.05")
    assert result.exit_code == 0, result.output
    assert "  1. style-few (tiny)" in result.output and "style-lora (tiny): training cost (USD)" in \
        result.output
    # Every row was trained on 8 rows (the prompted ones too: their demonstrations' pool)
    fewer = recommend(store, "--n-train", "4")
    assert fewer.exit_code == 1 and "trained on 8 rows, more than the 4 given" in fewer.output
    as_json = json.loads(recommend(store, "--json").output)
    assert as_json["ranked_by"] == "perplexity"
    assert [o["name"] for o in as_json["qualifying"]] == ["style-lora (tiny)", "style-few (tiny)",
                                                            "style-base (tiny)"]
    assert as_json["qualifying"][0]["perplexity_ci_high"] == 22.0


def test_a_minimum_accuracy_is_refused_in_one_line(tmp_path):
    store = Store(tmp_path / "results")
    store.prepare()
    save(store)
    result = recommend(store, "--min-accuracy", "0.5")
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "Error: --min-accuracy is for classification tasks; 'verse' is a generation task, "
        "ranked by its primary metric")


def test_the_report_opens_on_the_same_verdict(tmp_path):
    from harness.recommend.verdict import report_verdict
    from harness.report import write_reports

    store = Store(tmp_path / "results")
    store.prepare()
    save(store, primary="hard_judge_auc")
    write_reports(store, tmp_path / "reports", verdict=report_verdict)
    page = (tmp_path / "reports" / "verse.md").read_text()
    assert "**Recommended: style-base (tiny)**, judge AUC 0.600 [0.500, 0.700]" in page
    assert "Runner-up: style-few (tiny), judge AUC 0.650 [0.550, 0.750], vs #1 +0.050, 95% " \
        "intervals overlap: not told apart." in page
