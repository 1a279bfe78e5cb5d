"""Tuned against untuned on the same rows, from a results folder holding both (`harness run ...
--tune N` and the same command without it): per strategy and training size, the accuracy of
each (pooled over data seeds, with the interval and what it covers), the fit time and cost
(a tuned row's hold the whole search), the settings each tuned record chose with its
validation macro-F1 against the defaults', the paired difference tuned minus untuned, and the
ranking of the strategies each way.

    harness run -s full-finetune,lora -t agnews --n-train 512 --n-eval 500 --out /tmp/t/results
    harness run -s full-finetune,lora -t agnews --n-train 512 --n-eval 500 --tune 8 \\
        --out /tmp/t/results
    python bench/tuning_summary.py --results /tmp/t/results --task agnews --n-train 512 \\
        --run "harness run ... --tune 8" --wall-s 1234
"""

from __future__ import annotations

import argparse

import pandas as pd

from artifact import RESULTS_DIR, environment, write_artifact

from harness.metrics import stats
from harness.recommend.run import finished_records
from harness.report.rows import data_seed
from harness.report.tables import correctness, leaderboard
from harness.results.cost import load_prices
from harness.results.store import Store


def summarize(results: str, task: str, n_train: int, strategies: list[str],
              data_seeds: list[int]) -> dict:
    """Only the records of `data_seeds`: tuned and untuned rows pool the same draws."""
    store = Store(results)
    ok = finished_records(store, task, load_prices(None), strict=True)
    ok = ok[(ok["n_train"] == n_train) & ok["strategy"].isin(strategies)
            & data_seed(ok).isin(data_seeds)]
    board = leaderboard(ok, store)
    rows, pairs = [], []
    for strategy in strategies:
        mine = board[board["strategy"] == strategy]
        untuned, tuned = mine[mine["tune"] == 0], mine[mine["tune"] > 0]
        for _, row in mine.iterrows():
            records = ok[ok["key"].isin(row["keys"])]
            searches = [r for r in records.get("tuning", pd.Series(dtype=object))
                        if isinstance(r, dict)]
            rows.append({
                "strategy": strategy, "tune": int(row["tune"]), "row": row["row"],
                "accuracy": [float(row["accuracy"]), float(row["accuracy_ci_low"]),
                             float(row["accuracy_ci_high"])],
                "interval": row["interval"], "data_seeds": int(row["data_seeds"]),
                "fit_s": float(row["fit_s"]), "fit_cost_usd": float(row["fit_cost_usd"]),
                "chosen": [s["chosen"] for s in searches],
                "validation_default": [s["default_value"] for s in searches],
                "validation_best": [s["best_value"] for s in searches]})
        if len(untuned) and len(tuned):
            a, b = tuned.iloc[0], untuned.iloc[0]
            diff = stats.paired_difference(stats.Clustered.of(correctness(a, ok, store)),
                                           stats.Clustered.of(correctness(b, ok, store)))
            pairs.append({"strategy": strategy, "diff": diff.diff, "low": diff.low,
                          "high": diff.high, "p": diff.p,
                          "verdict": stats.verdict(diff.p, bool(a["conditional"])
                                                   or bool(b["conditional"]))})

    def ranking(tuned: bool) -> list[str]:
        chosen = [r for r in rows if (r["tune"] > 0) == tuned]
        return [r["strategy"] for r in sorted(chosen, key=lambda r: -r["accuracy"][0])]

    return {"task": task, "n_train": n_train, "n_eval": int(board["n_eval"].iloc[0]),
            "rows": rows, "tuned_minus_untuned": pairs,
            "ranking_untuned": ranking(False), "ranking_tuned": ranking(True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--task", default="agnews")
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--strategies", default="full-finetune,lora,qlora")
    parser.add_argument("--data-seeds", default="0", help="the draws both runs made")
    parser.add_argument("--run", required=True, help="the commands that made the records")
    parser.add_argument("--wall-s", type=float, required=True, help="the tuned run's seconds")
    parser.add_argument("--out", default=str(RESULTS_DIR / "tuning.json"),
                        help="the artifact (several are shown one after another)")
    args = parser.parse_args()
    started = environment()
    figures = {**summarize(args.results, args.task, args.n_train, args.strategies.split(","),
                           [int(d) for d in args.data_seeds.split(",")]),
               "run": args.run, "wall_s": args.wall_s}
    print(f"wrote {write_artifact('tuning', args, figures, started)}")
    for row in figures["rows"]:
        print(row["row"], row["accuracy"], row["fit_s"], row["chosen"])
    print("untuned:", figures["ranking_untuned"], "tuned:", figures["ranking_tuned"])


if __name__ == "__main__":
    main()
