"""Two runs of the same cells, side by side: what changed in the results (accuracy, paired on the
evaluation rows and trials, with its interval; identical predictions; time) and in what made
them (settings, code, packages, command).

A run is named by its id (`run_id` in its records, also the name of its folder under
history/ once superseded) or by a results folder; with no names, each cell's current record
is compared with the one it replaced.

    pairs = pairs_between(store, "20261205T185200-ab12cd", "20261205T191500-ef34aa")
    print(render(pairs))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.metrics import stats
from harness.results.frames import load_predictions
from harness.results.store import Store

TIMES = ("fit_s", "predict_s", "latency_p50_ms")


@dataclass(frozen=True)
class Side:
    record: dict
    folder: Path  # the store holding the record and its predictions


def run_records(store: Store, handle: str) -> dict[str, Side]:
    """Key -> the record `handle` names: a results folder's current records, or every record
    (current or superseded) of the run with that id."""
    folder = Path(handle)
    if folder.is_dir() and folder.resolve() != store.root.resolve():
        other = Store(folder)
        return {r["key"]: Side(r, folder) for r in other.records(warn=lambda _: None)}
    found = {r["key"]: Side(r, store.root) for r in store.records(warn=lambda _: None)
             if r.get("run_id") == handle}
    for folder in sorted((store.root / "history").glob(f"*/{handle}*")):
        for record in Store(folder).records(warn=lambda _: None):
            if record.get("run_id") == handle or folder.name == handle:
                found.setdefault(record["key"], Side(record, folder))
    if not found:
        raise HarnessError(f"no run '{handle}' in '{store.root}' (a run id from a record's "
                           f"run_id, or a results folder); `harness compare --list` shows them")
    return found


def latest_against_previous(store: Store) -> list[tuple[Side, Side]]:
    """Each cell's newest superseded record (before) against its current one (after)."""
    pairs = []
    for record in store.records(warn=lambda _: None):
        folders = sorted((store.root / "history" / record["key"]).glob("*"),
                         key=lambda f: f.stat().st_mtime)
        for folder in reversed(folders):
            before = Store(folder).load(record["key"])
            if before is not None:
                pairs.append((Side(before, folder), Side(record, store.root)))
                break
    return pairs


def runs(store: Store) -> list[dict]:
    """Every run with a record in the store (current or superseded): id, command, cells."""
    found: dict[str, dict] = {}
    for record in [*store.records(warn=lambda _: None), *store.history()]:
        run = record.get("run_id") or "(before run ids)"
        entry = found.setdefault(run, {"run_id": run, "command": record.get("command"),
                                       "started_at": record.get("started_at", ""), "cells": 0})
        entry["cells"] += 1
        entry["started_at"] = min(entry["started_at"], record.get("started_at", ""))
    return sorted(found.values(), key=lambda entry: entry["started_at"])


def pairs_between(store: Store, before: str, after: str) -> list[tuple[Side, Side]]:
    a, b = run_records(store, before), run_records(store, after)
    return [(a[key], b[key]) for key in sorted(a.keys() & b.keys())]


def compared(before: Side, after: Side) -> dict:
    """One cell's two records: results and what made them, after minus before."""
    a, b = before.record, after.record
    row = {"key": a["key"], "strategy": a["strategy"], "task": a["task"],
           "status": [a["status"], b["status"]], "runs": [a.get("run_id"), b.get("run_id")]}
    if a["status"] == b["status"] == "ok" and "accuracy" in a and "accuracy" in b:
        row.update(_accuracy_change(before, after))
    for name in TIMES:
        if a.get(name) and b.get(name):
            row[name] = [a[name], b[name]]
    row["busy"] = [bool(a.get("machine_busy")), bool(b.get("machine_busy"))]
    row["changes"] = changes(a, b)
    return row


def _accuracy_change(before: Side, after: Side) -> dict:
    frames = [load_predictions(side.folder, side.record["key"]) for side in (before, after)]
    change = accuracy_change(*frames)
    accuracy = {"accuracy": [before.record["accuracy"], after.record["accuracy"]]}
    return {**accuracy, "paired": False} if change is None else \
        {**accuracy, "paired": True, **change}


def accuracy_change(before: pd.DataFrame, after: pd.DataFrame) -> dict | None:
    """Accuracy of `after`'s predictions minus `before`'s, paired over the same rows and every
    trial of each (harness.metrics.stats.paired_difference); with the share of identical
    first-trial predictions and each side's most predicted label's share (an identity check
    on one-label output says little). None when the two did not score the same rows."""
    if len(before) != len(after) or not (before["index"].to_numpy()
                                         == after["index"].to_numpy()).all():
        return None
    correct = [stats.Clustered.of(np.array([frame[c] == frame["label"] for c in frame.columns
                                            if c.startswith("prediction")]))
               for frame in (before, after)]
    change = stats.paired_difference(correct[1], correct[0])
    first = [frame["prediction"].to_numpy() for frame in (before, after)]
    return {"difference": change.diff, "low": change.low, "high": change.high, "p": change.p,
            "identical_predictions": float(np.mean(first[0] == first[1])),
            "most_predicted_share": [float(np.bincount(p.astype(int)).max() / len(p))
                                     for p in first]}


def changes(a: dict, b: dict) -> list[str]:
    """What differs in how two records were made, in words."""
    out = []
    for name, (x, y) in _flat_diff(a.get("config") or {}, b.get("config") or {}).items():
        out.append(f"setting {name}: {x} -> {y}")
    for name in ("sources_sha", "harness_sha"):
        if (a.get("code") or {}).get(name) != (b.get("code") or {}).get(name):
            out.append("code changed" if name == "sources_sha" else "harness code changed")
    old, new = _packages(a), _packages(b)
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) != new.get(name):
            out.append(f"{name} {old.get(name)} -> {new.get(name)}")
    for name in ("precision", "cpu_threads", "device_name", "host", "executor"):
        if a.get(name) != b.get(name):
            out.append(f"{name}: {a.get(name)} -> {b.get(name)}")
    if a.get("command") != b.get("command") and a.get("command") and b.get("command"):
        out.append(f"command: {a['command']} -> {b['command']}")
    return list(dict.fromkeys(out))


def _packages(record: dict) -> dict:
    return record.get("packages") or (record.get("environment") or {}).get("packages") or {}


def _flat_diff(a: dict, b: dict, prefix: str = "") -> dict:
    out = {}
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        if isinstance(x, dict) and isinstance(y, dict):
            out.update(_flat_diff(x, y, f"{prefix}{name}."))
        elif x != y:
            out[f"{prefix}{name}"] = (x, y)
    return out


def render(rows: list[dict]) -> str:
    """The comparison as text, a cell per paragraph."""
    if not rows:
        return "no cell in both runs"
    lines = []
    for row in rows:
        lines.append(f"{row['task']} · {row['strategy']} ({row['key']})")
        if row["status"][0] != row["status"][1] or row["status"][0] != "ok":
            lines.append(f"  status: {row['status'][0]} -> {row['status'][1]}")
        if "accuracy" in row:
            a, b = row["accuracy"]
            text = f"  accuracy {a:.3f} -> {b:.3f}"
            if row.get("paired"):
                text += (f": {row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}] "
                         f"(95% CI over the evaluation rows and trials, paired; p "
                         f"{row['p']:.2g}); identical predictions "
                         f"{row['identical_predictions']:.1%}")
            else:
                text += " (not paired: the evaluation rows differ)"
            lines.append(text)
        timed = [f"{name} {x:.3g} -> {y:.3g} ({y / x:.2f}x)" for name in TIMES
                 if name in row for x, y in [row[name]]]
        if timed:
            busy = " (timed on a busy machine)" if any(row["busy"]) else ""
            lines.append("  " + ", ".join(timed) + busy)
        lines += [f"  {change}" for change in row["changes"]] or ["  nothing changed in how "
                                                                  "it was made"]
    return "\n".join(lines)
