"""One cell as an executor sends it to where it runs: the cell and how to run it there; or one
tuning trial of it (`--tune-parallel`), or its evaluation once the trials chose its settings.

    CellJob(cell, timeout_s=3600, placement=Placement("1", (2, 3)))
    CellJob(cell, trial=(3, {"learning_rate": 2e-4}))   # fit and validate only
    CellJob(cell, tuned=search.summary())               # fit the chosen settings, evaluate
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
    trial: tuple[int, dict] | None = None  # (trial number, settings): validate, no record
    tuned: dict | None = None  # the finished search: its chosen settings are fitted again

    @property
    def name(self) -> str:
        """Unique among the jobs of a run (a cell's trials share its key)."""
        key = self.cell.keys[0]
        return key if self.trial is None else f"{key}#trial{self.trial[0]}"
