"""`harness compare`: two runs of the same cells, what changed in their results and in what made
them (harness/results/compare.py).

    harness compare                        # each recomputed cell against the record it replaced
    harness compare RUN_A RUN_B            # run ids (`harness compare --list`) or results folders
"""

from __future__ import annotations

import json

import click

from harness.errors import HarnessError


@click.command()
@click.argument("runs", nargs=-1, metavar="[RUN_A RUN_B]")
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder whose runs are named.")
@click.option("--list", "list_runs", is_flag=True, help="List the runs in the folder.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
def compare(runs, results, list_runs, as_json):
    """Compare two runs of the same cells: accuracy change paired over the evaluation rows,
    identical predictions, times, and the settings, code and packages that changed. With no
    RUN, each cell recomputed (--force) against the record it replaced (kept under history/)."""
    from harness.results import compare as comparing
    from harness.results.store import Store

    store = Store(results)
    if not store.root.is_dir():
        raise HarnessError(f"no results folder '{results}' (run `harness run` first)")
    if list_runs:
        for run in comparing.runs(store):
            click.echo(f"{run['run_id']}  {run['started_at']}  {run['cells']} record(s)  "
                       f"{run['command'] or ''}".rstrip())
        return
    if len(runs) not in (0, 2):
        raise HarnessError("give two runs to compare (RUN_A RUN_B), or none to compare each "
                           "recomputed cell with the record it replaced")
    pairs = (comparing.pairs_between(store, *runs) if runs
             else comparing.latest_against_previous(store))
    if not pairs:
        raise HarnessError("no cell in both runs" if runs else
                           f"no recomputed cell in '{results}': history/ is empty (a cell run "
                           f"again with --force keeps the record it replaces there)")
    rows = [comparing.compared(before, after) for before, after in pairs]
    click.echo(json.dumps(rows, indent=1, default=str) if as_json else comparing.render(rows))
