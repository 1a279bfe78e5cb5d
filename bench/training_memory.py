"""Where training memory goes: `harness run` once per configuration (a checkout of the code
and/or settings: one change at a time), and per record the RSS above the process's baseline
per phase (load, fit, setup, predict) and at the points of a training step the runner's probe
marks (strategies/trainer.py: step start, after the loss (the forward pass), after the backward,
after the optimizer), beside the tensor sizes those points hold (weights, gradients and AdamW's
two moments of the trainable parameters).

    python bench/training_memory.py \\
        --config "before|/work/wt/before|" \\
        --config "no checkpointing|.|-c lora.gradient_checkpointing=off" \\
        --config "after|.|" \\
        -- -s full-finetune,lora,qlora -t shakespeare --n-train 64 --n-eval 16

Each configuration is `label|checkout|extra harness run arguments|NAME=VALUE ...` (environment
variables, e.g. HARNESS_MMAP_THRESHOLD=0 for glibc's own allocator policy); the checkout is put
first on PYTHONPATH (a worktree of an earlier commit measures the code before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact

BIN = Path(sys.executable).parent
MIB = 2**20
PHASES = ("load", "fit", "setup", "predict")
MARKS = ("train_step_start", "train_after_loss", "train_after_backward",
         "train_after_optimizer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True,
                        help="label|checkout|extra harness run arguments|NAME=VALUE ...")
    parser.add_argument("--project", action="append", default=[],
                        help="label|harness project arguments: the cost model's training memory "
                             "for the configuration of that label, beside what it measured")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the configurations an earlier call measured in --work")
    parser.add_argument("--name", default="training_memory")
    parser.add_argument("--work", help="results folders go here (default: a temporary one)")
    parser.add_argument("--out", help="the artifact's path (default bench/results/<name>.json)")
    if "--" not in sys.argv:
        raise SystemExit("give the `harness run` arguments after --")
    at = sys.argv.index("--")
    args = parser.parse_args(sys.argv[1:at])
    args.runs = shlex.join(sys.argv[at + 1:])
    started = environment()
    work = Path(args.work or tempfile.mkdtemp(prefix="training-memory-"))
    configs = []
    for number, spec in enumerate(args.config):
        label, checkout, extra, variables = (spec.split("|") + ["", "", ""])[:4]
        env = dict(word.split("=", 1) for word in shlex.split(variables))
        results = work / f"config{number}"
        done = results / "run.json"
        if args.reuse and done.is_file():  # measured by an earlier call on the same --work
            run = json.loads(done.read_text())
        else:
            run = _run(sys.argv[at + 1:] + shlex.split(extra), Path(checkout).resolve(), results,
                       env)
            results.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(run))
        configs.append({"label": label, "checkout": str(Path(checkout).resolve()),
                        "commit": _commit(Path(checkout)), "extra": extra, "env": env, **run,
                        "records": records(results / "results")})
    for spec in args.project:
        label, arguments = spec.split("|", 1)
        (config,) = [c for c in configs if c["label"] == label]
        config["projected"] = project(shlex.split(arguments), work / f"projected-{label}.json")
        config["projected_arguments"] = arguments
        for record in config["records"]:
            row = next((r for r in config["projected"] if r["strategy"] == record["strategy"]),
                       None)
            if row and record["status"] == "ok":
                record["projected_train_mib"] = round(row["train_memory_gib"] * 1024, 1)
                record["measured_over_projected"] = round(
                    record["phases_mib"]["fit"] / record["projected_train_mib"], 3)
    path = write_artifact(args.name, args, {"configs": configs}, started)
    print(table(configs))
    print(f"-> {path}")
    return 0 if all(c["exit_code"] == 0 for c in configs) else 1


def _run(arguments: list[str], checkout: Path, folder: Path, variables: dict) -> dict:
    command = [str(BIN / "harness"), "run", *arguments, "--out", str(folder / "results"),
               "--reports", str(folder / "reports")]
    env = {**os.environ, **variables, "PYTHONPATH": os.pathsep.join(
        [str(checkout), *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                          cwd=checkout)
    print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", flush=True)
    return {"command": "harness run " + shlex.join(arguments), "exit_code": done.returncode,
            "wall_s": round(time.monotonic() - started, 1)}


def project(arguments: list[str], json_path: Path) -> list[dict]:
    """`harness project` rows (this checkout's cost model) for the arguments given."""
    command = [str(BIN / "harness"), "project", *arguments, "--json", str(json_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"harness project failed: {done.stderr[-2000:]}")
    return [row for row in json.loads(json_path.read_text())["rows"]]


def _commit(checkout: Path) -> str | None:
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                         cwd=checkout, check=False)
    return out.stdout.strip() or None


def records(results: Path) -> list[dict]:
    """Per record: phase peaks and marks above the baseline (MiB), and the tensor sizes."""
    from harness.results.frames import load_results

    if not results.is_dir():
        return []
    out = []
    for _, r in load_results(results).iterrows():
        if r.get("status") != "ok":
            out.append({"strategy": r["strategy"], "status": r.get("status"),
                        "error": r.get("error")})
            continue
        base = float(r["rss_baseline_bytes"])

        def above(field):
            value = r.get(field)
            return None if value is None or value != value else round((value - base) / MIB, 1)

        trainable = int(r["trainable_params"])
        out.append({
            "strategy": r["strategy"], "status": "ok", "n_train": int(r["n_train"]),
            "rss_baseline_mib": round(base / MIB, 1),
            "above_baseline_mib": round(float(r["rss_above_baseline_bytes"]) / MIB, 1),
            "phases_mib": {p: above(f"rss_peak_{p}_bytes") for p in PHASES},
            # RSS less file-backed pages (mapped weights in the page cache); None before it
            "anon_phases_mib": {p: _anon_above(r, p) for p in PHASES},
            "marks_mib": {m: above(f"rss_mark_{m}_bytes") for m in MARKS},
            "tensors_mib": {
                "weights": round(float(r["weight_bytes"]) / MIB, 1),
                "gradients": round(trainable * 4 / MIB, 1),  # float32, as trained here
                "adamw_moments": round(2 * trainable * 4 / MIB, 1)},
            "trainable_params": trainable, "fit_s": round(float(r["fit_s"]), 1),
            "cpu_threads": _int(r.get("cpu_threads")),
            "malloc_mmap_threshold_bytes": _int(r.get("malloc_mmap_threshold_bytes")),
            "trained_steps": _int(r.get("footprint_trained_steps")),
            "perplexity": _float(r.get("perplexity")),
            "accuracy": _float(r.get("accuracy")),
            "config": r.get("config")})
    return out


def _anon_above(record, phase: str):
    peak, base = record.get(f"rss_anon_peak_{phase}_bytes"), record.get("rss_anon_baseline_bytes")
    if peak is None or base is None or peak != peak or base != base:
        return None
    return round((peak - base) / MIB, 1)


def _int(value):
    return None if value is None or value != value else int(value)


def _float(value):
    return None if value is None or value != value else float(value)


def table(configs: list[dict]) -> str:
    lines = ["config | strategy | above baseline | fit peak | step start | after loss | "
             "after backward | after optimizer | fit s | projected (MiB)"]
    for config in configs:
        for r in config["records"]:
            if r["status"] != "ok":
                lines.append(f"{config['label']} | {r['strategy']} | {r['status']}: "
                             f"{r.get('error')}")
                continue
            marks = [r["marks_mib"][m] for m in MARKS]
            lines.append(" | ".join(str(x) for x in (
                config["label"], r["strategy"], r["above_baseline_mib"], r["phases_mib"]["fit"],
                *marks, r["fit_s"], r.get("projected_train_mib"))))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
