"""Reports from stored records: `reports/<task>.md` (with PNG plots beside it) and a
self-contained `reports/<task>.html` (plots embedded).

    write_reports(Store("results"), "reports", prices=load_prices("prices.json"))

Costs are worked out here from the records' stored seconds (harness.cost), never read from
the records, so a report can be re-priced without re-running.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.cost import load_prices, price_records
from harness.errors import HarnessError
from harness.paths import inside
from harness.report.plots import render_plots
from harness.report.render import render_html, render_markdown
from harness.report.tables import failures, latest_per_seed, leaderboard, misclassified
from harness.store import Store, write_atomic


def write_reports(store: Store, out: str | Path, tasks: list[str] | None = None,
                  keys: list[str] | None = None,
                  prices: dict[str, float] | None = None, strict: bool = False) -> list[Path]:
    """One report per task; `keys` limits it to those cells (the cells of one run); `prices`
    (harness.cost.load_prices) defaults to the built-in table. An unreadable or invalid record
    is left out with a warning line on stderr naming it (an error when `strict`)."""
    records = pd.DataFrame(store.records(strict=strict))
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
    prices = prices or load_prices(None)
    records = price_records(records, prices)
    paths = []
    for task, task_records in records.groupby("task", sort=True):
        paths += _write_task_report(store, out, str(task), task_records, prices)
    return paths


def _write_task_report(store: Store, out: Path, task: str, records: pd.DataFrame,
                       prices: dict[str, float]) -> list[Path]:
    every_ok = records[records["status"] == "ok"]
    ok = latest_per_seed(every_ok) if not every_ok.empty else every_ok
    board = leaderboard(ok, store) if not ok.empty else pd.DataFrame()
    plots = render_plots(ok, task) if not ok.empty else {}
    examples = misclassified(ok, store) if not ok.empty else {}
    failed = failures(records)
    # A task name comes from a record: it may not lead outside the reports folder.
    assets = inside(out, f"{task}_files")
    assets.mkdir(exist_ok=True)
    for name, png in plots.items():
        write_atomic(assets / f"{name}.png", png)
    context = {"task": task, "records": records, "ok": ok, "leaderboard": board,
               "failed": failed, "plots": plots, "examples": examples, "prices": prices,
               "superseded": len(every_ok) - len(ok)}
    md_path, html_path = inside(out, f"{task}.md"), inside(out, f"{task}.html")
    write_atomic(md_path, render_markdown(context, assets.name).encode())
    write_atomic(html_path, render_html(context).encode())
    return [md_path, html_path]
