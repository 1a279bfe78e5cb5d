"""The plot of a generation report: how far from real text each row writes against held-out
perplexity, one point per leaderboard row with its 95% intervals as bars, named in the legend
and on hover (SVG), the Pareto front of each evaluation set, and what real text scores as
reference lines. "How far" is the hard-negative judge's AUC where the records have it (0.5: the
judge cannot tell the row's text from real), else the contrast judge's style accuracy, which
saturates (records made before the hard-negative judge).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports are written on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402

from harness.metrics import catalog  # noqa: E402
from harness.report.plots import FONT, MARKERS, Plot, both_formats, pareto_front  # noqa: E402

PLOT_NAME = "style_vs_perplexity"


# (title, axis label, reference lines: (value or column, colour, label))
AXES = {
    "hard_judge_auc": ("Judge AUC vs perplexity", "hard-negative judge AUC (95% CI)",
                       ((0.5, "tab:green", "0.5: the judge cannot tell it from real text"),)),
    "style_accuracy": ("Style accuracy vs perplexity", "style accuracy (95% CI)",
                       (("style_judge_on_reference", "tab:green",
                         "judge on the reference passages"),
                        ("style_judge_on_contrast", "tab:red",
                         "judge on held-out contrast rows"))),
}


def y_metric(board: pd.DataFrame) -> str:
    """The judge AUC where a row has one, else style accuracy."""
    has_auc = "hard_judge_auc" in board and board["hard_judge_auc"].notna().any()
    return "hard_judge_auc" if has_auc else "style_accuracy"


def render_generation_plots(board: pd.DataFrame, task: str) -> dict[str, Plot]:
    """`board`: harness.report.generation_table.generation_board."""
    metric = y_metric(board)
    return {PLOT_NAME: both_formats(PLOT_NAME, AXES[metric][0],
                                     lambda: _against_perplexity(board, metric))}


def _against_perplexity(board: pd.DataFrame, metric: str):
    _, label, references = AXES[metric]
    higher_is_better = catalog.direction(metric)
    fig, ax = plt.subplots(figsize=(8, 5.2))
    # A row without either number (a backend that cannot score text) has no place here.
    points = board[(board["perplexity"] > 0) & board[metric].notna()].reset_index(drop=True)
    colours = sns.color_palette("tab10" if len(points) <= 10 else "husl", max(len(points), 1))
    names = {}
    for i, row in points.iterrows():
        gid = f"point{i}"
        names[gid] = row["row"]
        ax.errorbar(row["perplexity"], row[metric], fmt="none", ecolor="grey",
                    alpha=0.6, xerr=_bar(row, "perplexity"), yerr=_bar(row, metric))
        ax.scatter(row["perplexity"], row[metric], s=80, color=colours[i],
                   label=row["row"], marker=MARKERS[i % len(MARKERS)], gid=gid, zorder=3)
    sets = points.groupby("eval_set", sort=True)
    sign = 1 if higher_is_better else -1
    for number, members in sets:  # lower perplexity and a better y win
        front = members[pareto_front(members["perplexity"].to_numpy(),
                                     sign * members[metric].to_numpy())]
        name = "Pareto front" + (f" (evaluation set {int(number)})" if len(sets) > 1 else "")
        front = front.sort_values("perplexity")
        ax.plot(front["perplexity"], front[metric], "--", color="black", lw=1, label=name)
    lines = []
    for reference, colour, name in references:
        value = reference if not isinstance(reference, str) else (
            board[reference].mean() if reference in board and board[reference].notna().any()
            else None)
        if value is not None:
            ax.axhline(value, ls=":", lw=1.2, color=colour, label=name)
            lines.append(value)
    if len(points):
        ax.set_xscale("log")
        # Plain numbers (20, 30, 100), not 2×10^1: readers compare perplexities as numbers.
        ax.xaxis.set_major_formatter(ticker.LogFormatter())
        ax.xaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
    # No title: the report's heading says what it is.
    ax.set_xlabel("held-out perplexity (log scale, 95% CI)", fontsize=FONT + 1)
    ax.set_ylabel(label, fontsize=FONT + 1)
    ax.set_ylim(*_fitted(points, metric, lines))
    ax.tick_params(labelsize=FONT)
    # Below the axes: row names are long, and beside the axes they would squeeze them.
    ax.legend(fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    return fig, names


def _fitted(points: pd.DataFrame, metric: str, lines: list[float]) -> tuple[float, float]:
    """The y axis over what is drawn (points, their intervals, the reference lines), with a
    margin: every point at 0.99 on a 0-1 axis is one dot, not a comparison."""
    drawn = [points[column] for column in (metric, f"{metric}_ci_low", f"{metric}_ci_high")
             if column in points] + [pd.Series(lines, dtype=float)]
    values = pd.to_numeric(pd.concat(drawn), errors="coerce").dropna()
    if len(values) == 0:
        return -0.03, 1.03
    low, high = float(values.min()), float(values.max())
    margin = max(0.05 * (high - low), 0.01)
    return max(low - margin, -0.03), min(high + margin, 1.03)


def _bar(row: pd.Series, metric: str) -> list[list[float]]:
    """[[below], [above]] the point; none where the interval is missing."""
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    below = 0.0 if pd.isna(low) else max(row[metric] - low, 0.0)
    above = 0.0 if pd.isna(high) else max(high - row[metric], 0.0)
    return [[float(np.nan_to_num(below))], [float(np.nan_to_num(above))]]
