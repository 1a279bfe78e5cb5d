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

A model prompted through an OpenAI-compatible endpoint (the api backend) is priced per token,
as providers bill it: the records keep the tokens each prediction took (prompt and completion,
from the responses), and `"api_tokens_usd_per_million"` in the table maps the endpoint's model
name to {"input": USD, "output": USD} per million tokens, e.g.
{"api_tokens_usd_per_million": {"gpt-4o-mini": {"input": 0.15, "output": 0.60}}}. Without an
entry for its model an api row's prediction has no price (shown as "-").
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.results.groups import endpoints

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
API_PRICES = "api_tokens_usd_per_million"
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
    api = user.pop(API_PRICES, {})
    bad_api = [str(k) for k, v in api.items() if not (
        isinstance(v, dict) and set(v) == {"input", "output"} and all(map(_is_price, v.values())))] \
        if isinstance(api, dict) else [API_PRICES]
    if bad_api:
        raise HarnessError(f"price table '{path}': '{API_PRICES}' must map each model name to "
                           f"{{\"input\": USD, \"output\": USD}} per million tokens (bad: "
                           f"{', '.join(bad_api)})")
    prices[API_PRICES] = {**prices.get(API_PRICES, {}), **api}
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
    n_predictions = _n_predictions(records)
    predict_cost_usd = _seconds(records, "predict_s") * per_s
    # An endpoint's prediction costs its tokens (the client's seconds only wait on it)
    per_row = api_usd_per_row(records, prices.get(API_PRICES, {}))
    predict_cost_usd = predict_cost_usd.where(per_row.isna() & ~_on_api(records),
                                              per_row * n_predictions)
    return records.assign(
        usd_per_hour=rate,
        setup_cost_usd=_seconds(records, "setup_s") * per_s,  # one-off, kept out of cost_usd
        fit_cost_usd=fit_cost_usd,
        predict_cost_usd_per_1k=predict_cost_usd * 1000 / n_predictions,
        cost_usd=fit_cost_usd + predict_cost_usd,
    )


def _on_api(records: pd.DataFrame) -> pd.Series:
    return _text(records, "backend", "") == "api"


def api_model(records: pd.DataFrame) -> pd.Series:
    """The endpoint's model name of each api record (None for the others)."""
    return endpoints(records).map(lambda e: e["model"] if isinstance(e, dict) else None)


def api_usd_per_row(records: pd.DataFrame, table: dict) -> pd.Series:
    """USD per prediction of each api record whose model the table prices (NaN otherwise):
    its tokens per scored row (prompt and completion) at the model's prices."""
    models = api_model(records)
    price_in = models.map(lambda m: (table.get(m) or {}).get("input") if m else None)
    price_out = models.map(lambda m: (table.get(m) or {}).get("output") if m else None)
    prompt = _number(records, "footprint_api_prompt_tokens_per_row", float("nan"))
    completion = _number(records, "footprint_api_completion_tokens_per_row", float("nan"))
    return (prompt * pd.to_numeric(price_in, errors="coerce")
            + completion * pd.to_numeric(price_out, errors="coerce")) / 1e6


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
