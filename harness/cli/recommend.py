"""`harness recommend`: the strategies that meet every constraint, read from stored records.

    harness recommend --results results --task agnews --n-train 500 --max-latency-ms 50
"""

from __future__ import annotations

import sys

import click

from harness.cli.common import PRICES_HELP
from harness.inputs.tasks import get_task, is_task_file


@click.command()
@click.option("--results", default="results", show_default=True,
              type=click.Path(file_okay=False), help="Results folder to read.")
@click.option("--task", "-t", "task", required=True,
              help="The task to recommend for: its name or its task YAML file.")
@click.option("--n-train", type=int, help="Labelled rows you have: curves are read (or "
                                           "interpolated) at this size.")
@click.option("--max-latency-ms", type=float, help="p95 latency at batch size 1.")
@click.option("--max-usd-per-1k", type=float, help="Cost of 1,000 predictions (USD).")
@click.option("--max-memory-gib", type=float,
              help="Peak memory: GPU reserved on a GPU, else the process's peak RSS.")
@click.option("--max-fit-usd", type=float, help="Cost of training, load included (USD).")
@click.option("--min-accuracy", type=float, help="Accuracy (point estimate) at least this.")
@click.option("--explain", is_flag=True, help="Also print a paragraph for a design document.")
@click.option("--prices", type=click.Path(dir_okay=False), help=PRICES_HELP)
@click.option("--json", "as_json", is_flag=True, help="The verdict as JSON, for a script.")
def recommend(results, task, n_train, explain, prices, as_json, **limits):
    """The strategies that meet every constraint, most accurate first, each with its numbers,
    and what excludes the others. Exit 1 when none qualifies (the binding constraint named)."""
    from harness.recommend.options import Constraints
    from harness.recommend.run import run_recommend

    if is_task_file(task):  # as `harness run -t` and `harness report --task` take one
        task = get_task(task).name
    # The --max-*/--min-* options are Constraints' fields, by name.
    text, qualified = run_recommend(results, task, n_train, Constraints(**limits), explain,
                                    prices, as_json)
    click.echo(text)
    if not qualified:
        sys.exit(1)
