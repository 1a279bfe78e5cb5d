"""The report as Markdown, plots beside it as PNG files. Every text from data or records goes
through `md_escape`, so a dataset text can neither become an element nor break a table."""

from __future__ import annotations

import re

import pandas as pd

from harness.report.parts import Report
from harness.report.escape import md_escape

__all__ = ["md_escape", "render_markdown"]


def md_table(frame: pd.DataFrame, multiline: bool = False) -> str:
    """`frame` as a Markdown table; `multiline` keeps each cell's line breaks as <br>."""
    cell = md_lines if multiline else md_escape
    lines = ["| " + " | ".join(map(md_escape, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def md_lines(value) -> str:
    """A text of several lines as one table cell: each line escaped, joined by our own <br>
    (the only element in it), so a line break can neither end the row nor vanish."""
    return "<br>".join(md_escape(line) for line in str(value).splitlines())


def _contents(report: Report) -> str:
    """Links to the sections this report has (GitHub's heading anchors) and to its CSV."""
    headings = (["Verdict"] if report.verdict else []) + (
        ["Leaderboard"] if report.tables else []) + (
        ["Time, memory and size"] if report.resources is not None else []) + [
        plot.title for plot in report.plots.values()] + [
        section.heading for section in report.sections] + (
        ["Per row"] if report.rows else []) + (
        ["Failed cells"] if not report.failed.empty else []) + (
        ["How to read the tables"] if report.reading else [])
    links = [f"[{heading}](#{_slug(heading)})" for heading in headings]
    links.append(f"[the leaderboard as CSV]({report.task}.csv)")
    if not report.disagreements.empty:
        links.append(f"[the rows where the strategies disagree]({report.task}_disagreements.md)")
    return "Contents: " + " · ".join(links)


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.lower().replace("*", "")).strip()
    return text.replace(" ", "-")


def _items(lines: list[str]) -> list[str]:
    """Verdict lines as list items; a line that is itself an item nests under the one before."""
    return [f"  {line}" if line.startswith("- ") else line for line in lines]


def render_markdown(report: Report, assets: str) -> str:
    parts = [f"# {md_escape(report.task)}: adaptation strategies compared", "",
             _contents(report), ""]
    if report.verdict:
        parts += ["## Verdict", ""] + [item if item.startswith("- ") else f"- {item}"
                                       for item in _items(report.verdict)] + [""]
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
    for section in report.sections:
        parts += [f"## {section.heading}", ""]
        parts += [note + "\n" for note in section.notes]
        for title, frame in section.tables:
            parts += [f"### {title}", "", md_table(frame, multiline=True), ""]
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
