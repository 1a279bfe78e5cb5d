"""Which strategy to use for a task, given the labelled rows one has and what one can spend:
the measured options that meet every constraint, ranked by accuracy, each with why, and what
excludes the others.

    harness recommend --results results --task agnews --n-train 500 --max-latency-ms 50
    options = candidates(board, n_train=500)           # one per curve (strategy x model ...)
    verdict = recommend(options, Constraints(max_latency_ms=50))

At `n_train` rows a curve is read at that measured size, or interpolated between the measured
sizes around it (accuracy and its interval linearly in log rows, fit time and cost linearly in
rows, latency, memory and price per prediction the larger of the two: they hardly depend on
rows, and the larger is the safe side), or taken at its largest size when more rows than that
are available (more rows might do better; that is not measured). How each figure is read between
two sizes is its catalog row's `across_rows` (harness.metrics.catalog), the worse of the two
by its direction where it hardly depends on rows. A curve whose smallest size exceeds
`n_train` is out. Without `n_train`, each curve offers its most accurate qualifying
measured size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from harness.metrics import catalog
from harness.report.curves import learning_curves

GIB = 2**30


@dataclass(frozen=True)
class Constraints:
    max_latency_ms: float | None = field(default=None, metadata={
        "option": "--max-latency-ms", "column": "latency_p95_ms", "what": "p95 latency",
        "unit": " ms", "upper": True})
    max_usd_per_1k: float | None = field(default=None, metadata={
        "option": "--max-usd-per-1k", "column": "predict_cost_usd_per_1k",
        "what": "USD per 1,000 predictions", "unit": "", "upper": True})
    max_memory_gib: float | None = field(default=None, metadata={
        "option": "--max-memory-gib", "column": "memory_gib", "what": "peak memory",
        "unit": " GiB", "upper": True})
    max_fit_usd: float | None = field(default=None, metadata={
        "option": "--max-fit-usd", "column": "fit_cost_usd", "what": "training cost (USD)",
        "unit": "", "upper": True})
    min_accuracy: float | None = field(default=None, metadata={
        "option": "--min-accuracy", "column": "accuracy", "what": "accuracy", "unit": "",
        "upper": False})

    def given(self) -> list:
        return [f for f in fields(self) if getattr(self, f.name) is not None]

    def violations(self, option: pd.Series) -> list[str]:
        """Why `option` fails each constraint it fails ('' for none); a missing figure fails."""
        out = []
        for f in self.given():
            limit, meta = getattr(self, f.name), f.metadata
            value = option.get(meta["column"], np.nan)
            if pd.isna(value):
                out.append(f"{meta['what']} not measured ({meta['option']})")
            elif (value > limit) if meta["upper"] else (value < limit):
                sign = ">" if meta["upper"] else "<"
                out.append(f"{meta['what']} {number(value)}{meta['unit']} {sign} "
                           f"{number(limit)}{meta['unit']} ({meta['option']})")
        return out


@dataclass(frozen=True)
class Verdict:
    qualifying: pd.DataFrame  # ranked, best first
    excluded: list[tuple[str, list[str]]]  # (option name, why)
    binding: str | None  # when none qualifies: the constraint whose removal admits the most


def candidates(board: pd.DataFrame, n_train: int | None = None) -> pd.DataFrame:
    """One option per curve of the board (see the module docstring), with `name`, `how` (how
    its figures were obtained), `memory_gib`, and `excluded_by_rows` when the curve starts
    above `n_train`."""
    curves = learning_curves(board, min_sizes=1)
    out = []
    for name, points in curves.groupby("curve", sort=False):
        points = points.sort_values("n_train")
        if points["flat"].all():
            option = points.iloc[0].copy()
            option["how"] = "uses no training rows"
            out.append(option)
        elif n_train is None:
            for _, point in points.iterrows():
                option = point.copy()
                option["how"] = f"measured at {int(point['n_train'])} rows"
                out.append(option)
        else:
            out.append(_at_size(points, n_train))
    options = pd.DataFrame(out).reset_index(drop=True)
    options["name"] = options["curve"]
    options["memory_gib"] = options.apply(memory_gib, axis=1)
    return options


def _at_size(points: pd.DataFrame, n: int) -> pd.Series:
    sizes = points["n_train"].to_numpy()
    if n < sizes[0]:
        option = points.iloc[0].copy()
        option["excluded_by_rows"] = (f"its smallest measured size is {int(sizes[0])} rows, "
                                      f"more than the {n} available (--n-train)")
        option["how"] = "not measured at so few rows"
        return option
    if n in sizes or n > sizes[-1]:
        option = points[points["n_train"] == min(n, sizes[-1])].iloc[0].copy()
        option["how"] = (f"measured at {n} rows" if n in sizes else
                         f"measured at {int(sizes[-1])} rows, its largest size (more rows "
                         f"not measured)")
        return option
    upper = int(np.searchsorted(sizes, n))
    below, above = points.iloc[upper - 1], points.iloc[upper]
    share = (np.log(n) - np.log(below["n_train"])) / (np.log(above["n_train"])
                                                      - np.log(below["n_train"]))
    linear = (n - below["n_train"]) / (above["n_train"] - below["n_train"])
    option = above.copy()
    for metric in catalog.of_kind(catalog.CLASSIFICATION):
        for column in (c for c in metric.fields if c in option):
            option[column] = _between(metric, below[column], above[column], share, linear)
    option["n_train"] = n
    option["interpolated"] = True
    option["how"] = (f"interpolated between the measured {int(below['n_train'])} and "
                     f"{int(above['n_train'])} rows")
    return option


def _between(metric: catalog.Metric, below: float, above: float, share: float,
             linear: float) -> float:
    """A figure between two measured sizes: `share` of the way in log rows, `linear` in rows."""
    if metric.across_rows == catalog.LOG_ROWS:
        return below + share * (above - below)
    if metric.across_rows == catalog.ROWS:
        return below + linear * (above - below)
    if pd.isna(below) and pd.isna(above):
        return np.nan
    # The safe side: the larger of a cost, a time or memory, the smaller of a rate.
    return (np.nanmin if metric.higher_is_better else np.nanmax)([below, above])


def memory_gib(option: pd.Series) -> float:
    """What a deployment must provision: GPU memory reserved on a GPU, else the process's peak
    resident memory (interpreter and libraries included)."""
    if option.get("device") == "cuda" and pd.notna(option.get("cuda_peak_reserved_bytes")):
        return option["cuda_peak_reserved_bytes"] / GIB
    above, base = option.get("rss_above_baseline_bytes"), option.get("rss_baseline_bytes")
    if pd.isna(above):
        return np.nan
    return (above + (base if pd.notna(base) else 0)) / GIB


ACCURACY = catalog.METRICS["accuracy"]


def recommend(options: pd.DataFrame, constraints: Constraints,
              by: catalog.Metric = ACCURACY) -> Verdict:
    """The options meeting every constraint, best `by` first (accuracy, or a generation
    task's primary metric), and why each other one is out."""
    why = options.apply(lambda o: _reasons(o, constraints), axis=1)
    fine = options[why.map(len) == 0]
    # A curve offered at several sizes counts once: at its most accurate qualifying size.
    ranked = fine.sort_values(by.name, ascending=not by.higher_is_better, kind="stable",
                              na_position="last")
    ranked = ranked.drop_duplicates("name").reset_index(drop=True)
    excluded = []
    for name, group in options[why.map(len) > 0].groupby("name", sort=False):
        if name not in set(ranked["name"]):
            excluded.append((name, why[group.index[0]]))
    binding = None if len(ranked) else _binding(options, constraints, by)
    return Verdict(ranked, excluded, binding)


def _reasons(option: pd.Series, constraints: Constraints) -> list[str]:
    rows = option.get("excluded_by_rows")
    return ([rows] if isinstance(rows, str) else []) + constraints.violations(option)


def _binding(options: pd.DataFrame, constraints: Constraints,
             by: catalog.Metric = ACCURACY) -> str | None:
    """Each constraint whose removal alone admits options, the one admitting the most first,
    with the most accurate it would admit and the closest any option comes to it; None when
    no single removal admits any."""
    found = []
    for f in constraints.given():
        relaxed = Constraints(**{**{g.name: getattr(constraints, g.name)
                                    for g in fields(constraints)}, f.name: None})
        fine = options[options.apply(lambda o: not _reasons(o, relaxed), axis=1)]
        if fine.empty:
            continue
        top = fine.sort_values(by.name, ascending=not by.higher_is_better).iloc[0]
        column, meta = f.metadata["column"], f.metadata
        best = "the most accurate" if by is ACCURACY else f"the best by {by.header}"
        text = (f"{meta['option']} {number(getattr(constraints, f.name))}: without it "
                f"{fine['name'].nunique()} would qualify ({best}: {top['name']}, "
                f"{top[by.name]:.3f})")
        values = pd.to_numeric(options[column], errors="coerce").dropna()
        if len(values):
            closest = options.loc[values.idxmin() if meta["upper"] else values.idxmax()]
            text += (f"; the {'lowest' if meta['upper'] else 'highest'} {meta['what']} "
                     f"measured is {number(closest[column])}{meta['unit']} "
                     f"({closest['name']})")
        found.append((fine["name"].nunique(), text))
    if not found:
        return None
    ranked = [text for _, text in sorted(found, key=lambda pair: -pair[0])]
    return ranked[0] + "".join(f". Also binding: {text}" for text in ranked[1:])


def number(value: float) -> str:
    """A figure with as many digits as it needs: 0.0042, 0.25, 12.3, 1,840."""
    if pd.isna(value):
        return "-"
    value = float(value)
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if abs(value) >= 0.01:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    digits = int(-np.floor(np.log10(abs(value)))) + 1  # two significant digits, no exponent
    return f"{value:.{digits}f}"
