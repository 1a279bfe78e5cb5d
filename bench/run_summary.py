"""Run `harness run` commands into one fresh results folder and keep what their records say
(accuracy and interval, change against the default predictions, agreement, latency,
throughput, memory, sizes, cost per 1,000 predictions, footprint extras) as an artifact, so the
README's tables of these runs are generated from measurements (bench/readme_figures.py).

    python bench/run_summary.py inference_variants -- -s full-finetune,lora -t agnews \
        --inference fp32,bf16,int8,merged
    python bench/run_summary.py demo_selection -- -s few-shot -t agnews \
        -c few-shot.selector=random --then -s few-shot -t agnews -c few-shot.selector=knn-embed
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact

BIN = Path(sys.executable).parent
FIELDS = ("task", "strategy", "model", "seed", "status", "error", "inference", "inference_of",
          "labels", "n_train", "n_eval", "eval_fingerprint", "accuracy", "accuracy_ci_low",
          "accuracy_ci_high", "macro_f1",
          "accuracy_delta", "accuracy_delta_ci_low", "accuracy_delta_ci_high",
          "prediction_agreement", "fit_s", "load_s", "conversion_s", "predict_s", "trials",
          "latency_p50_ms", "latency_p95_ms", "throughput_eps", "rss_above_baseline_bytes",
          "rss_peak_bytes", "weight_bytes", "disk_bytes", "artifact_bytes", "cpu_threads",
          "fit_cost_usd", "predict_cost_usd_per_1k", "usd_per_hour", "config", "key",
          "confusion_matrix")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="The artifact: bench/results/<name>.json")
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--work", help="The results folder goes here (default: a temporary one)")
    parser.add_argument("--out", help="The artifact's path (default bench/results/<name>.json)")
    parser.add_argument("--earlier", help="What made the records already in --work (the runs "
                                          "listed are only this invocation's), said as given")
    ours, words = _split(sys.argv[1:])
    args = parser.parse_args(ours)
    args.runs = " ".join(words)
    started = environment()
    work = Path(args.work or tempfile.mkdtemp(prefix=f"{args.name}-"))
    commands, current = [], []
    for word in words + ["--then"]:
        if word == "--then":
            commands.append(current)
            current = []
        else:
            current.append(word)
    runs = [_run(command, work, args.data_dir) for command in commands if command]
    if not (work / "results").is_dir():  # no run got as far as its first record
        raise SystemExit(f"no results in {work}: every run failed (its output is above)")
    records = summarize(work / "results")
    figures = {"runs": runs, "records": records, "paired": paired(work / "results", records),
               **({"earlier": args.earlier} if args.earlier else {})}
    path = write_artifact(args.name, args, figures, started)
    print(f"{len(records)} records -> {path}")
    return 0 if all(run["exit_code"] == 0 for run in runs) else 1


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """This script's arguments, and after `--` the runs' (`--then` between runs)."""
    if "--" not in argv:
        raise SystemExit("give the `harness run` arguments after --")
    at = argv.index("--")
    return argv[:at], argv[at + 1:]


def _run(arguments: list[str], work: Path, data_dir: str | None) -> dict:
    command = [str(BIN / "harness"), "run", *arguments, "--out", str(work / "results"),
               "--reports", str(work / "reports")]
    env = {**os.environ, **({"HARNESS_DATA_DIR": data_dir} if data_dir else {})}
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    print(done.stdout, done.stderr[-3000:], sep="\n", flush=True)
    return {"command": "harness run " + " ".join(arguments), "exit_code": done.returncode,
            "wall_s": round(time.monotonic() - started, 1),
            "output": [line for line in done.stdout.splitlines() if line.strip()][-40:]}


def summarize(results: Path) -> list[dict]:
    from harness.results.cost import load_prices, price_records
    from harness.results.frames import load_results

    frame = price_records(load_results(results), load_prices(None))
    rows = []
    for _, record in frame.iterrows():
        row = {field: _plain(record.get(field)) for field in FIELDS}
        # What the strategy reports, and what the runner's probe measured inside its phases
        row.update({column: _plain(record[column]) for column in frame.columns
                    if column.startswith(("footprint_", "span_", "rss_peak_span_",
                                          "rss_mark_"))})
        rows.append(row)
    return rows


def paired(results: Path, records: list[dict]) -> list[dict]:
    """Accuracy of every ok record minus every other's scored on the same rows, paired over the
    rows and every trial of each (harness.metrics.stats.paired_difference), as the report
    compares."""
    import itertools

    import numpy as np

    from harness.metrics import stats
    from harness.results.frames import load_predictions

    def correctness(record):
        frame = load_predictions(results, record["key"])
        trials = [c for c in frame.columns if c.startswith("prediction")]
        return stats.Clustered.of(np.array([frame[c] == frame["label"] for c in trials]))

    ok = [r for r in records if r["status"] == "ok"]
    found = {r["key"]: correctness(r) for r in ok}
    out = []
    for a, b in itertools.permutations(ok, 2):
        if (a["task"], a["eval_fingerprint"]) != (b["task"], b["eval_fingerprint"]):
            continue
        change = stats.paired_difference(found[a["key"]], found[b["key"]])
        out.append({"a": a["key"], "b": b["key"], "diff": change.diff, "low": change.low,
                    "high": change.high, "p": change.p})
    return out


def _plain(value):
    if isinstance(value, float) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":
    sys.exit(main())
