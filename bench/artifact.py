"""What every benchmark shares: repeated timings summarized as min and median (wall seconds, and
the process's CPU seconds, steadier on a machine shared with other jobs), and the JSON
artifact under bench/results/ holding the figures beside what produced them (command line,
arguments, package versions, git commit, device, machine load), so the README's table
(bench/readme_figures.py) is generated from a measurement and never typed by hand.

    runs = [timed(work, rows) for _ in range(3)]
    figures = summary([r[1] for r in runs], n, [r[2] for r in runs])
    write_artifact("my_bench", args, {"rows": [...], "work": figures}, started=environment())
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from harness.environment import device_info, manifest

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def timed(fn, *args):
    """(fn(*args), wall seconds, CPU seconds of this process, all its threads). When other jobs
    share the cores, wall time swings with their load; the CPU time the work itself takes
    swings far less, so both are kept."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def summary(seconds: list[float], examples: int, cpu_seconds: list[float] = ()) -> dict:
    """Min and median of repeated timings, as seconds and examples/s. The min is the run least
    disturbed by other work on the machine; the median says how typical it is."""
    best, median = min(seconds), statistics.median(seconds)
    out = {"seconds": [round(s, 4) for s in seconds], "min_s": round(best, 4),
           "median_s": round(median, 4), "best_examples_per_s": round(examples / best, 3),
           "median_examples_per_s": round(examples / median, 3)}
    if cpu_seconds:
        out.update(cpu_seconds=[round(s, 4) for s in cpu_seconds],
                   min_cpu_s=round(min(cpu_seconds), 4),
                   median_cpu_s=round(statistics.median(cpu_seconds), 4))
    return out


def ratio(slow: dict, fast: dict) -> dict:
    """slow/fast time ratios of two summaries, of the mins and of the medians (wall seconds, and
    CPU seconds where both have them)."""
    out = {"min": round(slow["min_s"] / fast["min_s"], 3),
           "median": round(slow["median_s"] / fast["median_s"], 3)}
    if "min_cpu_s" in slow and "min_cpu_s" in fast:
        out.update(cpu_min=round(slow["min_cpu_s"] / fast["min_cpu_s"], 3),
                   cpu_median=round(slow["median_cpu_s"] / fast["median_cpu_s"], 3))
    return out


def environment(extra_packages: tuple[str, ...] = ()) -> dict:
    import torch

    env = {**manifest(), **device_info(), "torch_threads": torch.get_num_threads(),
           "git_dirty": _git_dirty(), "load_average_1m_5m_15m": os.getloadavg()}
    for name in extra_packages:  # the peers compared against, absent from the harness manifest
        try:
            env["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env["packages"][name] = None
    return env


def _git_dirty() -> bool | None:
    # Other work in the checkout changes the code measured; say so beside the commit.
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True, timeout=10, check=False,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def write_artifact(name: str, args, figures: dict, started: dict) -> Path:
    """Write bench/results/<name>.json atomically; `started` is environment() taken before the
    run, so the load average at both ends is kept (a busy machine explains noisy figures)."""
    record = {
        "benchmark": name,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["python", *sys.argv]),
        "args": {key: value for key, value in vars(args).items() if key != "out"},
        "environment": started,
        "load_average_at_end": os.getloadavg(),
        "figures": figures,
    }
    path = Path(getattr(args, "out", None) or RESULTS_DIR / f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(staging, path)  # a killed run never leaves half an artifact
    return path
