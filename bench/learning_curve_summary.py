"""The figures of a learning-curve run, from its records, as an artifact the README's table is
generated from (bench/readme_figures.py): per curve and training size the accuracy with its
interval, fit time and cost; the crossovers with their intervals; the published anchors; and
`harness recommend` answers for the constraint sets given.

    harness run -s zero-shot,few-shot,tfidf-logreg,embedding-probe,full-finetune,lora \\
        -t agnews --n-train 32,128,512,2000 --n-eval 500 --out /tmp/lc/results
    python bench/learning_curve_summary.py --results /tmp/lc/results --task agnews \\
        --run "harness run ... " --wall-s 2345
"""

from __future__ import annotations

import argparse

import pandas as pd

from artifact import RESULTS_DIR, environment, write_artifact

from harness.report.anchors import anchors_for
from harness.results.cost import load_prices
from harness.errors import HarnessError
from harness.recommend.run import finished_records
from harness.report.curves import crossovers, learning_curves
from harness.report.tables import leaderboard
from harness.results.store import Store


def summarize(results: str, task: str) -> dict:
    store = Store(results)
    try:
        ok = finished_records(store, task, load_prices(None), strict=True)
    except HarnessError as err:
        raise SystemExit(str(err)) from None
    curves = learning_curves(leaderboard(ok, store))
    if curves is None:
        raise SystemExit(f"the records of '{task}' hold no curve with two training sizes")
    points = [{"curve": row["curve"], "strategy": row["strategy"], "model": row["model"],
               "n_train": int(row["n_train"]), "flat": bool(row["flat"]),
               "accuracy": [float(row["accuracy"]), float(row["accuracy_ci_low"]),
                            float(row["accuracy_ci_high"])],
               "trials": int(row["trials"]), "data_seeds": int(row["data_seeds"]),
               "seeds": int(row["seeds"]), "conditional": bool(row["conditional"]),
               "interval": row["interval"],
               "n_per_class": (int(row["n_per_class"]) if pd.notna(row.get("n_per_class"))
                               else None),
               "fit_s": float(row["fit_s"]),
               "fit_cost_usd": float(row["fit_cost_usd"]),
               "predict_cost_usd_per_1k": float(row["predict_cost_usd_per_1k"]),
               "latency_p95_ms": float(row["latency_p95_ms"])}
              for _, row in curves.iterrows()]
    crossings = crossovers(curves, ok, store)
    crossing_rows = [{"leader": row["leader"], "other": row["other"],
                      "crossing_rows": float(row["crossing_rows"]), "low": float(row["low"]),
                      "high": float(row["high"]),
                      "significant_from": (int(row["significant_from"])
                                           if pd.notna(row["significant_from"]) else None),
                      "diff_at_largest": [float(row["diff"]), float(row["diff_low"]),
                                          float(row["diff_high"])],
                      "largest": int(row["sizes"][-1]), "covers": row["covers"],
                      "conditional": bool(row["conditional"])}
                     for _, row in crossings.iterrows()]
    anchors = [{"model": model, "n_train": a.n_train, "n_per_class": a.n_per_class,
                "accuracy": a.accuracy, "std": a.std, "method": a.method, "source": a.source}
               for model in dict.fromkeys(curves["model"]) for a in anchors_for(task, model)]
    return {"task": task, "n_eval": int(curves["n_eval"].iloc[0]), "points": points,
            "crossovers": crossing_rows, "anchors": anchors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="the run's results folder")
    parser.add_argument("--task", required=True)
    parser.add_argument("--run", required=True, help="the command that made the records")
    parser.add_argument("--wall-s", type=float, required=True, help="the run's wall seconds")
    parser.add_argument("--name", help="artifact name (default learning_curve_<task>)")
    parser.add_argument("--stopped", action="store_true",
                        help="the run was stopped before its last cell: the figures say so")
    args = parser.parse_args()
    started = environment()
    figures = {**summarize(args.results, args.task), "run": args.run, "wall_s": args.wall_s,
               "complete": not args.stopped}
    args.out = RESULTS_DIR / f"{args.name or 'learning_curve_' + args.task}.json"
    print(f"wrote {write_artifact('learning_curve', args, figures, started)}")
    for point in figures["points"]:
        print(f"{point['curve']:<48} {point['n_train']:>5} {point['accuracy'][0]:.3f}")
    for row in figures["crossovers"]:
        print(f"{row['leader']} overtakes {row['other']} from {row['crossing_rows']:.0f} rows")


if __name__ == "__main__":
    main()
