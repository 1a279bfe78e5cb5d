"""`harness report`: a Markdown, an HTML and a CSV report per task from the stored records.

    harness report --results results --out reports --prices prices.json
"""

from __future__ import annotations

import click

from harness.cli.common import PRICES_HELP, write_reports
from harness.errors import HarnessError
from harness.inputs.tasks import check_task_name, get_task, is_task_file
from harness.paths import check_writable


@click.command()
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder to read.")
@click.option("--out", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="Where to write <task>.md, <task>.html and <task>.csv.")
@click.option("--task", "tasks", help="Only these tasks (comma-separated names or task YAML "
                                       "files); default every task with records.")
@click.option("--prices", type=click.Path(dir_okay=False), help=PRICES_HELP)
@click.option("--strict", is_flag=True,
              help="Fail on an unreadable or invalid record instead of skipping it with a warning.")
def report(results, out, tasks, prices, strict):
    """Write a Markdown, a self-contained HTML and a CSV report per task from every stored
    record, pricing their stored device-seconds (re-pricing needs no re-run)."""
    from harness.results.cost import load_prices
    from harness.results.store import Store

    price_table = load_prices(prices)
    check_writable(out, "reports")
    wanted = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    if tasks is not None and not wanted:
        raise HarnessError("--task names no task: give one or more, or leave it out for all")
    for name in wanted or []:
        if not is_task_file(name):
            check_task_name(name)  # records of tasks from files have no built-in to check
    # A task file gives its name, and its labels to records too old to carry them.
    chosen = [get_task(t) if is_task_file(t) else t for t in wanted] if wanted else None
    paths = write_reports(Store(results), out, tasks=chosen, prices=price_table, strict=strict)
    for path in paths:
        click.echo(f"report: {path}")
