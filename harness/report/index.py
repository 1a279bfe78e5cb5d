"""The reports folder's front page: `index.md` and `index.html`, a row per task report with its
best row, linking the Markdown, HTML and CSV. Each task's report leaves a summary
(`.index/<task>.json`), so the index lists every report in the folder, including those a later
`harness report --task` did not rewrite.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pandas as pd

from harness.paths import inside, write_atomic
from harness.report.escape import md_escape
from harness.report.parts import Report

SUMMARIES = ".index"


def summary(report: Report, kind: str) -> dict:
    """What the index shows of one task's report."""
    board, best = report.board, {}
    if not board.empty:
        metric = next((m for m in ("accuracy", "style_accuracy", "perplexity") if m in board),
                      None)
        if metric is not None:
            values = pd.to_numeric(board[metric], errors="coerce")
            at = values.idxmin() if metric == "perplexity" else values.idxmax()
            if pd.notna(at):
                best = {"row": str(board.loc[at, "row"]), "metric": metric,
                        "value": float(values[at])}
    return {"task": report.task, "kind": kind, "rows": int(len(board)), "best": best,
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
    return f"{best['row']} ({best['metric'].replace('_', ' ')} {best['value']:.3f})"


def _markdown(entries: list[dict]) -> str:
    lines = ["# Reports", "", "One report per task; the best row by the task's ranking "
             "metric (accuracy; a generation task: style accuracy).", "",
             "| task | kind | rows | best row | reports | written |", "|---|---|---:|---|---|---|"]
    for e in entries:
        task = md_escape(e["task"])
        links = " · ".join(f"[{suffix}]({e['task']}.{suffix})" for suffix in ("html", "md", "csv"))
        lines.append(f"| {task} | {md_escape(e['kind'])} | {e['rows']} | {md_escape(_best(e))} "
                     f"| {links} | {e['written']} |")
    return "\n".join(lines) + "\n"


def _html(entries: list[dict]) -> str:
    escape = html.escape
    rows = "".join(
        f"<tr><td><a href='{escape(e['task'])}.html'>{escape(e['task'])}</a></td>"
        f"<td>{escape(e['kind'])}</td><td class='n'>{e['rows']}</td><td>{escape(_best(e))}</td>"
        f"<td><a href='{escape(e['task'])}.md'>md</a> · <a href='{escape(e['task'])}.csv'>csv"
        f"</a></td><td>{escape(e['written'])}</td></tr>" for e in entries)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Reports</title>"
            "<style>body{font:15px/1.45 system-ui,sans-serif;margin:2em;max-width:1200px}"
            "table{border-collapse:collapse}td,th{padding:.35em .8em;border-bottom:1px solid "
            "#ddd;text-align:left}td.n{text-align:right}</style></head><body><h1>Reports</h1>"
            "<p>One report per task; the best row by the task's ranking metric (accuracy; a "
            "generation task: style accuracy).</p><table><thead><tr><th>task</th><th>kind</th>"
            "<th>rows</th><th>best row</th><th>also as</th><th>written</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></body></html>\n")
