"""Seaborn plots of the records, returned as PNG bytes: accuracy against cost and latency
(with the Pareto front), and confusion matrices."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # reports are written on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def render_plots(ok: pd.DataFrame, task: str) -> dict[str, bytes]:
    """`ok` holds priced records (harness.cost.price_records), one per group and seed."""
    ok = ok.assign(name=point_names(ok))
    return {
        "accuracy_vs_cost": _tradeoff(ok, "cost_usd",
                                      "cost for this task (USD: fit + prediction, no set-up)",
                                      f"{task}: accuracy vs cost"),
        "accuracy_vs_latency": _tradeoff(ok, "latency_p50_ms", "latency p50 (ms, batch size 1)",
                                         f"{task}: accuracy vs latency"),
        "confusion_matrices": _confusions(ok),
    }


def point_names(ok: pd.DataFrame) -> pd.Series:
    """Strategy, backend and model; the weights' source too where one model name has several,
    so that points of different weights never share a colour."""
    from harness.backends import DEFAULT
    from harness.report.tables import backend, shown_source, shown_strategy

    on = backend(ok).map(lambda b: "" if b == DEFAULT else f" on {b}")
    source = shown_source(ok)
    ambiguous = source.groupby(ok["model"]).transform("nunique") > 1
    model = ok["model"].where(~ambiguous, ok["model"] + ", " + source)
    return shown_strategy(ok) + on + " (" + model + ")"


def pareto_front(costs: np.ndarray, accuracies: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats: at most their cost with more accuracy."""
    mask = np.ones(len(costs), dtype=bool)
    for i in range(len(costs)):
        dominated = (costs <= costs[i]) & (accuracies >= accuracies[i]) & (
            (costs < costs[i]) | (accuracies > accuracies[i]))
        mask[i] = not dominated.any()
    return mask


def _tradeoff(ok: pd.DataFrame, x: str, xlabel: str, title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sns.scatterplot(data=ok, x=x, y="accuracy", hue="name", style="name", s=90, ax=ax)
    ax.errorbar(ok[x], ok["accuracy"], fmt="none", ecolor="grey", alpha=0.6,
                yerr=[ok["accuracy"] - ok["accuracy_ci_low"],
                      ok["accuracy_ci_high"] - ok["accuracy"]])
    front = ok[pareto_front(ok[x].to_numpy(), ok["accuracy"].to_numpy())].sort_values(x)
    ax.plot(front[x], front["accuracy"], "--", color="black", lw=1, label="Pareto front")
    if (ok[x] > 0).all() and ok[x].max() / max(ok[x].min(), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel="accuracy (95% CI)", title=title)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _confusions(ok: pd.DataFrame) -> bytes:
    first = ok.sort_values("seed").drop_duplicates("name")
    columns = min(3, len(first))
    rows = int(np.ceil(len(first) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.8 * rows), squeeze=False)
    for ax, (_, record) in zip(axes.flat, first.iterrows()):
        matrix = np.asarray(record["confusion_matrix"], dtype=float)
        labels = list(record["per_class_f1"].keys())
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        sns.heatmap(share, annot=matrix.astype(int), fmt="d", cmap="Blues", vmin=0, vmax=1,
                    xticklabels=labels, yticklabels=labels, cbar=False, ax=ax)
        ax.set(title=record["name"], xlabel="predicted", ylabel="true")
    for ax in list(axes.flat)[len(first):]:
        ax.axis("off")
    return _png(fig)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
