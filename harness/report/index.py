"""The reports folder's front page: `index.md` and `index.html`, a row per task report with its
best row by the task's primary metric, linking the Markdown, HTML, CSV and disagreement page. Each task's report leaves a summary
(`.index/<task>.json`), so the index lists every report in the folder, including those a later
`harness report --task` did not rewrite.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pandas as pd

from harness.metrics import catalog
from harness.paths import inside, write_atomic
from harness.report.escape import md_escape
from harness.report.parts import Report

SUMMARIES = ".index"
RANKING = ("the best row is the first by the task's primary metric (a task file's "
           "`primary_metric`, else its kind's: accuracy, perplexity), on its largest "
           "evaluation set")


def summary(report: Report, kind: str) -> dict:
    """What the index shows of one task's report."""
    board, best, metric = report.board, {}, report.ranked_by
    if not board.empty and metric in board:
        # The board is ranked best first, its largest evaluation set first
        value = pd.to_numeric(board[metric], errors="coerce").iloc[0]
        if pd.notna(value):
            best = {"row": str(board["row"].iloc[0]), "metric": metric, "value": float(value),
                    "header": catalog.METRICS[metric].header or metric}
    return {"task": report.task, "kind": kind, "rows": int(len(board)), "best": best,
            "disagreements": not report.disagreements.empty,
            "verdict": report.verdict[0] if report.verdict else None,
            "written": time.strftime("%Y-%m-%d %H:%M")}


def write_summary(out: Path, report: Report, kind: str) -> None:
    folder = out / SUMMARIES
    folder.mkdir(exist_ok=True)
    # A task name comes from a record: it may not lead outside the folder
    write_atomic(inside(folder, f"{report.task}.json"),
                 json.dumps(summary(report, kind), indent=1).encode())


def write_index(out: Path) -> list[Path]:
    entries = []
    for path in sorted((out / SUMMARIES).glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        task = entry.get("task")
        if isinstance(entry, dict) and isinstance(task, str) and (out / f"{task}.html").is_file():
            entries.append(entry)
    paths = [out / "index.md", out / "index.html"]
    write_atomic(paths[0], _markdown(entries).encode())
    write_atomic(paths[1], _html(entries).encode())
    return paths


def _best(entry: dict) -> str:
    best = entry.get("best") or {}
    if not best:
        return "-"
    header = best.get("header") or str(best["metric"]).replace("_", " ")
    return f"{best['row']} ({header} {best['value']:.3g})"


def _pages(entry: dict) -> list[tuple[str, str]]:
    """(label, file) of a task's pages besides its HTML report."""
    task = entry["task"]
    pages = [("md", f"{task}.md"), ("csv", f"{task}.csv")]
    if entry.get("disagreements"):
        pages.append(("disagreements", f"{task}_disagreements.html"))
    return pages


def _link(page: str, label: str) -> str:
    return f"<a href='{html.escape(page)}'>{html.escape(label)}</a>"


def _markdown(entries: list[dict]) -> str:
    lines = ["# Reports", "", f"One report per task; {RANKING}.", "",
             "| task | kind | rows | best row | reports | written |", "|---|---|---:|---|---|---|"]
    for e in entries:
        task = md_escape(e["task"])
        links = " · ".join(f"[{label}]({page})"
                           for label, page in [("html", f"{e['task']}.html"), *_pages(e)])
        lines.append(f"| {task} | {md_escape(e['kind'])} | {e['rows']} | {md_escape(_best(e))} "
                     f"| {links} | {e['written']} |")
    return "\n".join(lines) + "\n"


def _html(entries: list[dict]) -> str:
    escape = html.escape
    rows = "".join(
        f"<tr><td><a href='{escape(e['task'])}.html'>{escape(e['task'])}</a></td>"
        f"<td>{escape(e['kind'])}</td><td class='n'>{e['rows']}</td><td>{escape(_best(e))}</td>"
        f"<td>{' · '.join(_link(page, label) for label, page in _pages(e))}"
        f"</td><td>{escape(e['written'])}</td></tr>" for e in entries)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Reports</title>"
            "<style>body{font:15px/1.45 system-ui,sans-serif;margin:2em;max-width:1200px}"
            "table{border-collapse:collapse}td,th{padding:.35em .8em;border-bottom:1px solid "
            "#ddd;text-align:left}td.n{text-align:right}</style></head><body><h1>Reports</h1>"
            f"<p>One report per task; {RANKING}.</p><table><thead><tr><th>task</th><th>kind</th>"
            "<th>rows</th><th>best row</th><th>also as</th><th>written</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></body></html>\n")
