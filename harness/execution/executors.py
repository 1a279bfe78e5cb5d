"""Executors run cells somewhere and hand their outcomes back to the driver (harness.execution.driver),
which alone claims, orders and writes. Each one starts today's isolated cell process
(harness.cell.runner.compute) wherever it puts a cell, so a cell measures the same on every executor.

    local   one cell at a time in a child process; `--jobs N`: N at once, each pinned to its own
            cores and given its own GPUs (harness/execution/local.py)
    ray     cells as Ray tasks on a local instance or a cluster (harness/execution/ray_cluster.py)

An executor: `plan(cells)` (the devices cells will run on), `check(request, label)` (a request it
can never meet is a HarnessError), `fits(request)`, `submit(job, request) -> where it went (said on the cell's line)`, `running()`,
`collect(timeout_s) -> [(job, computed, extra_record_fields)]`, `cancel()`, and it is a
context manager (started and stopped around the run).
"""

from __future__ import annotations

from harness.execution.settings import Execution


def make_executor(execution: Execution, store, echo):
    if execution.executor == "ray":
        from harness.execution.ray_cluster import RayExecutor

        return RayExecutor(execution, store, echo)
    from harness.execution.local import LocalPool, Serial

    if (execution.jobs or 1) > 1:
        return LocalPool(execution, echo)
    return Serial()
