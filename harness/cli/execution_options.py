"""The `harness run` options that say how the grid is executed (harness.execution.settings), kept
together: `@execution_options` adds them, `execution_from(options, strategies)` reads them.

    @execution_options
    def run(**options):
        execution = execution_from(options, ["lora"], isolate=True)
"""

from __future__ import annotations

import click

from harness.errors import HarnessError
from harness.api.resources import parse_overrides
from harness.execution import executors
from harness.execution.settings import Execution


class _ExecutorChoice(click.Choice):
    """The registered executors (harness.execution.executors) as choices, looked up when the
    option is shown or checked: finding them imports harness.execution, which `harness --help`
    and the other verbs need not pay for."""

    def __init__(self):
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return executors.names()

    @choices.setter
    def choices(self, value) -> None:
        pass  # click.Choice.__init__ assigns the (empty) choices; the registry has them


# By parameter name: execution_from reads exactly these from the command's options.
_OPTIONS = {
    "executor": click.option(
        "--executor", type=_ExecutorChoice(), default="local", show_default=True,
        help="local: cells in child processes on this machine; ray: cells as Ray "
             "tasks (pip install 'adapt-harness[ray]')."),
    "jobs": click.option(
        "--jobs", "-j", type=int, help="Cells at once. local: default 1, each of N "
        "cells pinned to 1/N of the cores, one GPU per GPU cell; ray: default as many "
        "as the cluster's resources allow."),
    "ray_address": click.option(
        "--ray-address", metavar="auto|HOST:PORT", help="A running Ray cluster "
        "(`ray start --head`); default: a local Ray instance for this run only."),
    "max_retries": click.option(
        "--max-retries", type=int,
        help=f"Ray: retries of a cell whose worker or node was lost, default "
             f"{Execution.max_retries} (a cell's own error is recorded, never retried)."),
    "cell_timeout_s": click.option(
        "--cell-timeout", "cell_timeout_s", type=float, metavar="SECONDS",
        help="Stop a cell after this long and record it as failed (timed out)."),
    "artifacts": click.option(
        "--artifacts", type=click.Path(file_okay=False), help="Keep what each cell "
        "exports (adapters, heads) under ARTIFACTS/<key>/, on the node that ran it."),
    "resource_overrides": click.option(
        "--resources", "resource_overrides", multiple=True,
        metavar="[STRATEGY.]FIELD=N", help="Override what cells ask for: gpus, cpus, "
        "memory (GiB), e.g. --resources lora.memory=8. Repeatable."),
    "accelerator_type": click.option(
        "--accelerator-type", help="Ray: GPU cells only on nodes with this "
        "accelerator (e.g. H100, A10G)."),
}


def execution_options(command):
    for option in reversed(_OPTIONS.values()):
        command = option(command)
    return command


def execution_from(options: dict, strategies: list[str], isolate: bool) -> Execution:
    """The Execution the options ask for, checked (a bad one is a HarnessError). `options` may
    hold the command's other options too: only the execution options are read."""
    given = {name: options[name] for name in _OPTIONS if options[name] is not None}
    if given["executor"] == "local" and "max_retries" in given:
        raise HarnessError("--max-retries applies to --executor ray (a local cell that crashes "
                           "is recorded as failed)")
    overrides = parse_overrides(given.pop("resource_overrides"), strategies)
    return Execution(resources=overrides, isolate=isolate, **given)
