"""Plots of the leaderboard, one point or panel per row and named by it: accuracy against cost
and latency (with the Pareto front), and one confusion matrix per row in the task's label
order. Each comes as PNG (for Markdown) and SVG (for HTML, where a point shows its row's name
on hover).
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # reports are written on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from harness.metrics import catalog  # noqa: E402
from harness.report.formats import dollars  # noqa: E402

MARKERS = "osD^vP*Xph<>"
FONT = 10  # points, every text of every plot: legible at a laptop's width


@dataclass(frozen=True)
class Plot:
    title: str
    png: bytes
    svg: str  # an <svg> element, for inline use


def render_plots(board: pd.DataFrame, confusions: dict) -> dict[str, Plot]:
    """`board`: harness.report.tables.leaderboard; `confusions`: row name -> (labels in task
    order, matrix of counts, true labels down, predictions across)."""
    plots = {
        "accuracy_vs_cost": ("Accuracy vs cost", lambda: _tradeoff(
            board, "cost_usd", "cost for this task (USD: fit + prediction, no set-up)")),
        "accuracy_vs_latency": ("Accuracy vs latency", lambda: _tradeoff(
            board, "latency_p50_ms", "latency p50 (ms, batch size 1)")),
        "confusion_matrices": ("Confusion matrices", lambda: _confusions(confusions)),
    }
    return {name: both_formats(name, title, draw) for name, (title, draw) in plots.items()}


def pareto_front(costs: np.ndarray, accuracies: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats: at most their cost with more accuracy."""
    mask = np.ones(len(costs), dtype=bool)
    for i in range(len(costs)):
        dominated = (costs <= costs[i]) & (accuracies >= accuracies[i]) & (
            (costs < costs[i]) | (accuracies > accuracies[i]))
        mask[i] = not dominated.any()
    return mask


def _tradeoff(board: pd.DataFrame, x: str, xlabel: str):
    """One point per row (its 95% interval as a bar), the row's name in legend and hover."""
    fig, ax = plt.subplots(figsize=(8, 5.2))
    points = board[board[x].notna()].reset_index(drop=True)
    colours = sns.color_palette("tab10" if len(points) <= 10 else "husl", len(points))
    names = {}
    for i, row in points.iterrows():
        gid = f"point{i}"
        names[gid] = row["row"]
        ax.errorbar(row[x], row["accuracy"], fmt="none", ecolor="grey", alpha=0.6,
                    yerr=[[row["accuracy"] - row["accuracy_ci_low"]],
                          [row["accuracy_ci_high"] - row["accuracy"]]])
        ax.scatter(row[x], row["accuracy"], s=80, color=colours[i], label=row["row"],
                   marker=MARKERS[i % len(MARKERS)], gid=gid, zorder=3)
    # Directions come from the metrics' declaration: cheaper / faster and more accurate win.
    sign = 1 if catalog.direction(x) else -1
    front = points[pareto_front(-sign * points[x].to_numpy(),
                                points["accuracy"].to_numpy())].sort_values(x)
    ax.plot(front[x], front["accuracy"], "--", color="black", lw=1, label="Pareto front")
    if len(points) and (points[x] > 0).all() and \
            points[x].max() / max(points[x].min(), 1e-12) > 20:
        ax.set_xscale("log")
    if x == "cost_usd":  # dollars as written, never matplotlib's 1e-5 offset or exponents
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: dollars(value)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    # No title: the report's heading above the plot says what it is
    ax.set(xlabel=xlabel, ylabel="accuracy (95% CI)")
    ax.tick_params(labelsize=FONT)
    ax.xaxis.label.set_size(FONT + 1)
    ax.yaxis.label.set_size(FONT + 1)
    # Below the axes: row names are long, and beside the axes they would squeeze them.
    ax.legend(fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    return fig, names


def _confusions(confusions: dict):
    """One heat map per row: shares of each true class (colour) and counts (numbers; a row of
    several trials or seeds shows their mean, to one decimal where it is not whole)."""
    columns = min(3, max(len(confusions), 1))
    rows = int(np.ceil(len(confusions) / columns)) or 1
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 4.2 * rows), squeeze=False)
    for ax, (name, (labels, matrix)) in zip(axes.flat, confusions.items()):
        matrix = np.asarray(matrix, dtype=float)
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        whole = np.allclose(matrix, np.round(matrix))
        sns.heatmap(share, annot=np.round(matrix).astype(int) if whole else matrix,
                    fmt="d" if whole else ".1f", cmap="Blues", vmin=0, vmax=1,
                    annot_kws={"fontsize": FONT},
                    xticklabels=labels, yticklabels=labels, cbar=False, ax=ax)
        ax.set_title(_wrapped(name), fontsize=FONT)
        ax.set(xlabel="predicted", ylabel="true")
        ax.tick_params(labelsize=FONT - 1)
        ax.tick_params(axis="x", labelrotation=45)
        ax.tick_params(axis="y", labelrotation=0)
    for ax in list(axes.flat)[len(confusions):]:
        ax.axis("off")
    return fig, {}


def _wrapped(name: str, width: int = 48) -> str:
    """A long row name on two lines, so neighbouring titles do not overlap."""
    if len(name) <= width:
        return name
    cut = name.rfind(" ", 0, width)
    cut = cut if cut > 0 else width
    return name[:cut] + "\n" + name[cut:].strip()


def both_formats(name: str, title: str, draw) -> Plot:
    fig, names = draw()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    svg = io.StringIO()
    # Text as text (crisp, searchable); a fixed salt keeps the file the same for the same plot.
    with matplotlib.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    return Plot(title, png.getvalue(), _with_titles(_element(svg.getvalue()), name, names))


def _element(svg: str) -> str:
    """The <svg> element alone, without the XML prologue and doctype."""
    return svg[svg.index("<svg"):]


def _with_titles(svg: str, plot: str, names: dict[str, str]) -> str:
    """Every id (and reference to one) prefixed with the plot's name, so that several inline
    SVGs share a page, and each named point given a <title> (shown on hover)."""
    svg = re.sub(r'(\bid="|href="#|url\(#)', rf"\g<1>{plot}-", svg)

    def titled(match: re.Match) -> str:
        name = names.get(match[2])
        return match[0] + (f"<title>{html.escape(name)}</title>" if name else "")

    return re.sub(rf'<g id="({re.escape(plot)}-(point\d+))">', titled, svg)
