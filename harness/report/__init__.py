"""Reports from stored records: `reports/<task>.md` (with PNG plots beside it) and a
self-contained `reports/<task>.html` (plots embedded).

    write_reports(Store("results"), "reports")
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.report.plots import render_plots
from harness.report.render import render_html, render_markdown
from harness.report.tables import failures, leaderboard, misclassified
from harness.store import Store, write_atomic


def write_reports(store: Store, out: str | Path, tasks: list[str] | None = None,
                  keys: list[str] | None = None) -> list[Path]:
    """One report per task; `keys` limits it to those cells (the cells of one run)."""
    records = pd.DataFrame(store.records())
    if records.empty:
        return []
    if keys is not None:
        records = records[records["key"].isin(keys)]
    if tasks:
        records = records[records["task"].isin(tasks)]
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"cannot write to reports folder '{out}': {err.strerror}") from None
    paths = []
    for task, task_records in records.groupby("task", sort=True):
        paths += _write_task_report(store, out, str(task), task_records)
    return paths


def _write_task_report(store: Store, out: Path, task: str, records: pd.DataFrame) -> list[Path]:
    ok = records[records["status"] == "ok"]
    board = leaderboard(ok, store) if not ok.empty else pd.DataFrame()
    plots = render_plots(ok, task) if not ok.empty else {}
    examples = misclassified(ok, store) if not ok.empty else {}
    failed = failures(records)
    assets = out / f"{task}_files"
    assets.mkdir(exist_ok=True)
    for name, png in plots.items():
        write_atomic(assets / f"{name}.png", png)
    context = {"task": task, "records": records, "leaderboard": board, "failed": failed,
               "plots": plots, "examples": examples}
    md_path, html_path = out / f"{task}.md", out / f"{task}.html"
    write_atomic(md_path, render_markdown(context, assets.name).encode())
    write_atomic(html_path, render_html(context).encode())
    return [md_path, html_path]
