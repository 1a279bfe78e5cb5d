"""Which records are one experiment: those that differ only by seed, data seed (hence
training rows) or key pool into one group; everything else that can change a number (model,
weights, evaluation rows, config, backend, device, inference variant, precision) keeps them
apart. And
of each group, seed and data seed, the newest record: a cell recomputed after a change of
code, packages or task text leaves its old record behind under another key.

    ok = ok.assign(group=group_id(ok))
    newest = latest_per_seed(ok)               # what reports and recommend read
    records["superseded"] = superseded(records)
"""

from __future__ import annotations

import pandas as pd

from harness.api.backends import DEFAULT
from harness.api.precision import FP32
from harness.api.variants import DEFAULT as OWN_INFERENCE

# What, besides seed and data seed, makes two records the same experiment: rows that differ in
# any of these never pool (other weights, other evaluation rows, another device).
_GROUP_COLUMNS = ("strategy", "model", "model_source", "n_train", "n_eval", "eval_fingerprint",
                  "device", "device_name", "tune")


def as_text(values: pd.Series) -> pd.Series:
    # map(str), not astype(str): pandas 3 keeps a missing value missing through astype.
    return values.map(lambda v: "" if v is None or pd.isna(v) else str(v))


def group_id(records: pd.DataFrame) -> pd.Series:
    """Cells that differ only by seed and data seed share a group."""
    columns = [as_text(records[c]) if c in records else pd.Series("", index=records.index)
               for c in _GROUP_COLUMNS]
    config = (records["config"] if "config" in records else pd.Series(None, records.index)) \
        .map(lambda c: repr(sorted(c.items())) if isinstance(c, dict) else "")
    # A variant of a fitted model (int8, merged...) is another way of predicting: its own
    # group. Default records add nothing, so groups of records from before variants stay.
    variant = inference(records).map(lambda v: "" if v == OWN_INFERENCE else f" inference={v}")
    # Likewise bf16 and tuning in rounds: float32 and one-at-a-time records add nothing.
    formats = precision(records).map(lambda p: "" if p == FP32 else f" precision={p}")
    rounds = _column(records, "tune_parallel", 1).map(lambda p: f" rounds={p}" if p > 1 else "")
    # Another endpoint, served model or mode of the api backend is another experiment
    served = endpoints(records).map(
        lambda e: f" endpoint={e['base_url']} {e['model']} {e['mode']}"
        if isinstance(e, dict) else "")
    return (pd.concat(columns, axis=1).agg(" ".join, axis=1) + " " + config + " "
            + shown_strategy(records) + " " + backend(records) + variant + formats + rounds
            + served)


def endpoints(records: pd.DataFrame) -> pd.Series:
    """The api backend's endpoint of each record (a dict), None for the others."""
    if "endpoint" not in records:
        return pd.Series(None, index=records.index, dtype=object)
    return records["endpoint"].map(
        lambda e: e if isinstance(e, dict) and {"base_url", "model", "mode"} <= set(e) else None)


def endpoint_label(records: pd.DataFrame) -> pd.Series:
    """'smollm2, logprobs' for a record made through an endpoint: the served model and how its
    labels were read (the mode used, where `auto` chose); '' for the others."""
    used = records["footprint_api_mode"] if "footprint_api_mode" in records else pd.Series(
        None, index=records.index)
    return pd.Series([f"{e['model']}, {m if isinstance(m, str) else e['mode']}"
                      if isinstance(e, dict) else ""
                      for e, m in zip(endpoints(records), used)], index=records.index)


def precision(records: pd.DataFrame) -> pd.Series:
    """The number format each record computed in; records from before the field: fp32."""
    if "precision" not in records:
        return pd.Series(FP32, index=records.index)
    return records["precision"].map(lambda p: p if isinstance(p, str) else FP32)


def _column(records: pd.DataFrame, name: str, missing: int) -> pd.Series:
    """A whole-number column; `missing` where the records predate it or hold no number."""
    if name not in records:
        return pd.Series(missing, index=records.index)
    return pd.to_numeric(records[name], errors="coerce").fillna(missing).astype("int64")


def data_seed(records: pd.DataFrame) -> pd.Series:
    """The training-row draw of each record; records from before the axis have one draw."""
    return _column(records, "data_seed", 0)


def tune_budget(records: pd.DataFrame) -> pd.Series:
    """The trials each record was tuned over (`--tune`); 0 for untuned records and those from
    before tuning."""
    return _column(records, "tune", 0)


def latest_per_seed(ok: pd.DataFrame) -> pd.DataFrame:
    """The newest record of each group, seed and data seed."""
    return ok[~superseded(ok)]


def superseded(records: pd.DataFrame) -> pd.Series:
    """True for a record that a newer one of the same group, seed and data seed replaces."""
    newest_first = records.sort_values("started_at", ascending=False, kind="stable") \
        if "started_at" in records else records
    cells = newest_first.assign(group=group_id(newest_first), draw=data_seed(newest_first),
                                status=newest_first["status"] if "status" in newest_first
                                else "ok")
    return cells.duplicated(["group", "seed", "draw", "status"]).reindex(records.index)


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
