"""One cell as an executor sends it to where it runs: the cell and how to run it there.

    CellJob(cell, timeout_s=3600, placement=Placement("1", (2, 3)))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.cell.isolation import Placement


@dataclass(frozen=True)
class CellJob:
    """One cell as an executor sends it to where it runs."""

    cell: object  # harness.plan.cell.Cell
    executor: str = "local"
    isolate: bool = True
    timeout_s: float | None = None
    placement: Placement = field(default_factory=Placement)
    artifacts: str | None = None
