"""The tuning part of a report: for every tuned record (`harness run --tune N`), the search it
ran on its validation rows and the settings it chose, so that a tuned row can be reproduced
with `-c` and its cost read."""

from __future__ import annotations

import json

import pandas as pd

from harness.report.parts import Section


def tuning_section(ok: pd.DataFrame, board: pd.DataFrame) -> list[Section]:
    """A section when some record was tuned; nothing otherwise."""
    if "tuning" not in ok or board.empty:
        return []
    tuned = ok[ok["tuning"].map(lambda t: isinstance(t, dict))]
    if tuned.empty:
        return []
    name_of = {key: row["row"] for _, row in board.iterrows() for key in row["keys"]}
    rows = []
    for _, record in tuned.iterrows():
        search = record["tuning"]
        failed = sum(1 for trial in search.get("history", []) if trial.get("value") is None)
        rows.append({
            "row": name_of.get(record["key"], record["strategy"]),
            "seed / data seed": f"{int(record['seed'])} / {int(record.get('data_seed') or 0)}",
            "trials": f"{search.get('trials')}" + (f" ({failed} failed)" if failed else ""),
            f"validation {search.get('metric')}": (
                f"{_number(search.get('default_value'))} (defaults) → "
                f"{_number(search.get('best_value'))}"),
            "chosen settings": ", ".join(f"{k}={_value(v)}" for k, v in
                                         sorted(search.get("chosen", {}).items())),
            "search (s)": f"{record.get('fit_s', float('nan')):.0f}",
        })
    spaces = {record["strategy"]: record["tuning"].get("space", {})
              for _, record in tuned.iterrows()}
    notes = [
        "Each tuned record searched its strategy's space on validation rows held out of its "
        "training rows (the evaluation rows were scored once, with the chosen settings); the "
        "first trial is the defaults, so the chosen settings are never worse on validation. "
        "*search (s)* is the record's whole fit: every trial's load, training and validation "
        "(with `--tune-parallel`, the trials' seconds summed, each a job of its own, and the "
        "chosen settings fitted once more).",
        "Search spaces: " + "; ".join(
            f"*{name}*: " + ", ".join(f"{k} {v}" for k, v in space.items())
            for name, space in sorted(spaces.items())) + "."]
    return [Section("Tuning", notes, [("Settings chosen per record", pd.DataFrame(rows))])]


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return value if isinstance(value, str) else json.dumps(value)
