"""What a report is made of, before it is rendered: the leaderboard tables, plots, sections
and rows, as data. Builders (harness.report.build, .generation, .curve_section, .variants)
make them; renderers (harness.report.render, .html_page) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from harness.report.display import Table
from harness.report.plots import Plot


@dataclass(frozen=True)
class RowSection:
    """What the report shows of one leaderboard row, under the row's name."""

    name: str
    summary: str  # Markdown
    per_class: pd.DataFrame
    wrong: pd.DataFrame


@dataclass(frozen=True)
class Section:
    """A part of a report beyond the leaderboard (a generation report's continuations): a
    heading and notes (our Markdown) over titled tables whose cells are texts from data, shown
    verbatim with their line breaks; each renderer escapes them its own way."""

    heading: str  # Markdown
    notes: list[str]  # Markdown
    tables: list[tuple[str, pd.DataFrame]]  # (title as Markdown, cells as raw text)


@dataclass(frozen=True)
class Report:
    task: str
    notes: list[str]  # above the tables
    tables: list[Table]  # the leaderboard, one per evaluation set
    resources: Table | None
    reading: list[str]  # how to read the tables
    plots: dict[str, Plot]
    rows: list[RowSection]
    failed: pd.DataFrame
    csv: str
    board: pd.DataFrame = field(repr=False)
    sections: list[Section] = field(default_factory=list)  # after the plots
    # Markdown items at the top: what to choose, and when training pays back (given by the
    # caller: harness.recommend.verdict, a layer above the report)
    verdict: list[str] = field(default_factory=list)
    # The evaluation rows where the rows disagree most (harness.report.disagreements): a page
    # of its own beside the report
    disagreements: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    # The metric the board is ranked by, best first (the task's primary metric)
    ranked_by: str = "accuracy"
