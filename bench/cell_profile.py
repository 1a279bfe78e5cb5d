"""Where a run's time goes, cell by cell: a `harness run` (or `make run`) under py-spy, every
process sampled with its native frames, and for each cell process the share of its wall time
spent in model kernels, beside the cell's record (strategy, phase seconds, accuracy).

A sample is one look at the cell process's main thread. It is *in the model* when a torch module
is being called, autograd runs a backward or an optimizer steps; *in model kernels* when, in
the model, the innermost frame is native code other than the Python interpreter's (a matmul, a
copy, an OpenMP barrier waiting for the op's other threads, a oneDNN kernel generated at run
time, which has no library); the rest of the model's samples are Python overhead (module
calls, hooks). Everything else is the cell's own work: process start and
imports, loading the model, tokenizing, latency sampling between forwards, writing.

Cells are matched to records by order and by code: the local executor starts one process per
cell, in the order the records' `started_at` give, and a record goes to the first process left
that ran its strategy's module (`ran_strategy_module` in the artifact says whether one did).

    python bench/cell_profile.py --name quick_profile_after -- make run
    python bench/cell_profile.py --results results -- harness run -s zero-shot -t agnews

py-spy (`pip install py-spy`) samples from its own process at --rate per second; at 20 the
sampler's own CPU is well under 1% of a core.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from artifact import environment, write_artifact  # noqa: E402

MODEL_FRAMES = ("_call_impl (torch/nn/modules/module.py", "_engine_run_backward (",
                "run_backward (", "step (torch/optim/", "_use_grad (torch/optim/")
CELL_FRAME = "(harness/cell/runner.py"
SPAWNED = "spawn_main (multiprocessing/spawn.py"
PYTHON_FRAME = re.compile(r"\.py:\d+\)\s*$")
PROCESS = re.compile(r'process (\d+):"[^"]*";')  # a child's frame follows its parent's
PARTS = {  # the cell's own work, by the first frame that names it (outermost first)
    "imports": "_find_and_load (",
    "latency sampling": "single_row_latency (",
    "model loading": "from_pretrained (",
    "tokenizing": "(tokenizers",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="cell_profile")
    parser.add_argument("--rate", type=int, default=20, help="py-spy samples per second")
    parser.add_argument("--results", default="results", help="the run's records folder "
                        "(the command's --out; `make run` writes results/)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--keep-raw", help="also write py-spy's raw samples here")
    parser.add_argument("--from-raw", help="analyse raw samples kept by an earlier run "
                        "(--keep-raw) against the records in --results, without running; "
                        "--wall-s gives that run's wall time")
    parser.add_argument("--wall-s", type=float, help="with --from-raw: the run's wall seconds")
    parser.add_argument("--records-only", action="store_true",
                        help="no samples (a run whose profile was lost): each cell's seconds "
                             "from --results, the run's wall time the span of its cells")
    parser.add_argument("--note", default="", help="what else ran on the machine, and how")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --: the command to run and profile")
    args = parser.parse_args()
    args.command = [c for c in args.command if c != "--"] if args.command else []
    if not args.command:
        parser.error("give the command to profile (or that was profiled) after --")
    return args


def main() -> None:
    args = parse_args()
    started = environment()
    if args.from_raw or args.records_only:
        records = sorted((json.loads(p.read_text()) for p in Path(args.results).glob("*.json")),
                         key=lambda r: r.get("started_at", ""))
        if args.records_only:
            report_records(args, started, records)
        else:
            report(args, started, parse(Path(args.from_raw).read_text()), records, args.wall_s, 0)
        return
    before = set(Path(args.results).glob("*.json"))
    with tempfile.TemporaryDirectory() as work:
        raw = Path(work) / "profile.txt"
        wall = time.perf_counter()
        done = subprocess.run([args.py_spy, "record", "--subprocesses", "--native", "--idle",
                               "--threads", "--rate", str(args.rate), "--format", "raw",
                               "--output", str(raw), "--", *args.command], check=False)
        wall = time.perf_counter() - wall
        samples = parse(raw.read_text())
        if args.keep_raw:
            shutil.copy(raw, args.keep_raw)
    records = sorted((json.loads(p.read_text()) for p in set(Path(args.results).glob("*.json"))
                      - before), key=lambda r: r.get("started_at", ""))
    report(args, started, samples, records, wall, done.returncode)


def report_records(args, started: dict, records: list[dict]) -> None:
    """The cells' seconds from their records alone; the run's wall time is the span from the
    first cell's start to the last one's end (the driver's start and the report not counted)."""
    from datetime import datetime

    def at(record):
        return datetime.strptime(record["started_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()

    span = (max(at(r) + r["wall_s"] for r in records) - min(at(r) for r in records)
            if records else None)
    rows = [{**cell_row(record, [], args.rate), "wall_s": record.get("wall_s"),
             "samples": None, "kernel_share": None, "model_python_share": None,
             "latency_sampling_share": None, "parts": {}, "other_top": []}
            for record in records]
    figures = {"command": args.command, "exit_code": None, "wall_s": span,
               "wall_from": "the span of the cells' records", "rate_per_s": None,
               "note": args.note, "cells": rows}
    print(f"{len(rows)} cells, span {span or 0:.0f} s")
    print(f"wrote {write_artifact(args.name, args, figures, started)}")


def report(args, started: dict, samples: dict, records: list[dict], wall, code: int) -> None:
    cells = [pid for pid in sorted(samples) if is_cell(samples[pid])]
    rows = [cell_row(record, samples[pid], args.rate) for record, pid in matched(records, cells,
                                                                                samples)]
    figures = {"command": args.command, "exit_code": code, "wall_s": wall,
               "rate_per_s": args.rate, "note": args.note, "cells": rows,
               "cells_without_process": len(records) - len(rows),
               "cell_processes_without_record": len(cells) - len(rows)}
    for row in rows:
        print(f"{row['strategy']:<18} {row['precision'] or 'fp32':<5} wall {row['wall_s']:7.1f} s  "
              f"kernels {row['kernel_share']:5.1%}  model python {row['model_python_share']:5.1%}"
              f"  latency sampling {row['latency_sampling_share']:.1%}  "
              f"{'  '.join(f'{k} {v:.1%}' for k, v in row['parts'].items() if v >= 0.01)}")
    print(f"run wall {wall or 0:.0f} s, exit {code}")
    print(f"wrote {write_artifact(args.name, args, figures, started)}")


def parse(text: str) -> dict[int, list[tuple[str, int]]]:
    """pid -> [(stack, count)] of each process's main thread, from py-spy's raw (collapsed)
    output with --subprocesses --threads: the thread that ran the cell (or, in the driver,
    the one with the most samples; the others are helpers, idle most of the time)."""
    threads = defaultdict(lambda: defaultdict(list))
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        processes = list(PROCESS.finditer(stack))
        if not processes or not count.isdigit():
            continue
        thread, _, frames = stack[processes[-1].end():].partition(";")
        threads[int(processes[-1].group(1))][thread].append((frames, int(count)))
    return {pid: max(by_thread.values(), key=lambda stacks: (
        sum(c for s, c in stacks if CELL_FRAME in s), sum(c for _, c in stacks)))
        for pid, by_thread in threads.items()}


def matched(records: list[dict], cells: list[int], samples: dict) -> list[tuple[dict, int]]:
    """Each record with its cell's process: the first process, in start order, that ran the
    record's strategy module (cells started in the same second, with --jobs, have equal
    `started_at`), else the first left."""
    left, pairs = list(cells), []
    for record in records:
        module = f"strategies/{record['strategy'].replace('-', '_')}.py"
        pid = next((p for p in left if any(module in s for s, _ in samples[p])),
                   left[0] if left else None)
        if pid is None:
            break
        left.remove(pid)
        pairs.append((record, pid))
    return pairs


def is_cell(stacks: list[tuple[str, int]]) -> bool:
    """A cell's process: spawned by the local executor, and in the runner most of its life
    (the driver waits in the runner for each cell it starts, but was not spawned)."""
    inside = sum(count for stack, count in stacks if CELL_FRAME in stack and SPAWNED in stack)
    return inside > 0.5 * sum(count for _, count in stacks)


def classify(stack: str) -> str:
    frames = stack.split(";")
    leaf = frames[-1]
    if any(marker in stack for marker in MODEL_FRAMES):
        # Native: a shared library's frame, or an address in no library at all (code made at
        # run time: oneDNN's JIT kernels, which run the bf16 and AMX matmuls); not Python's
        # own frames nor the interpreter's
        python = PYTHON_FRAME.search(leaf) or "libpython" in leaf
        return "model python" if python else "kernels"
    for frame in frames:
        for part, marker in PARTS.items():
            if marker in frame:
                return part
    return "other"


def cell_row(record: dict, stacks: list[tuple[str, int]], rate: int) -> dict:
    counts, other, latency = Counter(), Counter(), 0
    for stack, count in stacks:
        part = classify(stack)
        counts[part] += count
        latency += count if PARTS["latency sampling"] in stack else 0
        if part == "other":  # named by its innermost Python frame
            python = [f for f in stack.split(";") if ".py:" in f]
            other[python[-1] if python else stack.split(";")[-1]] += count
    total = sum(counts.values()) or 1
    module = record["strategy"].replace("-", "_")
    ran_module = any(f"strategies/{module}.py" in stack for stack, _ in stacks)
    return {"strategy": record["strategy"], "key": record["key"],
            "precision": record.get("precision"), "status": record.get("status"),
            "accuracy": record.get("accuracy"), "record_wall_s": record.get("wall_s"),
            "fit_s": record.get("fit_s"), "predict_s": record.get("predict_s"),
            "load_s": record.get("load_s"), "latency_samples": record.get("latency_samples"),
            "machine_busy": record.get("machine_busy"), "cpu_threads": record.get("cpu_threads"),
            "samples": total, "wall_s": total / rate,
            "kernel_share": counts["kernels"] / total,
            "model_python_share": counts["model python"] / total,
            "parts": {part: counts[part] / total for part in (*PARTS, "other")},
            # The single-row forwards that time latency, model kernels included
            "latency_sampling_share": latency / total,
            "other_top": [[frame, count / total] for frame, count in other.most_common(6)],
            "ran_strategy_module": ran_module}


if __name__ == "__main__":
    main()
