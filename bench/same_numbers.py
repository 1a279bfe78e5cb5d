"""Does a change of code leave the numbers alone? One `harness run` command run with the code of
another revision (a temporary git worktree) and with this checkout, each into its own folders;
then every record of the other revision matched with this checkout's (task, strategy, model,
seed, inference variant) and compared: accuracy and its interval, macro-F1, calibration, and the
per-row predictions and scores, byte for byte. Last, the command is run again here: a cell
recomputed would say the keys are not stable. Written to bench/results/<name>.json.

    python bench/same_numbers.py --base 3fae6d2 --name move_equivalence -- \
        -s zero-shot,full-finetune -t agnews --n-train 200 --n-eval 100
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from artifact import environment, write_artifact

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "ece", "brier", "nll")
SUMMARY = re.compile(r"(\d+) cells: (\d+) ran, (\d+) already finished")


def run(code: Path, args: list[str], folder: Path) -> dict:
    """`harness run ARGS` with the code under `code`, into `folder`; what its summary line says."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *args,
                           "--out", str(folder / "results"), "--reports", str(folder / "reports")],
                          capture_output=True, text=True, env=env, cwd=code)
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"harness run failed with {code}: {done.stderr[-2000:]}")
    cells, ran, finished = map(int, found.groups())
    return {"cells": cells, "ran": ran, "already_finished": finished}


def records(folder: Path) -> dict[tuple, tuple[dict, pd.DataFrame | None]]:
    found = {}
    for path in sorted((folder / "results").glob("*.json")):
        record = json.loads(path.read_text())
        rows = path.with_name(path.name.replace(".json", ".predictions.csv"))
        key = tuple(record.get(f) for f in ("task", "strategy", "model", "seed", "inference"))
        found[key] = (record, pd.read_csv(rows) if rows.is_file() else None)
    return found


def compare(base: dict, head: dict) -> list[dict]:
    rows = []
    for key, (old, old_rows) in sorted(base.items(), key=str):
        new, new_rows = head.get(key, (None, None))
        row = {"task": key[0], "strategy": key[1], "model": key[2], "seed": key[3],
               "inference": key[4], "key_base": old["key"], "key_head": new and new["key"]}
        if new is None:
            rows.append({**row, "missing_in_head": True})
            continue
        row.update({f"{field}_base": old.get(field) for field in COMPARED})
        row.update({f"{field}_head": new.get(field) for field in COMPARED})
        row["figures_equal"] = all(old.get(f) == new.get(f) for f in COMPARED)
        row["fields_added"] = sorted(set(new) - set(old))
        row["fields_gone"] = sorted(set(old) - set(new))
        if old_rows is not None and new_rows is not None:
            row["predictions_identical"] = bool(old_rows.equals(new_rows))
            row["distinct_predictions"] = int(new_rows["prediction"].nunique())
            row["rows"] = len(new_rows)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--name", default="same_numbers", help="artifact name")
    parser.add_argument("--out", help="artifact path (default bench/results/<name>.json)")
    parser.add_argument("harness_args", nargs=argparse.REMAINDER,
                        help="after --: the arguments of `harness run`")
    args = parser.parse_args()
    harness_args = [a for a in args.harness_args if a != "--"]
    started = environment()
    with tempfile.TemporaryDirectory(prefix="same-numbers-") as scratch:
        work, base_code = Path(scratch), Path(scratch) / "base-code"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_code), args.base],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            base_run = run(base_code, harness_args, work / "base")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_code)], cwd=ROOT,
                           check=False, capture_output=True)
        head_run = run(ROOT, harness_args, work / "head")
        rerun = run(ROOT, harness_args, work / "head")
        rows = compare(records(work / "base"), records(work / "head"))
    head_commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip()
    figures = {"base": args.base, "head": head_commit, "harness_run": harness_args,
               "base_run": base_run, "head_run": head_run, "head_rerun": rerun, "records": rows,
               "all_identical": all(r.get("figures_equal") and r.get("predictions_identical")
                                    for r in rows)}
    path = write_artifact(args.name, args, figures, started)
    for row in rows:
        print(f"{row['strategy']:<18} accuracy {row.get('accuracy_base')} -> "
              f"{row.get('accuracy_head')}  predictions identical: "
              f"{row.get('predictions_identical')} ({row.get('distinct_predictions')} distinct)")
    print(f"rerun: {rerun['ran']} of {rerun['cells']} cells recomputed; {path}")


if __name__ == "__main__":
    main()
