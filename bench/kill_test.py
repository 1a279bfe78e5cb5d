"""kill -9 a `harness run` at random moments, resume it each time, and count what was lost:
finished records must survive untouched, no file may be corrupt, and after the next run no
scratch folder, claim or temporary file of a killed run may be left.

    python bench/kill_test.py --kills 10 --seeds 6 --data-dir ../shared/data

Each kill hits either the whole process group (runner and cell at once) or the runner only
(its cell then stops by itself), at random. Exits 1 when anything was lost or left.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.results.claims import SCRATCH_PREFIX
from harness.results.store import TEMP_PREFIX, Store


def finished(store: Store) -> dict[str, bytes]:
    """Every valid finished record's file content, by key."""
    return {r["key"]: store.record_path(r["key"]).read_bytes()
            for r in store.records(warn=lambda _: None) if r["status"] == "ok"}


def kill_once(command: list[str], env: dict, delay_s: float, whole_group: bool) -> None:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout=delay_s)  # it may finish first: then there is nothing to kill
    except subprocess.TimeoutExpired:
        if whole_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--n-train", type=int, default=40)
    parser.add_argument("--n-eval", type=int, default=20)
    parser.add_argument("--max-delay", type=float, default=20.0, help="Seconds, at most, "
                        "between a start and its kill.")
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--random-seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.random_seed)
    work = Path(tempfile.mkdtemp(prefix="kill-test-"))
    scratch = work / "tmp"  # the runs' own TMPDIR: every scratch folder in it is theirs
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    store = Store(work / "results")
    command = [sys.executable, "-m", "harness.cli.main", "run", "-s", "tfidf-logreg", "--seeds",
               ",".join(map(str, range(args.seeds))), "--n-train", str(args.n_train),
               "--n-eval", str(args.n_eval), "--out", str(store.root),
               "--reports", str(work / "reports"),
               *(["--data-dir", args.data_dir] if args.data_dir else [])]

    lost, ever_finished, group_kills, left_after_kills = 0, set(), 0, 0
    for _ in range(args.kills):
        before = finished(store)
        whole_group = rng.random() < 0.5
        group_kills += whole_group
        kill_once(command, env, rng.uniform(0.5, args.max_delay), whole_group)
        after = finished(store)
        lost += sum(after.get(key) != content for key, content in before.items())
        ever_finished |= set(after)
        left_after_kills += len(list(scratch.glob(f"{SCRATCH_PREFIX}*")))

    final = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO,
                           check=False)
    corrupt = []
    records = store.records(warn=corrupt.append)
    leftovers = [*scratch.glob(f"{SCRATCH_PREFIX}*"), *store.root.glob("*.claim"),
                 *store.root.glob(f"{TEMP_PREFIX}*")]
    ok = sum(r["status"] == "ok" for r in records)
    print(f"kill -9 at {args.kills} random moments ({group_kills} runner and cell together, "
          f"{args.kills - group_kills} runner only), {args.seeds} cells: "
          f"{len(ever_finished)} finished before the last kill, "
          f"{args.seeds - len(ever_finished)} computed by the final run; "
          f"{lost} lost, {len(corrupt)} corrupt, {left_after_kills} scratch entries seen "
          f"right after kills, {len(leftovers)} left after the next run; final run exit "
          f"{final.returncode}, {ok}/{args.seeds} cells finished.")
    summary = [line for line in final.stdout.splitlines() if " cells: " in line]
    print(f"  final run: {summary[-1] if summary else final.stderr.strip()[-500:]}")
    for line in corrupt + [str(p) for p in leftovers]:
        print(f"  {line}")
    failed = lost or corrupt or leftovers or final.returncode or ok != args.seeds
    if not failed:
        shutil.rmtree(work, ignore_errors=True)  # kept when something is wrong, to look at
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
