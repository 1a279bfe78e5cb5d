"""The learning-curve part of a classification report: accuracy by training rows per curve,
the crossover table, the published anchors that match, and how to read them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.metrics import stats

from harness.report.anchors import anchors_for
from harness.report.parts import Section
from harness.report.display import accuracy_text
from harness.report.curves import RESAMPLES


def curve_section(curves: pd.DataFrame, crossings: pd.DataFrame, task: str) -> Section:
    sizes = sorted(curves.loc[~curves["flat"], "n_train"].unique())
    notes = [
        f"Training sizes {', '.join(map(str, sizes))} are nested draws of each data seed "
        "(every size contains the smaller ones, label-stratified at every size); all points "
        "are scored on the same evaluation rows. A strategy that uses no training rows was run "
        "once and is compared at every size. few-shot draws its demonstrations from the "
        "training rows of its size.",
        "*Crossovers*: where a curve overtakes another for good, interpolated on log rows "
        "between the measured sizes around the turn. Its 95% interval is a paired bootstrap "
        f"({RESAMPLES} replicates) over evaluation rows and each point's trials, seeds and "
        "draws of training rows, as *interval covers* says: with one run per point (one seed, "
        "one draw) it is the evaluation rows' noise only, and the crossing is *conditional on "
        "one run* (run `--data-seeds 0,1,2` for one that holds for the method). "
        "'< n' or '> n' means the crossing may lie outside the measured sizes. The interval "
        "is sampling noise only: between two measured sizes the curves are taken as straight on "
        "log rows, so a crossing far from a measured size is a model's guess; measure sizes "
        "around it to pin it down. *Significantly ahead from*: the smallest measured size from "
        "which the leader's paired 95% interval over the other stays above 0 at every larger "
        "size.",
    ]
    notes += _anchor_notes(curves, task)
    tables = [("Accuracy by training rows", accuracy_table(curves)),
              ("Crossovers", crossover_table(crossings))]
    return Section("Learning curves", notes, tables)


def accuracy_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per curve, one column per training size: accuracy [95% CI] and fit seconds."""
    sizes = sorted(curves.loc[~curves["flat"], "n_train"].unique())
    heads = {n: f"{n} rows{_per_label(curves, n)}" for n in sizes}
    rows = []
    for name, points in curves.groupby("curve", sort=False):
        row = {"curve": name}
        if points["flat"].all():
            text = accuracy_text(points.iloc[0]) + " (no training rows)"
            row.update({heads[n]: text for n in sizes})
        else:
            at = {point["n_train"]: point for _, point in points.iterrows()}
            for n in sizes:
                point = at.get(n)
                row[heads[n]] = "-" if point is None else (
                    f"{accuracy_text(point)}, fit {point['fit_s']:.0f} s")
        rows.append(row)
    best = {"curve": "most accurate"}
    for n in sizes:  # a flat line competes at every size
        at = curves[(curves["n_train"] == n) | curves["flat"]]
        top = at.loc[at["accuracy"].idxmax()]
        best[heads[n]] = f"{top['curve']} ({top['accuracy']:.3f})"
    return pd.DataFrame(rows + [best])


def _per_label(curves: pd.DataFrame, n: int) -> str:
    """' (8 per label)' when the size was asked per label (--n-per-class)."""
    if "n_per_class" not in curves:
        return ""
    asked = pd.to_numeric(curves.loc[curves["n_train"] == n, "n_per_class"],
                          errors="coerce").dropna().unique()
    return f" ({int(asked[0])} per label)" if len(asked) == 1 else ""


def crossover_table(crossings: pd.DataFrame) -> pd.DataFrame:
    columns = ["overtakes", "from (rows)", "95% interval", "interval covers",
               "significantly ahead from", "difference at the largest size"]
    if crossings.empty:
        return pd.DataFrame([["no curve overtakes another within the measured sizes", "", "",
                              "", "", ""]], columns=columns)
    rows = []
    for row in crossings.sort_values("crossing_rows").itertuples():
        largest = row.sizes[-1]
        rows.append([f"{row.leader} overtakes {row.other}", f"{row.crossing_rows:.0f}",
                     f"[{size_bound(row.low, row.sizes)}, {size_bound(row.high, row.sizes)}]",
                     row.covers, _ahead(row, largest),
                     f"{row.diff:+.3f} [{row.diff_low:+.3f}, {row.diff_high:+.3f}] at "
                     f"{largest} rows"])
    return pd.DataFrame(rows, columns=columns)


def _ahead(row, largest: int) -> str:
    if row.conditional:
        return f"not claimed: {stats.CONDITIONAL}"
    if pd.notna(row.significant_from):
        return f"{int(row.significant_from)} rows"
    return f"not within {largest} rows"


def size_bound(value: float, sizes: list[int]) -> str:
    """A crossing's bound: '< 32' or '> 2000' when it lies beyond the measured sizes."""
    if value == -np.inf:
        return f"< {sizes[0]}"
    if value == np.inf:
        return f"> {sizes[-1]}"
    return f"{value:.0f}"


def _anchor_notes(curves: pd.DataFrame, task: str) -> list[str]:
    notes = []
    for model in dict.fromkeys(curves["model"]):
        for anchor in anchors_for(task, model):
            ours = curves[(curves["model"] == model) & (curves["n_train"] == anchor.n_train)]
            measured = "; ".join(f"{row.curve} {row.accuracy:.3f}"
                                 for row in ours.itertuples()) or "no curve at that size"
            notes.append(
                f"*Published anchor* (star in the plot): {anchor.method}, {model}, "
                f"{anchor.n_per_class} rows per label ({anchor.n_train} rows): "
                f"{anchor.accuracy:.3f} ± {anchor.std:.3f} ({anchor.source}). Measured here at "
                f"{anchor.n_train} rows: {measured}. Another method on other draws and test "
                "rows: a reference, not a row of this report.")
    return notes
