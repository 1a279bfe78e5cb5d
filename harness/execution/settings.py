"""How a grid is executed, as opposed to what it computes: which executor, how many cells at
once, retries, time limits, where artifacts go. Nothing here enters a cell's key: the same cell
gives the same record on every executor.

    Execution(executor="ray", ray_address="auto", max_retries=3, cell_timeout_s=3600)
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.execution import executors


_RAY_ADDRESS = re.compile(r"(?:ray://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})")


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """The (host, port) that `--ray-address` names (None for "auto": the cluster this machine
    runs), or a HarnessError: Ray takes a GCS address host:port or a client ray://host:port,
    not a dashboard URL."""
    if address == "auto":
        return None
    match = _RAY_ADDRESS.fullmatch(address)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise HarnessError(f"--ray-address {address[:80]!r}: expected auto, HOST:PORT (the head "
                           f"node's GCS port, 6379 by default) or ray://HOST:PORT (10001)")
    return match.group(1).strip("[]"), int(match.group(2))


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
        if self.ray_address is not None:
            ray_endpoint(self.ray_address)
        if self.executor != "ray" and self.accelerator_type is not None:
            raise HarnessError("--accelerator-type needs --executor ray")
        if not self.isolate and (self.executor != "local" or (self.jobs or 1) > 1):
            raise HarnessError("--no-isolation runs one cell at a time in this process: it "
                               "cannot be combined with --jobs or --executor ray")

    def preflight(self) -> None:
        """Checks that need the network, before anything is written: a cluster address that
        nothing answers at fails in seconds, in one line (Ray itself retries for minutes,
        printing warnings)."""
        import socket

        endpoint = ray_endpoint(self.ray_address) if self.ray_address else None
        if endpoint is None:
            return
        try:
            socket.create_connection(endpoint, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as err:
            raise HarnessError(f"--ray-address {self.ray_address}: nothing answers at "
                               f"{endpoint[0]}:{endpoint[1]} ({err.strerror or type(err).__name__})"
                               f"; start a cluster with `ray start --head` or check the "
                               f"address") from None


CONNECT_TIMEOUT_S = 10
