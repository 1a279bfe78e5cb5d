"""Reports from stored records, one per task: `reports/<task>.md` (plots beside it in
`<task>_files/`), a self-contained `reports/<task>.html` and `reports/<task>.csv`, the
leaderboard as numbers.

    write_reports(Store("results"), "reports", prices=load_prices("prices.json"))

Each task gets the report of its kind (its Kind's `report`, harness.inputs.kinds): the kind its
records name, a generation report for `task_kind: "generation"` (harness.report.generation:
perplexity, style accuracy, continuations side by side); records that name none (from before
task kinds) a classification report (harness.report.build).

A report covers every record of its task in the results folder, whichever command made it, so
a run that adds or fails cells never hides what an earlier run measured. Costs are worked out
here from the records' stored seconds (harness.results.cost), never read from the records, so a
report can be re-priced without re-running.
"""

from __future__ import annotations

import dataclasses

from pathlib import Path

import pandas as pd

from harness.results.cost import load_prices, price_records
from harness.errors import HarnessError
from harness.paths import inside
from harness.inputs.kinds import Kind, kind_among, kind_of
from harness.report.parts import Report
from harness.report import disagreements as disagreement_page
from harness.report.html_page import render_html
from harness.report.index import write_index, write_summary
from harness.report.render import render_markdown
from harness.results.frames import with_labels
from harness.paths import write_atomic
from harness.results.store import Store, remove_stale_temps
from harness.inputs.tasks import BUILTIN_TASKS, AnyTask

PLOT_SUFFIXES = (".png", ".svg")


def write_reports(store: Store, out: str | Path, tasks: list[str | AnyTask] | None = None,
                  prices: dict[str, float] | None = None, strict: bool = False,
                  verdict=None) -> list[Path]:
    """One report per task: `tasks` (names or task objects; a classification task's labels
    stand in for those of records too old to carry them) or every task found. A named task
    without records is an error; so is a folder without records. `prices`
    (harness.results.cost.load_prices) defaults to the built-in table. An unreadable or invalid record is left out with a warning line on stderr
    naming it (an error when `strict`). `verdict(store, task, records)`, where given, makes the
    Markdown lines at the top of a ranked task's report (harness.recommend.verdict);
    a kind with `options` is ranked by its tasks' primary metric."""
    wanted = {t if isinstance(t, str) else t.name: t for t in tasks or []}
    records = pd.DataFrame(store.records(strict=strict))
    if records.empty:
        raise HarnessError(f"no records in '{store.root}': run `harness run` first")
    found = sorted(set(records["task"]))
    missing = [name for name in wanted if name not in found]
    if missing:
        raise HarnessError(f"no records of task '{missing[0]}' in '{store.root}' (tasks with "
                           f"records: {', '.join(found)})")
    if wanted:
        records = records[records["task"].isin(wanted)]
    known = {**BUILTIN_TASKS, **{t.name: t for t in wanted.values() if not isinstance(t, str)}}
    kinds = _task_kinds(records, known)
    labels = {name: task.labels for name, task in known.items() if kind_of(task).labelled}
    labelled = [task for task, kind in kinds.items() if kind.labelled]
    records = records.assign(labels=with_labels(
        records[records["task"].isin(labelled)], store, labels)["labels"])
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"cannot write to reports folder '{out}': {err.strerror}") from None
    prices = prices or load_prices(None)
    records = price_records(records, prices)
    paths = []
    for task, task_records in records.groupby("task", sort=True):
        build = kinds[task].part("report")
        report = build(store, str(task), task_records, prices)
        if verdict is not None and (kinds[task].ranked or kinds[task].options):
            report = dataclasses.replace(report, verdict=verdict(store, str(task),
                                                                 task_records))
        paths += _write_task_report(store, out, str(task), report)
        write_summary(out, report, kinds[task].name)
    return paths + write_index(out)


def _task_kinds(records: pd.DataFrame, known: dict[str, AnyTask]) -> dict[str, Kind]:
    """The kind of every task: the one its records name, or, for records that name none (older
    than kinds), the one its task definition has (harness.inputs.kinds.kind_among)."""
    said = records["task_kind"] if "task_kind" in records else pd.Series(None, records.index)
    defined = records["task"].map(lambda name: known[name].kind if name in known else None)
    names = said.where(said.notna(), defined)
    return {task: kind_among(group) for task, group in names.groupby(records["task"])}


def _write_task_report(store: Store, out: Path, task: str, report: Report) -> list[Path]:
    # A task name comes from a record: it may not lead outside the reports folder.
    assets = inside(out, f"{task}_files")
    assets.mkdir(exist_ok=True)
    for folder in (out, assets):  # a report killed while writing left its temporary files
        remove_stale_temps(folder)
    written = set()
    for name, plot in report.plots.items():
        write_atomic(assets / f"{name}.png", plot.png)
        written.add(f"{name}.png")
    for stale in assets.iterdir():  # plots of rows or kinds this report no longer has
        if stale.suffix in PLOT_SUFFIXES and stale.name not in written:
            stale.unlink(missing_ok=True)
    paths = [inside(out, f"{task}.{suffix}") for suffix in ("md", "html", "csv")]
    write_atomic(paths[0], render_markdown(report, assets.name).encode())
    write_atomic(paths[1], render_html(report).encode())
    write_atomic(paths[2], report.csv.encode())
    pages = [inside(out, f"{task}_disagreements.{suffix}") for suffix in ("md", "html")]
    if report.disagreements.empty:
        for page in pages:  # of an earlier report with more rows
            page.unlink(missing_ok=True)
        return paths
    write_atomic(pages[0], disagreement_page.render_markdown(task, report.disagreements).encode())
    write_atomic(pages[1], disagreement_page.render_html(task, report.disagreements).encode())
    return paths + pages
