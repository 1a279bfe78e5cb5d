"""bf16 against float32 on the same cells: `harness run` twice into one results folder, with
`--precision fp32` and with `--precision bf16`, then per strategy the two records side by side:
accuracy, the paired difference over the same rows and trials (harness.metrics.stats), the
share of identical first-trial predictions (on predictions that are not all one label), and the
fit, prediction and latency seconds with their ratio, and whether a phase was timed on a busy
machine. Written to bench/results/<name>.json; the README's table is generated from it.

    python bench/precision_compare.py --work /work/runs/prec -- \
        -s zero-shot,few-shot,full-finetune,lora,instruction-tuned -t agnews
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact  # noqa: E402
from run_summary import _run  # noqa: E402

PRECISIONS = ("fp32", "bf16")
TIMES = ("load_s", "fit_s", "predict_s", "latency_p50_ms", "throughput_eps")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="precision_compare")
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--work", help="The results folder goes here (default: a temporary one)")
    parser.add_argument("--compare-only", action="store_true",
                        help="run nothing: pair the records already in --work (the newest of "
                             "each precision)")
    parser.add_argument("--made-by", help="with --compare-only: the runs that made the records, "
                                          "said as given")
    if "--" not in sys.argv:
        raise SystemExit("give the `harness run` arguments after --")
    at = sys.argv.index("--")
    args = parser.parse_args(sys.argv[1:at])
    args.runs = " ".join(sys.argv[at + 1:])
    started = environment()
    work = Path(args.work or tempfile.mkdtemp(prefix="precision-"))
    runs = [] if args.compare_only else [
        _run([*sys.argv[at + 1:], "--precision", precision], work, args.data_dir)
        for precision in PRECISIONS]
    pairs = compare(work / "results")
    figures = {"runs": runs, "pairs": pairs, **({"made_by": args.made_by} if args.made_by else {})}
    path = write_artifact(args.name, args, figures, started)
    print(f"{len(pairs)} strategies compared -> {path}")
    return 0 if all(run["exit_code"] == 0 for run in runs) else 1


def compare(results: Path) -> list[dict]:
    """Per (task, strategy, rows): the fp32 record and the bf16 one, the newest of each."""
    from harness.results.store import Store

    records = {}
    for record in sorted(Store(results).records(), key=lambda r: r.get("started_at", "")):
        if record["status"] == "ok" and record.get("inference", "default") == "default":
            precision = record.get("precision", "fp32")
            group = (record["task"], record["strategy"], record["eval_fingerprint"],
                     record.get("train_fingerprint"), record["seed"])
            records[group + (precision,)] = record
    out = []
    for group in sorted({key[:-1] for key in records}):
        fp32, bf16 = records.get(group + ("fp32",)), records.get(group + ("bf16",))
        if fp32 is None or bf16 is None:
            continue
        out.append(_pair(results, fp32, bf16))
    return out


def _pair(results: Path, fp32: dict, bf16: dict) -> dict:
    from harness.results.compare import accuracy_change
    from harness.results.frames import load_predictions

    change = accuracy_change(*(load_predictions(results, record["key"])
                               for record in (fp32, bf16)))
    row = {"task": fp32["task"], "strategy": fp32["strategy"], "n_eval": fp32["n_eval"],
           "n_train": fp32["n_train"], "trials": fp32.get("trials", 1),
           "accuracy_fp32": fp32["accuracy"], "accuracy_bf16": bf16["accuracy"],
           "accuracy_delta": change["difference"], "accuracy_delta_low": change["low"],
           "accuracy_delta_high": change["high"], "accuracy_delta_p": change["p"],
           "interval_covers": "rows and trials, paired (bf16 minus fp32)",
           "identical_predictions": change["identical_predictions"],
           "most_predicted_share": change["most_predicted_share"],
           "keys": [fp32["key"], bf16["key"]],
           "busy": [bool(fp32.get("machine_busy")), bool(bf16.get("machine_busy"))],
           "cpu_threads": [fp32.get("cpu_threads"), bf16.get("cpu_threads")]}
    # Timings compare the precisions only when nothing else changed: the same code, threads
    # and a quiet machine on both sides
    row["same_code"] = all(fp32["code"].get(k) == bf16["code"].get(k)
                           for k in ("sources_sha", "harness_sha"))
    timed_alike = row["same_code"] and row["cpu_threads"][0] == row["cpu_threads"][1] \
        and not any(row["busy"])
    for name in TIMES:
        a, b = fp32.get(name), bf16.get(name)
        row[name] = [a, b]
        if a and b and a > 0.5 and name != "throughput_eps" and timed_alike:
            row[f"{name}_ratio"] = b / a  # bf16 over fp32: below 1 is faster
    return row


if __name__ == "__main__":
    sys.exit(main())
