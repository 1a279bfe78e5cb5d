"""What one task's report holds, built once from its records and rendered as Markdown
(harness.report.render), HTML (harness.report.html_page) and CSV.

Texts here are Markdown whose only markup is our own emphasis and code spans; every value from
records or data in them went through `md_escape`, so either renderer can trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.report.curves import crossovers, learning_curves
from harness.report.curve_section import curve_section
from harness.report.curve_plots import render_curve_plots
from harness.report.disagreements import disagreements
from harness.report.display import Table, leaderboard_tables, resources_table
from harness.report.escape import md_escape
from harness.report.notes import majority_warning, notes, reading_notes
from harness.report.parts import Report, RowSection, Section
from harness.report.plots import render_plots
from harness.report.tables import (
    confusion,
    failures,
    latest_per_seed,
    leaderboard,
    misclassified,
    per_class,
)
from harness.report.tuning import tuning_section
from harness.report.variants import variant_parts
from harness.results.spreadsheet import guard
from harness.results.store import Store


def build_report(store: Store, task: str, records: pd.DataFrame, prices: dict) -> Report:
    """`records`: every priced record of the task, finished or not."""
    every_ok = records[records["status"] == "ok"]
    ok = latest_per_seed(every_ok) if not every_ok.empty else every_ok
    board = leaderboard(ok, store) if not ok.empty else pd.DataFrame()
    confusions = {row["row"]: confusion(row, ok) for _, row in board.iterrows()}
    context = {"task": task, "results": str(store.root), "records": records, "ok": ok,
               "leaderboard": board, "prices": prices, "superseded": len(every_ok) - len(ok)}
    plots, sections = _learning_curves(board, ok, store, task)
    plots.update(render_plots(board, confusions) if not board.empty else {})
    variant_plots, variant_sections = _inference_variants(records, ok, board, store, task)
    plots.update(variant_plots)
    sections += variant_sections + tuning_section(ok, board)
    return Report(
        task=task, notes=notes(context), tables=leaderboard_tables(board),
        resources=resources_table(board), reading=reading_notes(context), plots=plots,
        rows=_row_sections(board, ok, store), failed=failed_cells(records),
        csv=board_csv(board), board=board, sections=sections,
        disagreements=disagreements(ok, store) if not board.empty else pd.DataFrame())


def _learning_curves(board: pd.DataFrame, ok: pd.DataFrame, store: Store,
                     task: str) -> tuple[dict, list]:
    """Plots and a section when some curve has two training sizes; nothing otherwise."""
    curves = learning_curves(board)
    if curves is None:
        return {}, []
    section = curve_section(curves, crossovers(curves, ok, store), task)
    return dict(render_curve_plots(curves, task)), [section]


def _inference_variants(records: pd.DataFrame, ok: pd.DataFrame, board: pd.DataFrame,
                        store: Store, task: str) -> tuple[dict, list]:
    """A plot and a section when some record is an inference variant; nothing otherwise."""
    return variant_parts(records, ok, board, store, task)


def _row_sections(board: pd.DataFrame, ok: pd.DataFrame, store: Store) -> list[RowSection]:
    if board.empty:
        return []
    wrong = misclassified(ok, store)
    sections = []
    for _, row in board.iterrows():
        classes = per_class(row, ok)
        shown = pd.DataFrame({
            "label": classes["label"],
            **{c: classes[c].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
               for c in ("precision", "recall", "f1")},
            "support": classes["support"].map(lambda v: "-" if pd.isna(v) else f"{int(v)}")})
        examples = wrong.get(row["row"], pd.DataFrame())
        if "confidence" in examples:
            examples = examples.assign(confidence=examples["confidence"].map("{:.3f}".format))
        sections.append(RowSection(row["row"], _summary(row), shown, examples))
    return sections


def _summary(row: pd.Series) -> str:
    """One line of who the row is: its records, sizes and settings, and any warning."""
    parts = [f"{int(row['n_eval'])} evaluation rows", f"{int(row['n_train'])} training rows"]
    for column, what in (("seeds", "seeds"), ("data_seeds", "draws of training rows"),
                         ("trials", "trials")):
        count = row.get(column, 1)
        if pd.notna(count) and count > 1:
            parts.append(f"{int(count)} {what}")
    if isinstance(row.get("settings"), str) and row["settings"]:
        parts.append(f"settings: {md_escape(row['settings'])}")
    text = "; ".join(parts) + "."
    warning = majority_warning(row)
    return f"{text} {warning}" if warning else text


def failed_cells(records: pd.DataFrame) -> pd.DataFrame:
    """Failed and skipped cells, as text: a missing value as '-', whole numbers without '.0'."""
    def text(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return failures(records).astype(object).map(text)


def board_csv(board: pd.DataFrame) -> str:
    """The leaderboard as numbers: list columns joined with spaces, one row per row."""
    if board.empty:
        return ""
    frame = board.copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            frame[column] = frame[column].map(
                lambda v: " ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    leading = [c for c in ("eval_set", "row") if c in frame]
    frame = frame[leading + [c for c in frame.columns if c not in leading]]
    return guard(frame).to_csv(index=False, float_format="%.6g")
