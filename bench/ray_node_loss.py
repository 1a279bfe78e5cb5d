"""A node lost mid-run: a two-node Ray cluster (ray.cluster_utils.Cluster, both nodes on this
machine, one CPU each) runs a grid of embedding-probe cells; once both nodes are busy, the
worker node is removed. Ray retries the cell that was running there on the head node; the
driver writes every record once. Prints the log and writes a JSON summary.

    python bench/ray_node_loss.py --data-dir ../shared/data    # -> bench/results/ray_node_loss.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work", help="Folder for the results (default: a temporary one).")
    parser.add_argument("--out", help="The artifact (default bench/results/ray_node_loss.json).")
    parser.add_argument("--tasks", default="agnews,sst2")
    parser.add_argument("--data-seeds", type=int, default=3, help="Cells per task.")
    parser.add_argument("--n-eval", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from artifact import environment, write_artifact

    started_env = environment(("ray",))
    import ray
    from ray.cluster_utils import Cluster

    from harness.execution.settings import Execution
    from harness.execution.ray_cluster import attempt_log_prefix
    from harness.plan.grid import build_cells
    from harness.plan.request import GridRequest
    from harness.execution.driver import run_cells
    from harness.results.store import Store

    work = Path(args.work or tempfile.mkdtemp(prefix="ray-node-loss-"))
    store = Store(work / "results")
    store.prepare()
    saves = Counter()
    real_save = store.save

    def counted_save(record, predictions=None):
        saves[record["key"]] += 1
        real_save(record, predictions)

    store.save = counted_save
    cells = build_cells(GridRequest(tasks=args.tasks.split(","), strategies="embedding-probe",
                                    n_train=64, n_eval=args.n_eval, data_dir=args.data_dir,
                                    data_seeds=range(args.data_seeds)))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    head_id = ray.get_runtime_context().get_node_id()
    worker_id = next(n["NodeID"] for n in ray.nodes() if n["NodeID"] != head_id)
    log = []

    def echo(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        log.append(stamped)
        print(stamped, flush=True)

    def remove_once_a_cell_runs_there() -> None:
        """Read the driver's attempt log until a cell has started on the worker node."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            logs = [name for name in ray.util.list_named_actors()
                    if name.startswith(attempt_log_prefix(os.getpid()))]
            attempts = ray.get(ray.get_actor(logs[0]).every.remote()) if logs else {}
            there = [key for key, nodes in attempts.items() if nodes[-1][0] == worker_id]
            if there:
                time.sleep(2.0)  # inside the cell: loading the encoder alone takes longer
                echo(f"removing worker node {worker_id[:12]}, running {there[0]}")
                cluster.remove_node(worker, allow_graceful=False)
                return
            time.sleep(0.2)

    remover = threading.Thread(target=remove_once_a_cell_runs_there, daemon=True)
    remover.start()
    started = time.monotonic()
    summary = run_cells(cells, store, echo=echo,
                        execution=Execution(executor="ray", max_retries=3))
    wall_s = time.monotonic() - started
    remover.join(timeout=5)
    records = store.records(strict=True)
    attempts = [{"cell": r["key"], "nodes": r["ray_attempt_nodes"], "status": r["status"]}
                for r in records]
    result = {"cells": len(cells), "records": len(records), "failed": summary.failed,
              "duplicates": sum(count - 1 for count in saves.values()),
              "saves": sum(saves.values()), "head_node": head_id, "removed_node": worker_id,
              "attempts": attempts, "wall_s": round(wall_s, 1), "log": log}
    ray.shutdown()
    cluster.shutdown()
    retried = [a for a in attempts if len(a["nodes"]) > 1]
    print(f"{len(cells)} cells, {len(records)} records, {result['duplicates']} written twice, "
          f"{summary.failed} failed; retried: " + "; ".join(
              f"{a['cell']} on {' then '.join(n[:12] for n in a['nodes'])}" for a in retried))
    print(f"-> {write_artifact('ray_node_loss', args, result, started_env)}")
    return 0 if len(records) == len(cells) and not result["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
