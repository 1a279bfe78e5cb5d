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
from harness.errors import HarnessError
from harness.api.variants import DEFAULT as OWN_INFERENCE

# What, besides seed and data seed, makes two records the same experiment: rows that differ in
# any of these never pool (other weights, other evaluation rows, another device).
_GROUP_COLUMNS = ("strategy", "model", "model_source", "n_train", "n_eval", "eval_fingerprint",
                  "device", "device_name", "tune")


def _text(values: pd.Series) -> pd.Series:
    # map(str), not astype(str): pandas 3 keeps a missing value missing through astype.
    return values.map(lambda v: "" if v is None or pd.isna(v) else str(v))


def group_id(records: pd.DataFrame) -> pd.Series:
    """Cells that differ only by seed and data seed share a group."""
    columns = [_text(records[c]) if c in records else pd.Series("", index=records.index)
               for c in _GROUP_COLUMNS]
    config = records["config"].map(lambda c: repr(sorted(c.items())))
    # A variant of a fitted model (int8, merged...) is another way of predicting: its own
    # group. Default records add nothing, so groups of records from before variants stay.
    variant = inference(records).map(lambda v: "" if v == OWN_INFERENCE else f" inference={v}")
    return (pd.concat(columns, axis=1).agg(" ".join, axis=1) + " " + config + " "
            + shown_strategy(records) + " " + backend(records) + variant)


def data_seed(records: pd.DataFrame) -> pd.Series:
    """The training-row draw of each record; records from before the axis have one draw."""
    if "data_seed" not in records:
        return pd.Series(0, index=records.index)
    return pd.to_numeric(records["data_seed"], errors="coerce").fillna(0).astype("int64")


def tune_budget(records: pd.DataFrame) -> pd.Series:
    """The trials each record was tuned over (`--tune`); 0 for untuned records and those from
    before tuning."""
    if "tune" not in records:
        return pd.Series(0, index=records.index)
    return pd.to_numeric(records["tune"], errors="coerce").fillna(0).astype("int64")


def latest_per_seed(ok: pd.DataFrame) -> pd.DataFrame:
    """The newest record of each group, seed and data seed: a cell recomputed after a change
    of code, packages or task text leaves its old record behind under another key."""
    newest_first = ok.sort_values("started_at", ascending=False) if "started_at" in ok else ok
    cells = newest_first.assign(group=group_id(newest_first), draw=data_seed(newest_first))
    return newest_first[~cells.duplicated(["group", "seed", "draw"])].sort_index()


def backend(records: pd.DataFrame) -> pd.Series:
    """What ran each cell's model; records from before backends existed ran on transformers."""
    if "backend" not in records:
        return pd.Series(DEFAULT, index=records.index)
    return records["backend"].fillna(DEFAULT)


def inference(records: pd.DataFrame) -> pd.Series:
    """How each record's predictions were made: "default" (the strategy's own way, as fitted,
    and every record from before variants) or a variant of harness.api.variants.VARIANTS."""
    if "inference" not in records:
        return pd.Series(OWN_INFERENCE, index=records.index)
    return records["inference"].map(lambda v: v if isinstance(v, str) and v else OWN_INFERENCE)


def shown_strategy(records: pd.DataFrame) -> pd.Series:
    """The strategy's name, with the task mixture it was trained on when there was one."""
    if "trained_on" not in records:
        return records["strategy"]
    mixture = records["trained_on"].map(
        lambda t: f" (trained on {'+'.join(x['task'] for x in t)})" if isinstance(t, list) else "")
    return records["strategy"] + mixture


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
    variant = inference(first).map(lambda v: "" if v == OWN_INFERENCE else f" · {v}")
    base = shown_strategy(first) + on + variant + tune_budget(first).map(
        lambda n: f" · tuned ×{n}" if n else "")
    model = first["model"].map(lambda m: "" if m in (None, "-") else str(m))
    # What may tell two rows of one base name apart, in the order it is tried.
    candidates = [settings.map(lambda s: s or "default settings"), shown_source(first),
                  _text(first["n_train"]).map(lambda n: f"{n} training rows"),
                  _text(first["n_eval"]).map(lambda n: f"{n} evaluation rows"),
                  _text(first["device_name"] if "device_name" in first else first["device"])]
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
