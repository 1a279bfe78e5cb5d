"""The figures of a generation run, from its records, as an artifact the README's table is
generated from (bench/readme_figures.py): per strategy the metrics with their intervals, the
sizes, fit and generation speed, the style judges' own figures, which pairs of strategies each
metric resolves (non-overlapping intervals), and one prompt continued by every strategy.

    harness run --strategies all --task shakespeare --out /tmp/run/results
    python bench/generation_summary.py --results /tmp/run/results --task shakespeare \\
        --run "harness run --strategies all --task shakespeare" --wall-s 1234
"""

from __future__ import annotations

import argparse

import numpy as np

from artifact import RESULTS_DIR, environment, write_artifact

from harness.results.frames import load_predictions, load_results
from harness.metrics.style_judge import style_judge
from harness.inputs.tasks import get_task

METRICS = ("perplexity", "style_accuracy", "fluency_perplexity", "distinct_1", "distinct_2",
           "repetition_rate", "chrf")
# The metrics that tell a strategy's text from real text (records from Step 18 on)
APART = ("two_sample_accuracy", "mauve", "hard_judge_auc", "hard_judge_log_odds")
PLAIN = ("n_train", "n_eval", "trials", "fit_s", "predict_s", "tokens_per_s", "ms_per_token",
         "ttft_ms", "generated_tokens_mean", "wall_s", "rss_above_baseline_bytes",
         "trainable_params", "style_score")
JUDGE = ("style_judge_accuracy", "style_judge_accuracy_ci_low", "style_judge_accuracy_ci_high",
         "style_judge_n_heldout", "style_judge_on_reference", "style_judge_on_contrast",
         "hard_judge_cv_auc", "hard_judge_n_positive", "hard_judge_n_negative")


def resolved(rows: list[dict]) -> dict:
    """Per metric, the pairs of strategies whose 95% intervals do not overlap (a conservative
    reading: non-overlap implies a difference at well under 5%; overlap does not rule one
    out), and how many pairs there are."""
    out = {}
    for name in ("perplexity", "style_accuracy", *APART):
        having = [row for row in rows if name in row and all(np.isfinite(row[name]))]
        pairs = [[a["strategy"], b["strategy"]] for i, a in enumerate(having)
                 for b in having[i + 1:]
                 if a[name][2] < b[name][1] or b[name][2] < a[name][1]]
        out[name] = {"pairs": len(having) * (len(having) - 1) // 2, "apart": pairs}
    return out


def summarize(results: str, task: str, data_dir: str | None = None) -> dict:
    """`task`: a task name or task file."""
    definition = get_task(task)
    task = definition.name
    records = load_results(results)
    ok = records[(records["task"] == task) & (records["status"] == "ok")]
    if ok.empty:
        raise SystemExit(f"no finished records of task '{task}' in {results}")
    rows, continuations = [], {}
    for _, record in ok.sort_values("strategy").iterrows():
        row = {"strategy": record["strategy"], "model": record["model"],
               "backend": record["backend"], "seed": int(record["seed"])}
        for name in METRICS + tuple(m for m in APART if m in record and record[m] == record[m]):
            row[name] = [float(record[name]), float(record[f"{name}_ci_low"]),
                         float(record[f"{name}_ci_high"])]
        if "hard_judge_reference_log_odds" in record:
            row["hard_judge_reference_log_odds"] = float(record["hard_judge_reference_log_odds"])
        row.update({name: record[name] for name in PLAIN if name in record})
        rows.append(row)
        frame = load_predictions(results, record["key"])
        row["style_probability_median"] = float(frame["style_probability"].median())
        first = frame.sort_values("index").iloc[0]
        continuations[record["strategy"]] = first["prediction"]
    judge = ok.iloc[0]
    # The judge on real text of a continuation's length: the references' first words.
    words = round(float(ok["generated_tokens_mean"].mean()) * 0.7)  # ~0.7 words per token
    windows = [" ".join(text.split()[:words]) for text in frame["reference"]]
    on_real = style_judge(definition, data_dir).probability(windows)
    return {"task": task, "rows": rows, "resolved": resolved(rows),
            "judge": {name: float(judge[name]) for name in JUDGE if name in judge},
            "judge_on_reference_windows": {"words": words,
                                           "median_probability": float(np.median(on_real)),
                                           "share_in_style": float((on_real > 0.5).mean())},
            "example": {"prompt": first["prompt"], "reference": first["reference"],
                        "continuations": continuations}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="the run's results folder")
    parser.add_argument("--task", default="shakespeare", help="a task name or task file")
    parser.add_argument("--data-dir", help="the task's data folder (default $HARNESS_DATA_DIR)")
    parser.add_argument("--run", required=True, help="the command that made the records")
    parser.add_argument("--wall-s", type=float, required=True, help="the run's wall seconds")
    parser.add_argument("--name", default="shakespeare_quick", help="artifact name")
    args = parser.parse_args()
    started = environment()
    figures = {**summarize(args.results, args.task, args.data_dir), "run": args.run, "wall_s": args.wall_s}
    args.out = RESULTS_DIR / f"{args.name}.json"
    print(f"wrote {write_artifact('generation_run', args, figures, started)}")
    for row in figures["rows"]:
        print(f"{row['strategy']:<18} perplexity {row['perplexity'][0]:8.2f} "
              f"style {row['style_accuracy'][0]:.3f} chrF {row['chrf'][0]:.1f} " + " ".join(
                  f"{name} {row[name][0]:.3f}" for name in APART if name in row))
    for name, found in figures["resolved"].items():
        print(f"{name}: {len(found['apart'])} of {found['pairs']} pairs apart")


if __name__ == "__main__":
    main()
