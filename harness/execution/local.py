"""Cells on this machine: one at a time (the default), or `--jobs N` at once, each cell's process
pinned to its own slice of the cores and shown only the GPUs it was given.

With N jobs the cores this process may use are cut into N equal slices; a cell takes a free
slice, and whole GPUs (its request rounded up) from those not in use. A cell on the CPU sees no
GPU (`CUDA_VISIBLE_DEVICES=""`).
"""

from __future__ import annotations

import math
import os
from concurrent import futures

from harness import environment
from harness.errors import HarnessError
from harness.cell.job import CellJob
from harness.execution.settings import Execution
from harness.cell import progress
from harness.cell.isolation import Placement, allow_cells, stop_all


class Serial:
    """`--executor local`: each cell in its own process, one after another (`create` gives a
    LocalPool instead for `--jobs N`)."""

    name = "local"
    concurrent = False

    def __init__(self):
        self.job = None

    @classmethod
    def create(cls, execution: Execution, store, echo):
        # A long cell says how far it has come (harness.cell.progress); Ray's workers do not
        progress.listen(lambda label, text: echo(f"{label}: {text}"))
        if (execution.jobs or 1) > 1:
            return LocalPool(execution, echo)
        return cls()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        allow_cells()
        progress.listen(None)
        return False

    def plan(self, cells: list) -> list:
        return cells

    def check(self, request, label: str) -> None:
        pass

    def fits(self, request) -> bool:
        return self.job is None

    def running(self) -> int:
        return int(self.job is not None)

    def submit(self, job: CellJob, request) -> str:
        self.job = job
        return "running"

    def collect(self, timeout_s: float) -> list:
        from harness.cell.runner import compute

        if self.job is None:
            return []
        job, self.job = self.job, None
        return [(job, compute(job), {})]

    def cancel(self) -> None:
        self.job = None
        stop_all()


class LocalPool:
    """`--jobs N` cells at once on this machine; see the module docstring."""

    name = "local"
    concurrent = True

    def __init__(self, execution: Execution, echo):
        cores = sorted(os.sched_getaffinity(0))
        # Never more cells than cores: cells sharing a core wait for each other, and their
        # OpenMP threads spin for it, so their timings would measure the crowding.
        self.jobs = min(execution.jobs, len(cores))
        width = len(cores) // self.jobs
        self.slices = [tuple(cores[i * width:(i + 1) * width]) for i in range(self.jobs)]
        self.free_slices = list(range(self.jobs))
        self.gpus = _gpu_ids()
        self.free_gpus = list(self.gpus)
        self.running_cells: dict[futures.Future, tuple[CellJob, int, list[str]]] = {}
        self.pool = futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="cell")
        if execution.jobs > self.jobs:
            echo(f"note: --jobs {execution.jobs} on {len(cores)} cores: {self.jobs} cells at "
                 f"once, a core each (cells sharing cores would time each other)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        progress.listen(None)
        try:
            self.pool.shutdown(wait=True, cancel_futures=True)
        finally:
            allow_cells()
        return False

    def plan(self, cells: list) -> list:
        return cells

    def check(self, request, label: str) -> None:
        if math.ceil(request.gpus) > len(self.gpus):
            raise HarnessError(f"{label}: needs {math.ceil(request.gpus)} GPU(s), this machine "
                               f"has {len(self.gpus)}; see --resources")

    def fits(self, request) -> bool:
        return bool(self.free_slices) and math.ceil(request.gpus) <= len(self.free_gpus)

    def running(self) -> int:
        return len(self.running_cells)

    def submit(self, job: CellJob, request) -> str:
        from dataclasses import replace

        from harness.cell.runner import compute

        slice_index = self.free_slices.pop(0)
        gpus = [self.free_gpus.pop(0) for _ in range(math.ceil(request.gpus))]
        placement = Placement(cuda_visible_devices=",".join(gpus),
                              cores=self.slices[slice_index])
        job = replace(job, placement=placement)
        self.running_cells[self.pool.submit(compute, job)] = (job, slice_index, gpus)
        gpu_text = f", GPU {','.join(gpus)}" if gpus else ""
        return f"running (cores {_span(placement.cores)}{gpu_text})"

    def collect(self, timeout_s: float) -> list:
        if not self.running_cells:
            return []
        done, _ = futures.wait(self.running_cells, timeout=timeout_s,
                               return_when=futures.FIRST_COMPLETED)
        finished = []
        for future in done:
            job, slice_index, gpus = self.running_cells.pop(future)
            self.free_slices.append(slice_index)
            self.free_gpus.extend(gpus)
            try:
                computed = future.result()
            except Exception as err:  # noqa: BLE001 - e.g. a cell that cannot be pickled
                from harness.cell.runner import failed

                computed = failed(job, f"{type(err).__name__}: {err}")
            finished.append((job, computed, {}))
        return finished

    def cancel(self) -> None:
        stop_all()
        # Their threads return once the processes end.
        futures.wait(self.running_cells, timeout=30)
        self.running_cells.clear()


def _gpu_ids() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip()]

    return [str(i) for i in range(environment.cuda_count())]


def _span(cores: tuple[int, ...]) -> str:
    if len(cores) > 1 and cores[-1] - cores[0] == len(cores) - 1:
        return f"{cores[0]}-{cores[-1]}"
    return ",".join(map(str, cores))

