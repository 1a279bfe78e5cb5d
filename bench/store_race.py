"""Several processes hammering one results folder with Store.prepare() and Store.save(): a
live process's write in flight must never be removed by another's prepare(), and the write
check must never collide. Prints the counts; exits 1 on any failure.

    python bench/store_race.py --processes 3 --seconds 60
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.results.store import OK_FIELDS, Store

ROWS = pd.DataFrame({"text": ["a", "b"], "label": [0, 1], "prediction": [0, 0]})
# A finished record that is read back as one: every field of harness.results.store.OK_FIELDS.
FINISHED = {"status": "ok", "task": "t", "strategy": "s", "model": "-", "n_eval": 2,
            **{name: kind() if isinstance(kind, type) else 0.5
               for name, kind in OK_FIELDS.items()}}


def hammer(root: str, worker: int, seconds: float, counts) -> None:
    store, calls, failures = Store(root), {"prepare": 0, "save": 0}, []
    deadline = time.time() + seconds
    while time.time() < deadline:
        for name, call in (("prepare", store.prepare), ("save", lambda: _save(store, worker))):
            calls[name] += 1
            try:
                call()
            except Exception as err:  # noqa: BLE001 - counted, that is the point
                failures.append(f"{name}: {type(err).__name__}: {err}")
    counts.put((calls, failures))


def _save(store: Store, worker: int) -> None:
    key = f"cell{worker}"
    store.save({**FINISHED, "key": key, "seed": worker}, ROWS)
    if not store.is_finished(key):
        raise RuntimeError(f"{key} not finished right after its save")


def race(processes: int, seconds: float, root: str | None = None) -> tuple[dict, list]:
    root = root or tempfile.mkdtemp(prefix="store-race-")
    Store(root).prepare()
    counts = mp.get_context("spawn").Queue()
    workers = [mp.get_context("spawn").Process(target=hammer, args=(root, w, seconds, counts))
               for w in range(processes)]
    for worker in workers:
        worker.start()
    totals, failures = {"prepare": 0, "save": 0}, []
    for _ in workers:
        calls, failed = counts.get()
        totals = {name: totals[name] + calls[name] for name in totals}
        failures += failed
    for worker in workers:
        worker.join()
    invalid = []
    Store(root).records(warn=invalid.append)
    return totals, failures + invalid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    totals, failures = race(args.processes, args.seconds)
    print(f"{args.processes} processes, {args.seconds:g} s: {totals['prepare']} prepare(), "
          f"{totals['save']} save(), {len(failures)} failures")
    for failure in failures[:10]:
        print(f"  {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
