"""What the verbs share: the `--prices` help, writing the reports with a refused file said in
one line, and progress lines that show at once.

    paths = write_reports(store, "reports", tasks=None, prices=None)
"""

from __future__ import annotations

import sys

import click

from harness.errors import HarnessError

PRICES_HELP = ("JSON file of prices in USD per hour, overriding the defaults of "
               "harness/results/cost.py: 'cpu_core' per core-hour, GPUs by name, 'cuda' for any "
               "other GPU; 'api_tokens_usd_per_million': {MODEL: {input, output}} for models "
               "prompted through an endpoint. Applied when the report is written, from the "
               "stored device-seconds and tokens.")


def write_reports(store, folder, **options) -> list:
    """harness.report.write_reports, with a refused file named in one line: the records of a
    run stay whatever happens to its report."""
    from harness.recommend.verdict import report_verdict
    from harness.report import write_reports as write

    try:
        return write(store, folder, verdict=report_verdict, **options)
    except OSError as err:
        raise HarnessError(f"cannot write the report into '{folder}': {err.strerror or err} "
                           f"('{err.filename or folder}')") from None


def echo_now(message: str) -> None:
    # Flushed: progress lines must show when stdout is a file or a pipe (CI logs, `tee`).
    click.echo(message)
    sys.stdout.flush()
