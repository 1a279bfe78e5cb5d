"""Plots of learning curves (harness.report.curves): accuracy against training rows on a log
axis, one line per curve (a strategy without training rows as a flat band), published anchors
as stars; and fit time and the task's cost against training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from harness.report.anchors import anchors_for
from harness.report.plots import MARKERS, Plot, both_formats, plt


def render_curve_plots(curves: pd.DataFrame, task: str) -> dict[str, Plot]:
    plots = {
        "learning_curve": ("Learning curves: accuracy vs training rows",
                           lambda: _accuracy(curves, task)),
        "learning_cost": ("Learning curves: fit time and cost vs training rows",
                          lambda: _cost(curves, task)),
    }
    return {name: both_formats(name, title, draw) for name, (title, draw) in plots.items()}


def _colours(curves: pd.DataFrame) -> dict[str, tuple]:
    names = list(dict.fromkeys(curves["curve"]))
    palette = sns.color_palette("tab10" if len(names) <= 10 else "husl", len(names))
    return dict(zip(names, palette))


def _accuracy(curves: pd.DataFrame, task: str):
    fig, ax = plt.subplots(figsize=(9.5, 6))
    colours, names = _colours(curves), {}
    sized = curves[~curves["flat"]]
    span = (sized["n_train"].min() / 1.3, sized["n_train"].max() * 1.3)
    for i, (name, rows) in enumerate(curves.groupby("curve", sort=False)):
        colour = colours[name]
        if rows["flat"].all():
            row = rows.iloc[0]
            ax.axhspan(row["accuracy_ci_low"], row["accuracy_ci_high"], color=colour,
                       alpha=0.12, lw=0)
            ax.plot(span, [row["accuracy"]] * 2, "--", color=colour,
                    label=f"{name} (no training rows)")
            continue
        gid = f"point{i}"
        names[gid] = name
        ax.errorbar(rows["n_train"], rows["accuracy"], color=colour, capsize=3, gid=gid,
                    marker=MARKERS[i % len(MARKERS)], label=name,
                    yerr=[rows["accuracy"] - rows["accuracy_ci_low"],
                          rows["accuracy_ci_high"] - rows["accuracy"]])
    _anchors(ax, curves, task, colours)
    ax.set_xscale("log")
    ax.set_xlim(*span)
    ticks = sorted(sized["n_train"].unique())
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set(xlabel="training rows (log scale; nested draws)", ylabel="accuracy (95% CI)",
           title=f"{task}: learning curves")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    return fig, names


def _anchors(ax, curves: pd.DataFrame, task: str, colours: dict) -> None:
    """A published figure for a curve's task and model, at its training size."""
    drawn = set()
    for name, rows in curves.groupby("curve", sort=False):
        for anchor in anchors_for(task, rows.iloc[0]["model"]):
            if anchor in drawn:
                continue
            drawn.add(anchor)
            ax.errorbar([anchor.n_train], [anchor.accuracy], yerr=[[anchor.std], [anchor.std]],
                        fmt="*", markersize=14, color="black", mfc="gold", capsize=3,
                        label=f"published: {anchor.method.split(' (')[0]}, "
                              f"{rows.iloc[0]['model']}, {anchor.n_per_class} per label")


def _cost(curves: pd.DataFrame, task: str):
    fig = plt.figure(figsize=(11, 6))
    grid = fig.add_gridspec(2, 2, height_ratios=[5, 1])
    fit_ax, cost_ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    legend_ax = fig.add_subplot(grid[1, :])  # a row of its own: tight_layout keeps it whole
    legend_ax.axis("off")
    colours = _colours(curves)
    sized = curves[~curves["flat"]]
    span = (sized["n_train"].min() / 1.3, sized["n_train"].max() * 1.3)
    for i, (name, rows) in enumerate(curves.groupby("curve", sort=False)):
        colour, marker = colours[name], MARKERS[i % len(MARKERS)]
        if rows["flat"].all():
            cost = rows.iloc[0].get("cost_usd", np.nan)
            if pd.notna(cost) and cost > 0:
                cost_ax.plot(span, [cost] * 2, "--", color=colour, label=name)
            continue
        fit = rows[rows["fit_s"] > 0]
        fit_ax.plot(fit["n_train"], fit["fit_s"], marker=marker, color=colour, label=name)
        priced = rows[rows["cost_usd"] > 0] if "cost_usd" in rows else rows.iloc[:0]
        cost_ax.plot(priced["n_train"], priced["cost_usd"], marker=marker, color=colour)
    ticks = sorted(sized["n_train"].unique())
    for ax in (fit_ax, cost_ax):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*span)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training rows (log)")
    fit_ax.set(ylabel="fit time (s, log)", title=f"{task}: fit time")
    cost_ax.set(ylabel="cost for this task (USD, fit + prediction, log)",
                title=f"{task}: cost")
    handles, labels = fit_ax.get_legend_handles_labels()
    more = cost_ax.get_legend_handles_labels()
    legend_ax.legend(handles + more[0], labels + more[1], fontsize=8, ncol=3, frameon=False,
                     loc="center")
    return fig, {}
