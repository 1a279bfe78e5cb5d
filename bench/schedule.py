"""The training schedule's floor, measured: full-finetune and lora at small training sizes
with `min_steps` (the fewest optimizer steps whatever the rows) set to each value asked, over
several draws of the training rows, on a task other than the one the README reports (so the
default is not chosen on AG News' evaluation rows). 0 is the old schedule (3 epochs: 6 steps at
32 rows). Each value runs as its own `harness run`; the figures are the records' accuracy
(mean and spread over draws), the steps trained and the fit time.

    python bench/schedule.py --task sst2 --floors 0,100,200 --n-train 32,128 --data-seeds 0,1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from artifact import environment, write_artifact

from harness.results.frames import load_results


def run_floor(floor: int, args, out: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "run", "-s", args.strategies,
               "-t", args.task, "--n-train", args.n_train, "--n-eval", str(args.n_eval),
               "--data-seeds", args.data_seeds, "--out", str(out / f"floor{floor}"),
               "--reports", str(out / f"reports{floor}")]
    for strategy in args.strategies.split(","):
        command += ["-c", f"{strategy}.min_steps={floor}"]
    subprocess.run(command, check=True)


def figures(floor: int, out: Path) -> list[dict]:
    records = load_results(out / f"floor{floor}")
    records = records[records["status"] == "ok"]
    rows = []
    for (strategy, n_train), cells in records.groupby(["strategy", "n_train"]):
        accuracy = cells["accuracy"].to_numpy(dtype=float)
        rows.append({"strategy": strategy, "n_train": int(n_train), "min_steps": floor,
                     "draws": len(cells), "accuracy_mean": float(accuracy.mean()),
                     "accuracy_by_draw": [round(a, 4) for a in accuracy],
                     "accuracy_sd": float(accuracy.std(ddof=1)) if len(cells) > 1 else None,
                     "trained_steps": [int(s) for s in cells["footprint_trained_steps"]],
                     "fit_s_mean": float(cells["fit_s"].mean())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--strategies", default="full-finetune,lora")
    parser.add_argument("--floors", default="0,100,200")
    parser.add_argument("--n-train", default="32,128")
    parser.add_argument("--n-eval", type=int, default=300)
    parser.add_argument("--data-seeds", default="0,1")
    parser.add_argument("--runs", help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    started = environment()
    begun = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.runs or scratch)
        rows = []
        for floor in (int(f) for f in args.floors.split(",")):
            run_floor(floor, args, out)
            rows += figures(floor, out)
    for row in rows:
        print(f"{row['strategy']:>14} {row['n_train']:>5} rows  min_steps {row['min_steps']:>4}: "
              f"accuracy {row['accuracy_mean']:.3f} (sd {row['accuracy_sd'] or float('nan'):.3f}"
              f" over {row['draws']} draws), steps {row['trained_steps']}, "
              f"fit {row['fit_s_mean']:.1f} s")
    best = {}
    for row in rows:
        key = (row["strategy"], row["n_train"])
        if key not in best or row["accuracy_mean"] > best[key]["accuracy_mean"]:
            best[key] = row
    write_artifact("schedule", args, {
        "rows": rows, "wall_s": round(time.time() - begun, 1),
        "best_floor": [{"strategy": s, "n_train": n, "min_steps": r["min_steps"]}
                       for (s, n), r in sorted(best.items())],
        "mean_by_floor": {str(f): float(np.mean([r["accuracy_mean"] for r in rows
                                                 if r["min_steps"] == f]))
                          for f in sorted({r["min_steps"] for r in rows})}}, started=started)


if __name__ == "__main__":
    main()
