"""How a grid is executed, as opposed to what it computes: which executor, how many cells at
once, retries, time limits, where artifacts go. Nothing here enters a cell's key: the same cell
gives the same record on every executor.

    Execution(executor="ray", ray_address="auto", max_retries=3, cell_timeout_s=3600)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.execution import executors


MAX_TIMEOUT_S = 30 * 86400  # a poll timeout beyond it overflows; nan and inf never end


@dataclass(frozen=True)
class Execution:
    executor: str = "local"
    jobs: int | None = None  # cells at once; local default 1, ray default: as resources allow
    ray_address: str | None = None  # None: a Ray instance started for this run, stopped after
    max_retries: int = 3  # a cell whose Ray worker or node was lost; never a cell's own error
    cell_timeout_s: float | None = None
    artifacts: str | None = None  # keep each cell's exported artifacts under <artifacts>/<key>/
    # overrides of what cells ask for (harness.api.resources.parse_overrides)
    resources: dict = field(default_factory=dict)
    accelerator_type: str | None = None  # Ray: GPU cells only on nodes of this accelerator
    isolate: bool = True

    def __post_init__(self):
        if self.executor not in executors.names():
            raise HarnessError(f"--executor '{self.executor}' is not one of "
                               f"{', '.join(executors.names())}")
        if self.jobs is not None and self.jobs < 1:
            raise HarnessError(f"--jobs {self.jobs} must be at least 1")
        if self.max_retries < 0:
            raise HarnessError(f"--max-retries {self.max_retries} must be 0 or more")
        if self.cell_timeout_s is not None and not 0 < self.cell_timeout_s <= MAX_TIMEOUT_S:
            raise HarnessError(f"--cell-timeout {self.cell_timeout_s:g} must be positive, at most "
                               f"{MAX_TIMEOUT_S:,} seconds (30 days)")
        if self.executor != "ray" and self.ray_address is not None:
            raise HarnessError("--ray-address needs --executor ray")
        if self.executor != "ray" and self.accelerator_type is not None:
            raise HarnessError("--accelerator-type needs --executor ray")
        if not self.isolate and (self.executor != "local" or (self.jobs or 1) > 1):
            raise HarnessError("--no-isolation runs one cell at a time in this process: it "
                               "cannot be combined with --jobs or --executor ray")
