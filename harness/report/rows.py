"""Which records make one leaderboard row, and the row's name and settings.

Records that differ only by seed, data seed (hence training rows) or key pool into one row;
everything else that can change a number (model, weights, evaluation rows, config, backend,
device, inference variant) keeps rows apart. A row's name is unique within a report: the
strategy and model, plus whatever tells it from another row that would share that name.

    ok = ok.assign(group=group_id(ok))
    names, settings = row_labels(ok)   # Series per group id
"""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd

from harness.api import registry
from harness.api.backends import DEFAULT
from harness.api.precision import FP32
from harness.errors import HarnessError
from harness.api.variants import DEFAULT as OWN_INFERENCE
from harness.results.groups import (  # noqa: F401 - the report's grouping, from the records'
    as_text,
    backend,
    data_seed,
    endpoint_label,
    group_id,
    inference,
    latest_per_seed,
    precision,
    shown_strategy,
    tune_budget,
)

def shown_source(records: pd.DataFrame) -> pd.Series:
    """`model_source` with commit hashes cut to 7 characters; empty for older records."""
    if "model_source" not in records:
        return pd.Series("", index=records.index)
    return records["model_source"].map(
        lambda s: re.sub(r"\b([0-9a-f]{7})[0-9a-f]{5,}\b", r"\1", s) if isinstance(s, str) else "")


def row_labels(ok: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(name, settings) of each group, indexed by group id. `settings` lists the config fields
    that differ from the strategy's defaults ("k_per_class=2, trials=5"; "" for none)."""
    ok = ok.assign(group=group_id(ok))
    first = ok.drop_duplicates("group").set_index("group")
    settings = _settings(first, ok)
    on = backend(first).map(lambda b: "" if b == DEFAULT else f" on {b}")
    on += endpoint_label(first).map(lambda e: f": {e}" if e else "")
    variant = inference(first).map(lambda v: "" if v == OWN_INFERENCE else f" · {v}")
    variant += precision(first).map(lambda p: "" if p == FP32 else f" · {p}")
    base = shown_strategy(first) + on + variant + tune_budget(first).map(
        lambda n: f" · tuned ×{n}" if n else "")
    model = first["model"].map(lambda m: "" if m in (None, "-") else str(m))
    # What may tell two rows of one base name apart, in the order it is tried.
    candidates = [settings.map(lambda s: s or "default settings"), shown_source(first),
                  as_text(first["n_train"]).map(lambda n: f"{n} training rows"),
                  as_text(first["n_eval"]).map(lambda n: f"{n} evaluation rows"),
                  as_text(first["device_name"] if "device_name" in first else first["device"])]
    extras = {group: [m] if m else [] for group, m in model.items()}

    def named() -> pd.Series:
        return base + pd.Series({g: f" ({'; '.join(e)})" if e else "" for g, e in extras.items()})

    for candidate in candidates:
        names = named()
        clash = names.duplicated(keep=False)
        if not clash.any():
            break
        for _, same in candidate[clash].groupby(names[clash]):
            if same.nunique() > 1:
                for group, part in same.items():
                    extras[group].append(part)
    names = named()
    repeat = names.groupby(names).cumcount()
    names = names + repeat.map(lambda r: f" #{r + 1}" if r else "")
    return names, settings


def _settings(first: pd.DataFrame, ok: pd.DataFrame) -> pd.Series:
    defaults: dict[str, dict | None] = {}
    texts = {}
    for group, record in first.iterrows():
        strategy = record["strategy"]
        if strategy not in defaults:
            defaults[strategy] = _defaults(strategy)
        reference = defaults[strategy]
        if reference is None:  # not installed here: what varies between its records
            configs = ok.loc[ok["strategy"] == strategy, "config"]
            keys = {k for c in configs for k in c}
            varying = {k for k in keys if len({_value(c.get(k)) for c in configs}) > 1}
            shown = {k: v for k, v in record["config"].items() if k in varying}
        else:
            shown = {k: v for k, v in record["config"].items()
                     if k in reference and _value(v) != _value(reference[k])}
        texts[group] = ", ".join(f"{k}={_value(v)}" for k, v in sorted(shown.items()))
    return pd.Series(texts, dtype=object).reindex(first.index)


def _defaults(strategy: str) -> dict | None:
    """The installed strategy's default config, as records store configs; None if unknown."""
    try:
        return dataclasses.asdict(registry.get(strategy).config_class())
    except (HarnessError, TypeError, ValueError):
        return None


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
