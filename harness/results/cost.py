"""Price of compute, worked out at report time from the seconds stored in each record.

Records keep what was measured (seconds per phase, the device the cell ran on, the CPU threads
it used); the price is applied when a report is written, so `harness report --prices FILE`
re-prices old runs without re-running them.

    prices = load_prices("prices.json")        # defaults, overridden entry by entry
    priced = price_records(records, prices)    # adds usd_per_hour, setup/fit/predict costs

A CPU is priced per core-hour times the threads the cell used; a GPU per GPU-hour by its name,
else at the "cuda" entry. A user file overrides any entry, e.g.
{"cpu_core": 0.05, "NVIDIA H100 80GB HBM3": 2.0}; an entry named after a CPU model (a record's
`device_name`) prices one core of that CPU.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

CPU_CORE = "cpu_core"
DEFAULT_PRICES_USD_PER_HOUR = {
    # One core of a general-purpose instance: a c7i.large-class 2-vCPU machine is ~$0.09/h.
    CPU_CORE: 0.045,
    "cuda": 2.50,  # any GPU not listed below
    "NVIDIA H100 80GB HBM3": 2.50,
    "NVIDIA H200": 3.50,
    "NVIDIA A100-SXM4-80GB": 1.80,
    "NVIDIA A10G": 1.00,
    "Tesla T4": 0.50,
}
COST_COLUMNS = ("usd_per_hour", "setup_cost_usd", "fit_cost_usd", "predict_cost_usd_per_1k",
                "cost_usd")


def load_prices(path: str | None) -> dict[str, float]:
    """The default table with the user's JSON file (device name -> USD per hour) on top."""
    prices = dict(DEFAULT_PRICES_USD_PER_HOUR)
    if not path:
        return prices
    try:
        user = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:  # ValueError: bad JSON, or not text at all
        raise HarnessError(f"cannot read price table '{path}': {err}") from None
    if not isinstance(user, dict):
        raise HarnessError(f"price table '{path}' must map device names to USD per hour "
                           f"(a JSON object)")
    bad = [str(k) for k, v in user.items() if not _is_price(v)]
    if bad:
        raise HarnessError(f"price table '{path}' must map device names to USD per hour "
                           f"as non-negative numbers (bad entries: {', '.join(bad)})")
    if "cpu" in user:  # the old per-machine entry: silently ignoring it would misprice CPUs
        raise HarnessError(f"price table '{path}': 'cpu' is no longer read; CPUs are priced "
                           f"per core-hour as '{CPU_CORE}' (default {prices[CPU_CORE]})")
    for key in user:  # a device name is free text, but a misspelt known one prices nothing
        close = difflib.get_close_matches(str(key), [k for k in prices if k != key], 1, 0.8)
        if key not in prices and close:
            raise HarnessError(f"price table '{path}': '{key}' is no device this harness "
                               f"prices; did you mean '{close[0]}'?")
    prices.update(user)
    return prices


def _is_price(value) -> bool:
    # bool is an int to Python, and NaN compares false with everything: reject both.
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def usd_per_hour(prices: dict[str, float], device: str, device_name: str | None,
                 cpu_threads: int) -> float:
    """Hourly price of what one cell occupied: its CPU cores, or its GPU."""
    if device == "cpu":
        return prices.get(device_name, prices[CPU_CORE]) * max(int(cpu_threads), 1)
    return prices.get(device_name, prices["cuda"])


def price_records(records: pd.DataFrame, prices: dict[str, float]) -> pd.DataFrame:
    """The records with the cost columns (re)computed from their stored seconds.

    Cost fields an old record carries were priced at run time; they are replaced, not read.
    """
    if records.empty:
        return records.assign(**{name: pd.Series(dtype=float) for name in COST_COLUMNS})
    rate = pd.Series([usd_per_hour(prices, device, name, threads) for device, name, threads
                      in zip(_text(records, "device", "cpu"), _text(records, "device_name", ""),
                             _cpu_threads(records))], index=records.index, dtype=float)
    per_s = rate / 3600
    # One training (and one load) served every task of a multi-task cell: each pays its share.
    fit_cost_usd = (_seconds(records, "load_s") + _seconds(records, "fit_s")) * per_s \
        / _number(records, "fit_shared_by", 1).clip(lower=1)
    predict_cost_usd = _seconds(records, "predict_s") * per_s
    return records.assign(
        usd_per_hour=rate,
        setup_cost_usd=_seconds(records, "setup_s") * per_s,  # one-off, kept out of cost_usd
        fit_cost_usd=fit_cost_usd,
        predict_cost_usd_per_1k=predict_cost_usd * 1000 / _n_predictions(records),
        cost_usd=fit_cost_usd + predict_cost_usd,
    )


def _number(records: pd.DataFrame, column: str, default: float) -> pd.Series:
    """A numeric column, `default` where the record lacks it (older records)."""
    if column not in records:
        return pd.Series(default, index=records.index, dtype=float)
    return pd.to_numeric(records[column], errors="coerce").fillna(default).astype(float)


def _seconds(records: pd.DataFrame, column: str) -> pd.Series:
    # A failed cell, or one from before set-up was timed apart, has no such phase: 0 s.
    return _number(records, column, 0.0)


def _text(records: pd.DataFrame, column: str, default: str) -> pd.Series:
    if column not in records:
        return pd.Series(default, index=records.index)
    return records[column].where(records[column].notna(), default)


def _cpu_threads(records: pd.DataFrame) -> pd.Series:
    # Older records lack cpu_threads; torch then used every core of the host by default.
    return _number(records, "cpu_threads", float("nan")).fillna(
        _number(records, "host_cpu_count", 1))


def _n_predictions(records: pd.DataFrame) -> pd.Series:
    fallback = _number(records, "n_eval", float("nan")) * _number(records, "trials", 1)
    counted = _number(records, "n_predictions", float("nan")).fillna(fallback)
    return counted.where(counted > 0)  # no rows scored: no per-1k price (NaN), not infinity
