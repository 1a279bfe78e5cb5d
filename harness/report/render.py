"""The report as Markdown, plots beside it as PNG files. Every text from data or records goes
through `md_escape`, so a dataset text can neither become an element nor break a table."""

from __future__ import annotations

import pandas as pd

from harness.report.build import Report
from harness.report.escape import md_escape

__all__ = ["md_escape", "render_markdown"]


def md_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(md_escape, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(md_escape, row)) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def render_markdown(report: Report, assets: str) -> str:
    parts = [f"# {md_escape(report.task)}: adaptation strategies compared", ""]
    parts += [f"- {note}" for note in report.notes] + [""]
    if report.tables:
        parts += ["## Leaderboard", "", "What each column means: *How to read the tables*, "
                  "at the end.", ""]
    for table in report.tables:
        if table.heading:
            parts += [f"### {table.heading}", ""]
        parts += [f"{table.note}.", "", md_table(table.shown), ""]
    if report.resources is not None:
        parts += ["## Time, memory and size", "", md_table(report.resources.shown), ""]
    for name, plot in report.plots.items():
        parts += [f"## {plot.title}", "", f"![{name}]({assets}/{name}.png)", ""]
    if report.rows:
        parts += ["## Per row", ""]
    for row in report.rows:
        parts += [f"### {md_escape(row.name)}", "", row.summary, "", md_table(row.per_class), ""]
        if not row.wrong.empty:
            parts += [f"Confidently wrong ({md_escape(row.name)}):", "", md_table(row.wrong), ""]
    if not report.failed.empty:
        parts += ["## Failed cells", "", md_table(report.failed), ""]
    if report.reading:
        parts += ["## How to read the tables", ""]
        parts += [f"- {note}" for note in report.reading] + [""]
    return "\n".join(parts)
