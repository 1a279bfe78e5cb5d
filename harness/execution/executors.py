"""Executors run cells somewhere and hand their outcomes back to the driver
(harness.execution.driver), which alone claims, orders and writes. Each one starts today's
isolated cell process (harness.cell.runner.compute) wherever it puts a cell, so a cell measures
the same on every executor.

    local   one cell at a time in a child process; `--jobs N`: N at once, each pinned to its own
            cores and given its own GPUs (harness/execution/local.py)
    ray     cells as Ray tasks on a local instance or a cluster (harness/execution/ray_cluster.py)

An executor is found by name: the class of a module of harness.execution that has a `name` and
a `create` classmethod (so adding one is adding a module; see docs/executors.md), or one
registered at run time with `register` (a test, a notebook):

    executor = create(Execution(executor="ray"), store, echo=print)   # a context manager
    names()  # ('local', 'ray')
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Callable, Protocol

from harness.errors import HarnessError, did_you_mean

if TYPE_CHECKING:  # types only: the registry imports no executor until one is asked for
    from harness.api.resources import Request
    from harness.cell.job import CellJob
    from harness.cell.runner import Computed
    from harness.plan.cell import Cell
    from harness.results.store import Store

PACKAGE = "harness.execution"
# An `execution` below is a harness.execution.settings.Execution, not imported: that module asks
# this one for the executors' names, and imports run one way.


class Executor(Protocol):
    """What the driver asks of an executor, in the order it asks. The class found under `name`
    also has `create(execution, store, echo) -> Executor` (a classmethod), which may return
    another class's instance (local's gives a LocalPool for `--jobs N`)."""

    name: str  # what `--executor` calls it; every record says which one ran it
    concurrent: bool  # runs several cells at once: the driver sends the longest first

    def __enter__(self) -> Executor:
        """Start (connect to a cluster, take a claim); a failure here fails the run."""

    def __exit__(self, *exc) -> bool:
        """Stop, whatever happened; never swallows the run's exception."""

    def plan(self, cells: list[Cell]) -> list[Cell]:
        """The cells as they will run here (a cluster's device, not the driver's)."""

    def check(self, request: Request, label: str) -> None:
        """A HarnessError for a request this executor can never meet, before anything runs."""

    def fits(self, request: Request) -> bool:
        """Whether a cell with this request can be submitted now."""

    def submit(self, job: CellJob, request: Request) -> str:
        """Start the cell; returns where it went, said on the cell's line."""

    def running(self) -> int:
        """Cells started and not collected yet."""

    def collect(self, timeout_s: float) -> list[tuple[CellJob, Computed, dict]]:
        """The cells finished within `timeout_s`: (job, what it computed, fields to add to its
        records), each returned once."""

    def cancel(self) -> None:
        """Stop every cell in flight (Ctrl-C); the driver releases their claims."""


_registered: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make an executor defined outside harness.execution findable by its
    `name` (overrides a built-in of that name)."""
    _check_interface(cls)
    _registered[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _registered.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(sorted({**_built_in(), **_registered}))


def get(name: str) -> type:
    found = {**_built_in(), **_registered}
    if name not in found:
        raise HarnessError(f"unknown executor '{name}'{did_you_mean(name, found)}")
    return found[name]


def create(execution, store: Store, echo: Callable[[str], None]) -> Executor:
    """The executor `execution.executor` names, not started yet."""
    return get(execution.executor).create(execution, store, echo)


@cache
def _built_in() -> dict[str, type]:
    """name -> class, over every module of harness.execution (imported once, when first asked:
    `harness --help` does not pay for it)."""
    package = importlib.import_module(PACKAGE)
    found: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{PACKAGE}.{module_info.name}")
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ \
                    and callable(getattr(cls, "create", None)) and hasattr(cls, "name"):
                if cls.name in found:
                    raise TypeError(f"executor name '{cls.name}' is taken twice: "
                                    f"{found[cls.name].__qualname__} and {cls.__qualname__}")
                _check_interface(cls)
                found[cls.name] = cls
    return found


_METHODS = ("create", "__enter__", "__exit__", "plan", "check", "fits", "submit", "running",
            "collect", "cancel")


def _check_interface(cls: type) -> None:
    """A class missing part of the protocol fails when found, not halfway through a run."""
    missing = [m for m in ("name", "concurrent", *_METHODS) if not hasattr(cls, m)]
    if missing or not isinstance(cls.name, str):
        raise TypeError(f"executor {cls.__qualname__} lacks {', '.join(missing) or 'a str name'}"
                        f" (see harness.execution.executors.Executor)")
