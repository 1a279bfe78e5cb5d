"""The inference-variant part of a classification report (`harness run --inference fp32,int8`):
for each fitted model, its own predictions and every variant of it side by side (accuracy, the
paired change against its own predictions, agreement, latency, memory, size), and a plot of
accuracy against latency that joins the variants of one fitted model.

    plots, sections = variant_parts(records, ok, board, task)   # ({}, []) without variants

A variant record names the fitted model it came from by the key of that cell's own record
(`inference_of`); seeds are never pooled here, because a variant's Δ and agreement are paired
against the predictions of one fitted model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from harness.api.variants import DEFAULT, VARIANTS
from harness.report.parts import Section
from harness.report.display import accuracy_text
from harness.report.escape import md_escape
from harness.report.plots import MARKERS, Plot, both_formats, plt
from harness.report.rows import data_seed, inference
from harness.report.tables import record_accuracy
from harness.results.store import Store

ORDER = (DEFAULT, *VARIANTS)  # the default row first, then the variants as harness lists them
PLOT = "accuracy_vs_latency_by_variant"
MIB = 2**20


def variant_parts(records: pd.DataFrame, ok: pd.DataFrame, board: pd.DataFrame, store: Store,
                  task: str) -> tuple[dict[str, Plot], list[Section]]:
    """The plot and the section when some record is a variant; nothing otherwise."""
    models = [(name, _with_intervals(block, store))
              for name, block in fitted_models(records, ok, board)]
    if not models:
        return {}, []
    plot = both_formats(PLOT, "Accuracy vs latency by inference variant",
                        lambda: _accuracy_vs_latency(models, task))
    return {PLOT: plot}, [variant_section(models)]


def fitted_models(records: pd.DataFrame, ok: pd.DataFrame,
                  board: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(name, records) per fitted model that has variants: its own record first, then its
    variants in ORDER, skipped and failed ones included (with `variant` and `status`)."""
    if board.empty or "inference_of" not in records:
        return []
    records = records.assign(variant=inference(records), draw=data_seed(records))
    variants = records[(records["variant"] != DEFAULT) & records["inference_of"].notna()]
    if variants.empty:
        return []
    if "started_at" in variants:  # a variant measured again: its newest record
        variants = variants.sort_values("started_at", ascending=False, kind="stable")
    variants = variants.drop_duplicates(["inference_of", "variant"])
    # A fitted model whose own record was superseded (latest_per_seed) went with it.
    superseded = set(records.loc[records["status"] == "ok", "key"]) - set(ok["key"])
    variants = variants[~variants["inference_of"].isin(superseded)]
    rows = {key: (position, row) for position, (row, keys) in
            enumerate(zip(board["row"], board["keys"])) for key in keys}
    own = records.set_index("key")
    models = []
    for key, block in variants.groupby("inference_of", sort=False):
        block = block.assign(_rank=block["variant"].map(_rank)).sort_values(
            ["_rank", "variant"], kind="stable").drop(columns="_rank")
        first = block.iloc[0]
        if key in own.index:
            default = own.loc[[key]].reset_index().assign(variant=DEFAULT)
            block = pd.concat([default, block], ignore_index=True)
        position, row = rows.get(key, (len(rows), f"{first['strategy']} ({first['model']})"))
        name = f"{row}, seed {first['seed']}"
        if board.loc[board["row"] == row, "data_seeds"].gt(1).any():
            name += f", data seed {first['draw']}"
        models.append(((position, first["seed"], first["draw"]), name, block))
    return [(name, block) for _, name, block in sorted(models, key=lambda m: m[0])]


def _with_intervals(block: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Each finished record's accuracy and interval as the leaderboard computes them from its
    predictions (Wilson for one run), not as the record stored them: one report, one method."""
    block = block.copy()
    for i, record in block[block["status"] == "ok"].iterrows():
        block.loc[i, ["accuracy", "accuracy_ci_low", "accuracy_ci_high"]] = record_accuracy(
            record, store)
    return block


def _rank(variant: str) -> int:
    return ORDER.index(variant) if variant in ORDER else len(ORDER)


def variant_section(models: list[tuple[str, pd.DataFrame]]) -> Section:
    present = dict.fromkeys(v for _, block in models for v in block["variant"] if v in VARIANTS)
    notes = [
        ("One table per fitted model (one cell: its seed and training rows): its own predictions "
        "(*default*, the strategy's own way, as fitted) first, then each variant of the same "
        "fitted weights, scored on the same evaluation rows. *Δ accuracy* and *agreement* are "
        "against the default predictions of the same fitted model, paired over the same rows "
        "(Δ: the variant's accuracy minus the default's, with the 95% interval of the paired "
        "difference; *agreement*: the share of rows predicted as the default predicts them). "
        "Seeds are not pooled here, as a variant's change belongs to one fitted model; in the "
        "leaderboard a variant is a row of its own (*strategy · variant*), its seeds pooled "
        "like any row's."),
        ("*Latency*: batch size 1, as in the leaderboard. *RAM above baseline*: the peak above "
        "a fresh process's baseline: each variant is measured in a process of its own, the "
        "default in the cell's. *Weights*: bytes as loaded (quantized weights packed). *On "
        "disk*: what serving it ships, for every row alike: the export, and the base model when "
        "its weights stay apart ('-' for a record made before this was measured). *Adapters*: "
        "kept apart from the base or merged into it. *Conversion*: loading that export and "
        "converting it to the variant. A variant this device cannot run is listed as skipped, "
        "with the reason."),
    ]
    if present:
        notes.append("Variants: " + "; ".join(f"*{md_escape(name)}*: {md_escape(VARIANTS[name])}"
                                              for name in present) + ".")
    gpu = any("cuda_peak_allocated_bytes" in block and
              block["cuda_peak_allocated_bytes"].notna().any() for _, block in models)
    tables = [(md_escape(name), variant_table(block, gpu)) for name, block in models]
    return Section("Inference variants", notes, tables)


def variant_table(block: pd.DataFrame, gpu: bool = False) -> pd.DataFrame:
    """One row per way of predicting with one fitted model, as text ('-' where not measured)."""
    rows = [] if (block["variant"] == DEFAULT).any() else [
        {"variant": DEFAULT, "accuracy (95% CI)": "its record is missing"}]
    adapters = "footprint_adapters" in block and block["footprint_adapters"].notna().any()
    for _, record in block.iterrows():
        row = {"variant": record["variant"]}
        if record["status"] != "ok":
            row["accuracy (95% CI)"] = f"{record['status']}: {record.get('error', '')}"
            rows.append(row)
            continue
        own = record["variant"] == DEFAULT
        row["accuracy (95% CI)"] = accuracy_text(record)
        row["Δ accuracy (95% CI)"] = "reference" if own else _delta(record)
        row["agreement"] = "reference" if own else _fixed(record.get("prediction_agreement"), 3)
        row["latency p50 / p95 (ms)"] = (f"{_fixed(record.get('latency_p50_ms'), 1)} / "
                                         f"{_fixed(record.get('latency_p95_ms'), 1)}")
        row["examples/s"] = _fixed(record.get("throughput_eps"), 1)
        row["RAM above baseline (MiB)"] = _mib(record.get("rss_above_baseline_bytes"), 0)
        if gpu:
            row["GPU peak allocated (MiB)"] = _mib(record.get("cuda_peak_allocated_bytes"), 0)
        row["weights (MiB)"] = _mib(record.get("weight_bytes"), 1)
        row["on disk (MiB)"] = _mib(record.get("disk_bytes"), 1)
        if adapters:
            row["adapters"] = record.get("footprint_adapters") or "-"
        row["conversion (s)"] = "-" if own else _seconds(record.get("conversion_s"))
        rows.append(row)
    return pd.DataFrame(rows).fillna("-")


def _delta(record: pd.Series) -> str:
    diff, low, high = (record.get(c) for c in ("accuracy_delta", "accuracy_delta_ci_low",
                                               "accuracy_delta_ci_high"))
    if _missing(diff):
        return "-"
    text = f"{diff:+.3f}"
    return text if _missing(low) or _missing(high) else f"{text} [{low:+.3f}, {high:+.3f}]"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _fixed(value, digits: int) -> str:
    return "-" if _missing(value) else f"{value:.{digits}f}"


def _mib(n_bytes, digits: int) -> str:
    return "-" if _missing(n_bytes) else f"{n_bytes / MIB:.{digits}f}"


def _seconds(value) -> str:
    # A tiny model converts in a fraction of a second: keep two significant digits there.
    return "-" if _missing(value) else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _accuracy_vs_latency(models: list[tuple[str, pd.DataFrame]], task: str):
    """One line per fitted model through its variants (by latency), each point named."""
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    colours = sns.color_palette("tab10" if len(models) <= 10 else "husl", len(models))
    names, latencies = {}, []
    for colour, (name, block) in zip(colours, models):
        points = _measured(block)
        if points.empty:
            continue
        x, y = points["latency_p50_ms"], points["accuracy"]
        latencies += list(x)
        ax.plot(x, y, "-", color=colour, alpha=0.7, label=name)
        ax.errorbar(x, y, fmt="none", ecolor=colour, alpha=0.45, capsize=3,
                    yerr=[(y - points["accuracy_ci_low"]).fillna(0),
                          (points["accuracy_ci_high"] - y).fillna(0)])
        for (_, point), px, py in zip(points.iterrows(), x, y):
            gid = f"point{len(names)}"
            names[gid] = f"{name} · {point['variant']}"
            ax.scatter(px, py, s=60, color=colour, zorder=3, gid=gid,
                       marker=MARKERS[_rank(point["variant"]) % len(MARKERS)])
        # One label per place (fp32 often predicts as the default does, at its speed), above
        # and below in turn so that neighbours do not print over each other.
        places = points.groupby(["latency_p50_ms", "accuracy"], sort=True)["variant"]
        for turn, ((px, py), variants) in enumerate(places):
            ax.annotate(", ".join(sorted(variants, key=_rank)), (px, py), xytext=(5, 5 if turn % 2 else -11),
                        textcoords="offset points", fontsize=8, color=colour)
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax.set_xscale("log")
        # Milliseconds as plain numbers (1, 2, 5, 10...), not powers of ten.
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set(xlabel="latency p50 (ms, batch size 1)", ylabel="accuracy (95% CI)",
           title=f"{task}: accuracy vs latency by inference variant")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    return fig, names


def _measured(block: pd.DataFrame) -> pd.DataFrame:
    """The block's points that have an accuracy and a latency, as numbers, fastest first."""
    columns = ("latency_p50_ms", "accuracy", "accuracy_ci_low", "accuracy_ci_high")
    points = block[block["status"] == "ok"].reindex(columns=["variant", *columns])
    points[list(columns)] = points[list(columns)].apply(pd.to_numeric, errors="coerce")
    return points.dropna(subset=["latency_p50_ms", "accuracy"]).sort_values(
        "latency_p50_ms", kind="stable")
