"""The command line: the `harness` group; each verb is its own module of harness.cli.

    harness run --strategies all --task agnews                  (harness/cli/run.py)
    harness report --results results --out reports              (harness/cli/report.py)
    harness recommend --task agnews --max-latency-ms 50         (harness/cli/recommend.py)
    harness project --model llama-3.2-1b --device h100,t4       (harness/cli/project.py)
    harness list strategies | settings lora | tasks             (harness/cli/list.py)
    harness compare RUN_A RUN_B                                 (harness/cli/compare.py)
    harness export --to mlflow                                  (harness/cli/export.py)

The verbs import only click and light tables at start-up; each imports what it runs when it
runs, so `harness --help` stays fast.
"""

from __future__ import annotations

import click

from harness.cli.compare import compare
from harness.cli.export import export
from harness.cli.list import list_
from harness.cli.project import project
from harness.cli.recommend import recommend
from harness.cli.report import report
from harness.cli.run import run
from harness.errors import HarnessGroup


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="adapt-harness")
def main():
    """Benchmark adaptation strategies for language models: accuracy and cost, side by side."""


for _verb in (run, report, recommend, compare, export, list_, project):
    main.add_command(_verb)


if __name__ == "__main__":
    main()
