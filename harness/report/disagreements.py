"""The evaluation rows where the leaderboard's rows disagree most, each row's answer and the
probability it gave it: what the strategies do differently, read on the examples themselves
(HELM's instance view). A page beside the task's report, `<task>_disagreements.html` (a filter
by true label) and `.md`.

    table = disagreements(ok, store, limit=60)   # text, true, then one column per row
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from harness.report.escape import md_escape
from harness.report.tables import first_answers
from harness.results.store import Store

LIMIT = 60


def disagreements(ok: pd.DataFrame, store: Store, limit: int = LIMIT) -> pd.DataFrame:
    """The `limit` evaluation rows whose answers differ most across the leaderboard's rows
    (on the evaluation set most rows share; each row's first record and first trial): most
    distinct answers first, then most rows wrong. Columns: index, text, true, and per row
    '<answer> (p)' with `ok_<row>` saying whether it was right."""
    if ok.empty or "eval_fingerprint" not in ok:
        return pd.DataFrame()
    shared = ok["eval_fingerprint"].mode().iloc[0]
    every = first_answers(ok[ok["eval_fingerprint"] == shared], store)
    if len(every) < 2:
        return pd.DataFrame()
    first = next(iter(every.values()))
    frame, labels = first.frame, first.labels
    answers = {name: (a.predicted, a.confidence) for name, a in every.items()}
    true = frame["label"].to_numpy(dtype=np.int64)
    predicted = np.stack([a for a, _ in answers.values()])
    distinct = np.array([len(set(column)) for column in predicted.T])
    wrong = (predicted != true).sum(axis=0)
    order = np.lexsort((-wrong, -distinct))
    order = order[distinct[order] > 1][:limit]
    table = pd.DataFrame({"index": frame["index"].to_numpy()[order],
                          "text": frame["text"].to_numpy()[order],
                          "true": [labels[i] for i in true[order]]})
    for name, (answer, probability) in answers.items():
        table[name] = [labels[a] + ("" if np.isnan(p) else f" ({p:.2f})")
                       for a, p in zip(answer[order], probability[order])]
        table[f"ok_{name}"] = answer[order] == true[order]
    return table


def rows_of(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ("index", "text", "true")
            and not c.startswith("ok_")]


def render_markdown(task: str, table: pd.DataFrame) -> str:
    lines = [f"# {md_escape(task)}: where the strategies disagree", "",
             _intro(len(table)), ""]
    names = rows_of(table)
    lines.append("| row | text | true | " + " | ".join(map(md_escape, names)) + " |")
    lines.append("|---:|---|---|" + "---|" * len(names))
    for _, row in table.iterrows():
        cells = [f"{'✓' if row[f'ok_{n}'] else '✗'} {md_escape(row[n])}" for n in names]
        lines.append(f"| {row['index']} | {md_escape(row['text'])} | {md_escape(row['true'])} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _intro(rows: int) -> str:
    return (f"The {rows} evaluation rows whose answers differ most between the leaderboard's "
            f"rows (most distinct answers first, then most rows wrong), each row's answer "
            f"and the probability it gave it (its first record and trial); ✓ right, ✗ wrong.")


def _answer(text: str) -> str:
    """'Business (0.93)' as the label over its probability: a column per strategy stays narrow
    enough for a dozen of them at 1,280 px."""
    label, sep, probability = str(text).rpartition(" (")
    if not sep:
        return html.escape(str(text))
    return f"{html.escape(label)}<br><span class='p'>{html.escape(probability.rstrip(')'))}</span>"


def render_html(task: str, table: pd.DataFrame) -> str:
    escape = html.escape
    names = rows_of(table)
    labels = sorted(set(table["true"]))
    options = "".join(f"<option>{escape(label)}</option>" for label in labels)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = "".join(
        f"<tr data-true='{escape(row['true'])}'><td class='n'>{row['index']}</td>"
        f"<td class='text'>{escape(row['text'])}</td><td>{escape(row['true'])}</td>"
        + "".join(f"<td class='{'right' if row[f'ok_{n}'] else 'wrong'}'>{_answer(row[n])}</td>"
                  for n in names) + "</tr>" for _, row in table.iterrows())
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(task)}: disagreements</title><style>"
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;"
        "font-size:13px}td,th{padding:.25em .35em;border-bottom:1px solid #ddd;"
        "vertical-align:top;text-align:left}th{font-weight:600;font-size:12px;max-width:7em;"
        "overflow-wrap:anywhere}"
        "td.text{min-width:16em;max-width:30em}td.n{text-align:right}td.right{color:#1a6b2a}"
        "td.wrong{color:#a11;background:#fff3f3}span.p{color:#777;font-size:11px}"
        "</style></head><body>"
        f"<h1>{escape(task)}: where the strategies disagree</h1><p>{escape(_intro(len(table)))}"
        f" <a href='{escape(task)}.html'>Back to the report</a>.</p>"
        f"<p><label>True label: <select id='true'><option value=''>any</option>{options}"
        "</select></label></p><table><thead><tr><th>row</th><th>text</th><th>true</th>"
        f"{head}</tr></thead><tbody>{body}</tbody></table><script>"
        "document.getElementById('true').addEventListener('change',function(e){"
        "document.querySelectorAll('tbody tr').forEach(function(r){"
        "r.style.display=!e.target.value||r.dataset.true===e.target.value?'':'none';});});"
        "</script></body></html>\n")
