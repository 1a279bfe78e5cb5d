"""The report as one self-contained HTML page: plots inline (SVG, a point names its row on
hover), a leaderboard sortable by any column (numbers sort as numbers), no Markdown syntax.
Every text from data or records is escaped with `html.escape`; the report's own Markdown
(notes, summaries) goes through `inline_html`."""

from __future__ import annotations

import html
import re
import math

import pandas as pd

from harness.report.parts import Report
from harness.report.display import Table
from harness.report.escape import inline_html

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2em 1.5em;color:#222;
 line-height:1.4}
h1{font-size:1.6em;margin-bottom:.3em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
h3{margin:1.2em 0 .3em}ul.notes{font-size:13px;color:#444;max-width:1100px}
ul.notes li{margin:.25em 0}nav.contents{font-size:13px;margin:.2em 0 1em;color:#555}
ul.verdict{font-size:15px;max-width:1100px;background:#f3f7ff;padding:.6em 1.2em .6em 2em;
border-left:4px solid #4a6fd1}ul.verdict li{margin:.3em 0}p.note{margin:.2em 0 .5em;color:#555;font-size:13px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12.5px;margin:.3em 0 1em}
td,th{border:1px solid #d5d5d5;padding:3px 5px;text-align:left;vertical-align:top}
th{background:#f1f3f5;vertical-align:bottom}td{min-width:6em;max-width:26em}
td.n{text-align:right;min-width:0}
table.sortable td:first-child{font-weight:600;min-width:11em}table.plain td{max-width:60em}
table.texts td{white-space:pre-wrap;max-width:70em}table.texts td:first-child{font-weight:600}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:hover{background:#e2e6ea}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
tr.best td{background:#eef7ee}code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
.plots{display:flex;flex-wrap:wrap;gap:1em 2em;align-items:flex-start}
.plots figure{flex:1 1 600px;margin:0}figure svg{width:100%;height:auto}
.hint{color:#777;font-size:12px}
"""

# Sorts a table by the clicked column: by each cell's data-sort number where it has one
# (missing numbers last), else by its text; a second click reverses.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var up = th.dataset.dir !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = up ? "asc" : "desc";
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        if (cell.dataset.sort === undefined) return cell.textContent.trim();
        return cell.dataset.sort === "" ? NaN : parseFloat(cell.dataset.sort);
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === "number" || typeof y === "number") {
          if (isNaN(x)) return isNaN(y) ? 0 : 1;
          if (isNaN(y)) return -1;
          return up ? x - y : y - x;
        }
        return up ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _verdict(lines: list[str]) -> str:
    """The verdict as a list; a line starting '- ' is an item of the one before it."""
    if not lines:
        return ""
    items: list[list[str]] = []
    for line in lines:
        if line.startswith("- ") and items:
            items[-1].append(line[2:])
        else:
            items.append([line])
    body = "".join(f"<li>{inline_html(head)}" + (
        "<ul>" + "".join(f"<li>{inline_html(sub)}</li>" for sub in subs) + "</ul>"
        if subs else "") + "</li>" for head, *subs in items)
    return f"<h2 id='verdict'>Verdict</h2><ul class='verdict'>{body}</ul>"


def render_html(report: Report) -> str:
    escape = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{escape(report.task)} report</title><style>{_STYLE}</style></head><body>",
             f"<h1>{escape(report.task)}: adaptation strategies compared</h1>",
             _verdict(report.verdict),
             "<ul class='notes'>" + "".join(f"<li>{inline_html(n)}</li>" for n in report.notes)
             + "</ul>"]
    if report.tables:
        parts.append("<h2>Leaderboard</h2><p class='hint'>Click a column's header to sort by "
                     "it; ↑ higher is better, ↓ lower is better. What each column means: "
                     "<a href='#reading'>How to read the tables</a>.</p>")
    for table in report.tables:
        if table.heading:
            parts.append(f"<h3>{inline_html(table.heading)}</h3>")
        parts += [f"<p class='note'>{inline_html(table.note)}.</p>", _leaderboard(table)]
    if report.resources is not None:
        parts += ["<h2>Time, memory and size</h2>", _leaderboard(report.resources)]
    if report.plots:  # side by side where the page is wide enough
        parts += ["<h2>Plots</h2><div class='plots'>",
                  *(f"<figure><h3>{escape(plot.title)}</h3>{plot.svg}</figure>"
                    for plot in report.plots.values()), "</div>"]
    for section in report.sections:  # texts from data: escaped, their line breaks kept
        parts.append(f"<h2>{inline_html(section.heading)}</h2>")
        parts += [f"<p class='note'>{inline_html(note)}</p>" for note in section.notes]
        for title, frame in section.tables:
            parts += [f"<h3>{inline_html(title)}</h3>", _table(frame, "texts")]
    if report.rows:
        parts.append("<h2>Per row</h2>")
    for row in report.rows:
        parts += [f"<h3>{escape(row.name)}</h3>", f"<p class='note'>{inline_html(row.summary)}</p>",
                  _table(row.per_class)]
        if not row.wrong.empty:
            parts += [f"<p class='note'>Confidently wrong ({escape(row.name)}):</p>",
                      _table(row.wrong)]
    if not report.failed.empty:
        parts += ["<h2>Failed cells</h2>", _table(report.failed)]
    if report.reading:
        parts += ["<h2 id='reading'>How to read the tables</h2><ul class='notes'>"
                  + "".join(f"<li>{inline_html(n)}</li>" for n in report.reading) + "</ul>"]
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(_with_contents(parts, report.task, not report.disagreements.empty))


_HEADING = re.compile(r"<h2(?: id='([^']*)')?>(.*?)</h2>", re.S)


def _with_contents(parts: list[str], task: str, examples: bool) -> list[str]:
    """Every section heading given an id, and a line of links to them (and to the table as
    CSV, beside the page) under the title."""
    links, used = [], set()

    def anchor(match: re.Match) -> str:
        name = match.group(1) or re.sub(r"[^a-z0-9]+", "-",
                                        html.unescape(re.sub("<[^>]+>", "", match.group(2)))
                                        .lower()).strip("-") or "section"
        while name in used:
            name += "-"
        used.add(name)
        links.append(f"<a href='#{name}'>{match.group(2)}</a>")
        return f"<h2 id='{name}'>{match.group(2)}</h2>"

    parts = [_HEADING.sub(anchor, part) for part in parts]
    links.append(f"<a href='{html.escape(task)}.csv'>the leaderboard as CSV</a>")
    if examples:
        links.append(f"<a href='{html.escape(task)}_disagreements.html'>the rows where the "
                     f"strategies disagree</a>")
    nav = "<nav class='contents'>Contents: " + " · ".join(links) + "</nav>"
    return [parts[0], parts[1], nav, *parts[2:]]


def _leaderboard(table: Table) -> str:
    arrows = {True: " ↑", False: " ↓"}
    head = "".join(f"<th title='{html.escape(column)}'>{html.escape(column)}"
                   f"{arrows.get(table.higher_is_better.get(column), '')}</th>"
                   for column in table.shown.columns)
    best = table.shown.get("Δ vs best (95% CI)", pd.Series("", index=table.shown.index))
    numeric = {c: pd.to_numeric(table.sort_keys[c], errors="coerce").notna().any()
               for c in table.shown.columns}
    body = []
    for i, row in table.shown.iterrows():
        cells = []
        for column, text in row.items():
            key = table.sort_keys.at[i, column]
            sort = "" if key is None or (isinstance(key, float) and math.isnan(key)) else key
            attribute = (f" class='n' data-sort='{html.escape(str(sort))}'" if numeric[column]
                         else "")
            cells.append(f"<td{attribute}>{_wrappable(str(text), numeric[column])}</td>")
        marker = " class='best'" if best.iloc[i] == "best" else ""
        body.append(f"<tr{marker}>{''.join(cells)}</tr>")
    return (f"<div class='scroll'><table class='sortable'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _wrappable(text: str, number: bool) -> str:
    """A number's cell may break before its interval ("0.885" over "[0.864, 0.903]") and
    nowhere else, so that the leaderboard fits a laptop's width."""
    if not number:
        return html.escape(text)
    head, bracket, interval = text.partition(" [")
    keep = html.escape(head).replace(" ", "&nbsp;")
    if not bracket:
        return keep
    return f"{keep} [{html.escape(interval).replace(' ', '&nbsp;')}"


def _table(frame: pd.DataFrame, kind: str = "plain") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return (f"<div class='scroll'><table class='{kind}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody>"
            f"</table></div>")
