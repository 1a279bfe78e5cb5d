"""Price of compute: device-hours times an hourly price.

The default table holds on-demand cloud list prices (USD per hour, late 2026, rounded) for a
machine of each kind; a user overrides any entry with a JSON file (`--prices prices.json`,
e.g. {"cpu": 0.05, "NVIDIA H100 80GB HBM3": 2.0}). A device missing from the table is priced
at the "cpu" or "cuda" fallback entry.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from harness.errors import HarnessError

DEFAULT_PRICES_USD_PER_HOUR = {
    "cpu": 0.10,  # a 2-vCPU / 8-16 GB general-purpose instance (e.g. AWS c7i.large ~ $0.09)
    "cuda": 2.50,  # any GPU not listed below
    "NVIDIA H100 80GB HBM3": 2.50,
    "NVIDIA H200": 3.50,
    "NVIDIA A100-SXM4-80GB": 1.80,
    "NVIDIA A10G": 1.00,
    "Tesla T4": 0.50,
}


def load_prices(path: str | None) -> dict[str, float]:
    prices = dict(DEFAULT_PRICES_USD_PER_HOUR)
    if path:
        try:
            user = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise HarnessError(f"cannot read price table '{path}': {err}") from None
        if not isinstance(user, dict):
            raise HarnessError(f"price table '{path}' must map device names to USD per hour "
                               f"(a JSON object)")
        bad = [str(k) for k, v in user.items() if not _is_price(v)]
        if bad:
            raise HarnessError(f"price table '{path}' must map device names to USD per hour "
                               f"as non-negative numbers (bad entries: {', '.join(bad)})")
        prices.update(user)
    return prices


def _is_price(value) -> bool:
    # bool is an int to Python, and NaN compares false with everything: reject both.
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def price_per_hour(prices: dict[str, float], device_kind: str, device_name: str) -> float:
    return prices.get(device_name, prices[device_kind])


def cost_usd(seconds: float, usd_per_hour: float) -> float:
    return seconds / 3600 * usd_per_hour
