"""Markdown and self-contained HTML from the report's tables and plots. Every text that comes
from data or records goes through `html.escape` (HTML) or `md_escape` (Markdown), so a dataset
text can neither become an element nor break a table."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pandas as pd

from harness.report.notes import notes

COLUMNS = {  # leaderboard column: header shown
    "strategy": "strategy", "model": "model", "model_source": "model source",
    "backend": "backend", "accuracy_text": "accuracy (95% CI)", "macro_f1": "macro-F1",
    "p_vs_best": "p vs best", "fit_s": "fit (s)", "throughput_eps": "examples/s",
    "latency_p50_ms": "latency p50 (ms)", "latency_p95_ms": "latency p95 (ms)",
    "ram_mib": "RAM above baseline (MiB)", "gpu_mib": "GPU reserved (MiB)",
    "weights_mib": "weights (MiB)", "setup_cost_usd": "set-up (USD, once)",
    "fit_cost_usd": "fit (USD)", "predict_cost_usd_per_1k": "USD per 1k predictions",
    "params": "trainable / total params", "device": "device",
}
PLOT_TITLES = {"accuracy_vs_cost": "Accuracy vs cost", "accuracy_vs_latency":
               "Accuracy vs latency", "confusion_matrices": "Confusion matrices"}


def display_table(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as strings, ready for either format; optional columns only when some
    row has them (model source, GPU memory)."""
    shown = pd.DataFrame({
        "strategy": board["strategy"], "model": board["model"],
        "model_source": board["model_source"], "backend": board["backend"],
        "accuracy_text": board.apply(_accuracy, axis=1),
        "macro_f1": board["macro_f1"].map("{:.3f}".format),
        "p_vs_best": board["p_vs_best"].map(lambda p: "best" if np.isnan(p) else f"{p:.3f}"),
        "fit_s": board["fit_s"].map("{:.1f}".format),
        "throughput_eps": board["throughput_eps"].map("{:.1f}".format),
        "latency_p50_ms": board["latency_p50_ms"].map("{:.1f}".format),
        "latency_p95_ms": board["latency_p95_ms"].map("{:.1f}".format),
        "ram_mib": board["rss_above_baseline_bytes"].map(lambda b: _mib(b, "{:.0f}")),
        "gpu_mib": board.apply(_gpu_memory, axis=1),
        "weights_mib": board["weight_bytes"].map(lambda b: _mib(b, "{:.1f}")),
        **{c: board[c].map(_usd) for c in ("setup_cost_usd", "fit_cost_usd",
                                           "predict_cost_usd_per_1k")},
        "params": board.apply(lambda r: f"{_count(r['trainable_params'])} / "
                                        f"{_count(r['total_params'])}", axis=1),
        "device": board.apply(_device, axis=1),
    })
    if not (board["model_source"] != "").any():
        shown = shown.drop(columns="model_source")
    if board[["cuda_peak_reserved_bytes", "footprint_vllm_reserved_bytes"]].isna().all(axis=None):
        shown = shown.drop(columns="gpu_mib")
    return shown.rename(columns=COLUMNS)


def _accuracy(row) -> str:
    if row["seeds"] > 1:
        return f"{row['accuracy']:.3f} ± {row['accuracy_seed_std']:.3f} ({row['seeds']} seeds)"
    text = f"{row['accuracy']:.3f} [{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]"
    if row.get("trials", 1) > 1:
        text += f"; ± {row['accuracy_trial_std']:.3f} over {int(row['trials'])} trials"
    return text


def _mib(n_bytes, fmt: str) -> str:
    return "-" if pd.isna(n_bytes) else fmt.format(n_bytes / 2**20)


def _gpu_memory(row) -> str:
    text = _mib(row["cuda_peak_reserved_bytes"], "{:.0f}")
    if pd.notna(row["footprint_vllm_reserved_bytes"]):
        text += f" (vLLM {_mib(row['footprint_vllm_reserved_bytes'], '{:.0f}')})"
    return text


def _usd(value) -> str:
    # Three significant digits, never in e-notation: costs span 1e-7 (tf-idf) to dollars;
    # under a millionth of a dollar the digits say nothing a reader needs.
    if pd.isna(value):
        return "-"
    if 0 < value < 1e-6:
        return "<0.000001"
    return np.format_float_positional(value, precision=3, unique=False, fractional=False,
                                      trim="-")


def _device(row) -> str:
    if row["device"] == "cpu":
        threads = row["cpu_threads"]
        return "cpu" if pd.isna(threads) else f"cpu, {int(threads)} threads"
    return str(row["device_name"]) if pd.notna(row["device_name"]) else str(row["device"])


def _count(n) -> str:
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{int(n)}"


# Markdown would read these as markup: HTML and entities (< > &), table cells (|), escapes
# (\\), and inline elements (links and images [ ], emphasis * _, code `, strikethrough ~).
# An underscore between two letters or digits (`Q4_1`, `n_train`) can never start or end
# emphasis, so it is left readable.
_MD_SPECIAL = re.compile(r"[&<>\\|\[\]*`~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _no_html(text: str) -> str:
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_escape(value) -> str:
    """`value` as literal Markdown text on one line: rendered, it shows exactly these
    characters and makes no element (no HTML, link, image, emphasis or extra table cell)."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m[0], "\\" + m[0]), text)


def _md_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(md_escape, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(md_escape, row)) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def render_markdown(context, assets: str) -> str:
    parts = [f"# {md_escape(context['task'])}: adaptation strategies compared", ""]
    # Notes keep their own emphasis and code spans; values from records in them (names,
    # versions) must still not become HTML.
    parts += [f"- {_no_html(note)}" for note in notes(context)] + [""]
    if not context["leaderboard"].empty:
        parts += ["## Leaderboard", "", _md_table(display_table(context["leaderboard"])), ""]
    for name in context["plots"]:
        parts += [f"## {PLOT_TITLES.get(name, name)}", "", f"![{name}]({assets}/{name}.png)", ""]
    for strategy, frame in context["examples"].items():
        parts += [f"### Confidently wrong: {md_escape(strategy)}", "", _md_table(frame), ""]
    if not context["failed"].empty:
        parts += ["## Failed cells", "", _md_table(context["failed"]), ""]
    return "\n".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}img{max-width:100%}"""


def render_html(context) -> str:
    escape = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
             f"{escape(context['task'])} report</title><style>{_STYLE}</style></head><body>",
             f"<h1>{escape(context['task'])}: adaptation strategies compared</h1><ul>"]
    parts += [f"<li>{escape(note)}</li>" for note in notes(context)] + ["</ul>"]
    if not context["leaderboard"].empty:
        parts += ["<h2>Leaderboard</h2>",
                  display_table(context["leaderboard"]).to_html(index=False, escape=True)]
    for name, png in context["plots"].items():
        data = base64.b64encode(png).decode()
        parts += [f"<h2>{escape(PLOT_TITLES.get(name, name))}</h2>",
                  f"<img alt='{escape(name)}' src='data:image/png;base64,{data}'>"]
    for strategy, frame in context["examples"].items():
        parts += [f"<h3>Confidently wrong: {escape(strategy)}</h3>",
                  frame.to_html(index=False, escape=True)]
    if not context["failed"].empty:
        parts += ["<h2>Failed cells</h2>", context["failed"].to_html(index=False, escape=True)]
    parts.append("</body></html>")
    return "\n".join(parts)
