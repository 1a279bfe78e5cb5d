"""How a report writes a metric's value: each format a catalog row can name
(harness.metrics.catalog.FORMATS) as a function, and a metric's cell with its interval where
the catalog shows one. A missing value is "-".

    metric_text(catalog.METRICS["chrf"], row)   # '31.0 [25.0, 37.0]'
    FORMATS["dollars per 1M"](0.0000549)        # '$0.055' (a per-1k figure, per million)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.metrics import catalog


def fixed(digits: int):
    return lambda value: "-" if pd.isna(value) else f"{value:.{digits}f}"


def mib(digits: int):
    return lambda n_bytes: "-" if pd.isna(n_bytes) else f"{n_bytes / 2**20:.{digits}f}"


def dollars(value) -> str:
    """Dollars with two significant figures and no exponent, for prose and axes: $0.0041,
    $0.91, $12, $3,400."""
    if value is None or pd.isna(value):
        return "-"
    if value == 0:
        return "$0"
    if abs(value) < 1e-6:
        # Under a millionth of a dollar the digits say nothing a reader needs
        return "<$0.000001" if value > 0 else "-<$0.000001"
    places = 1 - int(np.floor(np.log10(abs(value))))  # negative: rounds to tens, hundreds
    return f"${round(float(value), places):,.{max(0, places)}f}"


def perplexity_digits(value: float) -> int:
    """Perplexities run from ~2 to the vocabulary's size: a few significant digits, never
    e-notation."""
    return 2 if value < 10 else 1 if value < 1000 else 0


# Digits of a number by its size, for the formats an interval can be shown in.
DIGITS = {".3f": lambda _: 3, ".1f": lambda _: 1, "perplexity": perplexity_digits}
FORMATS = {".3f": fixed(3), ".1f": fixed(1), "dollars": dollars,
           "dollars per 1M": lambda per_1k: dollars(per_1k * 1000),
           "MiB": mib(0), "MiB.1f": mib(1),
           "perplexity": lambda v: "-" if pd.isna(v) else f"{v:.{perplexity_digits(v)}f}"}


def metric_text(metric: catalog.Metric, row: pd.Series) -> str:
    """A leaderboard row's value of `metric`: 'point [low, high]' (all with the point's digits)
    where the catalog shows its interval and the row has one, else the point alone."""
    point = row.get(metric.name, np.nan)
    if metric.interval != catalog.SHOWN or pd.isna(point):
        return FORMATS[metric.format](point)
    low, high = (row.get(field, np.nan) for field in metric.fields[1:])
    d = DIGITS[metric.format](point)
    if pd.isna(low) or pd.isna(high):
        return f"{point:.{d}f}"
    return f"{point:.{d}f} [{low:.{d}f}, {high:.{d}f}]"
