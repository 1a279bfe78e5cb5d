"""The same grid on the local executor and on a Ray cluster started with `ray start --head` on
this machine, one after the other: wall time of each, and the records compared key by key
(predictions, accuracy and the other numbers must match; timings may not).

    python bench/executor_compare.py --data-dir ../shared/data            # the issue's grid
    python bench/executor_compare.py -s tfidf-logreg -t agnews --n-eval 200 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact

BIN = Path(sys.executable).parent
NUMBERS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "ece", "brier", "nll")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("-s", "--strategies", default="tfidf-logreg,embedding-probe,zero-shot")
    parser.add_argument("-t", "--tasks", default="agnews,sst2")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--n-eval", help="Evaluation rows (default: the quick profile's).")
    parser.add_argument("--cpus", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--work", help="Results folders go here (default: a temporary one).")
    parser.add_argument("--out", help="The artifact (default bench/results/executor_compare.json).")
    parser.add_argument("--ray-resources", action="append", default=[], metavar="FIELD=N",
                        help="--resources for the Ray run, e.g. cpus=2 (one cell at a time, "
                             "as many threads as the local run). Repeatable.")
    parser.add_argument("--reuse-local", action="store_true",
                        help="Compare with the local run already in --work (its run.json).")
    parser.add_argument("--compare-only", action="store_true",
                        help="Run nothing: compare the two runs already in --work.")
    args = parser.parse_args()
    started_env = environment(("ray",))
    work = Path(args.work or tempfile.mkdtemp(prefix="executor-compare-"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HARNESS_DATA_DIR": args.data_dir}
    grid = ["-s", args.strategies, "-t", args.tasks, "--seeds", args.seeds,
            *(["--n-eval", args.n_eval] if args.n_eval else [])]
    ray_run = "ray" + "".join(f"-{r}" for r in args.ray_resources).replace("=", "")
    ray_args = ["--executor", "ray", "--ray-address", "auto",
                *[a for r in args.ray_resources for a in ("--resources", r)]]
    if args.reuse_local or args.compare_only:
        runs = {"local": json.loads((work / "local" / "run.json").read_text())}
    else:
        runs = {"local": _run(grid, work / "local", [], env)}
    if args.compare_only:
        runs["ray"] = json.loads((work / ray_run / "run.json").read_text())
    else:
        _ray(["start", "--head", f"--num-cpus={args.cpus}", "--include-dashboard=false"], env)
        try:
            runs["ray"] = _run(grid, work / ray_run, ray_args, env)
        finally:
            _ray(["stop", "--force"], env)
    cells = compare(work / "local", work / ray_run)
    result = {"command": f"harness run {' '.join(grid)}", "ray_options": " ".join(ray_args),
              "cpus": args.cpus, "runs": runs,
              "wall_ratio_local_over_ray": round(runs["local"]["wall_s"] / runs["ray"]["wall_s"],
                                                 2),
              "cells": cells, "identical_predictions": all(c["same_predictions"] for c in cells),
              "identical_numbers": all(c["same_numbers"] for c in cells)}
    path = write_artifact("executor_compare", args, result, started_env)
    print(f"local {runs['local']['wall_s']:.0f} s, ray {runs['ray']['wall_s']:.0f} s "
          f"(local / ray = {result['wall_ratio_local_over_ray']}); {len(cells)} cells, "
          f"predictions identical: {result['identical_predictions']}, numbers identical: "
          f"{result['identical_numbers']} -> {path}")
    return 0 if result["identical_predictions"] else 1


def _run(grid: list[str], out: Path, executor: list[str], env: dict) -> dict:
    command = [str(BIN / "harness"), "run", *grid, *executor, "--out", str(out / "results"),
               "--reports", str(out / "reports")]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall_s = time.monotonic() - started
    print(done.stdout, done.stderr, sep="\n", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}")
    summary = next(line for line in done.stdout.splitlines() if " cells: " in line)
    run = {"wall_s": round(wall_s, 1), "summary": summary}
    (out / "run.json").write_text(json.dumps(run))  # for --reuse-local / --compare-only
    return run


def _ray(arguments: list[str], env: dict) -> None:
    subprocess.run([str(BIN / "ray"), *arguments], env=env, check=True, capture_output=True)


def compare(local: Path, ray: Path) -> list[dict]:
    from harness.results.store import Store

    first, second = ({r["key"]: r for r in Store(p / "results").records(strict=True)}
                     for p in (local, ray))
    if sorted(first) != sorted(second):
        raise SystemExit(f"different cells: {sorted(set(first) ^ set(second))}")
    cells = []
    for key in sorted(first):
        a, b = first[key], second[key]
        pa, pb = (pd.read_csv(Store(p / "results").predictions_path(key)) for p in (local, ray))
        scores = [c for c in pa.columns if c.startswith("score_")]
        cells.append({
            "key": key, "strategy": a["strategy"], "task": a["task"],
            "accuracy": [a["accuracy"], b["accuracy"]],
            # A cell on 1 thread sums in another order than on 2: equal to rounding, not bits.
            "max_number_difference": max(abs(a[n] - b[n]) for n in NUMBERS),
            "same_numbers": all(abs(a[n] - b[n]) <= 1e-9 for n in NUMBERS),
            "same_predictions": bool((pa["prediction"] == pb["prediction"]).all()),
            "rows": len(pa), "differing_rows": int((pa["prediction"] != pb["prediction"]).sum()),
            "max_score_difference": float(np.abs(pa[scores].to_numpy()
                                                 - pb[scores].to_numpy()).max()),
            "wall_s": [round(a["wall_s"], 1), round(b["wall_s"], 1)],
            "fit_s": [round(a["fit_s"], 2), round(b["fit_s"], 2)],
            "cpu_threads": [a["cpu_threads"], b["cpu_threads"]],
            "executor": [a["executor"], b["executor"]], "attempts": b.get("attempts")})
    return cells


if __name__ == "__main__":
    sys.exit(main())
