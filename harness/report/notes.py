"""The notes above a report's leaderboard: what the report covers, how to read each column,
and warnings (one class taking most predictions; records made by different code, packages or
devices).

Notes are Markdown whose only markup is ours (*emphasis*, **strong**, `code`): every value from
records goes through `md_escape` here, so the HTML page can turn them into elements safely.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from harness.metrics import catalog
from harness.results.cost import API_PRICES, CPU_CORE
from harness.report.display import MAJORITY_WARNING_SHARE
from harness.report.endpoint_notes import endpoint_notes
from harness.report.escape import md_escape

MIB = 2**20


def notes(context) -> list[str]:
    """What the report covers and what to watch for: shown above the leaderboard."""
    board, ok = context["leaderboard"], context["ok"]
    lines = [_scope_note(context), *_eval_set_notes(board), *_tuning_notes(board),
             *_majority_notes(board), *_busy_notes(board),
             *endpoint_notes(board, ok, context["prices"])]
    if context.get("superseded"):
        lines.append(f"{context['superseded']} older record(s) of the same cells (made before a "
                     f"change of code, packages or task text) are left out: the newest per "
                     f"seed is shown.")
    return lines + provenance_notes(ok)


def reading_notes(context) -> list[str]:
    """How to read each column: shown below the tables."""
    if context["leaderboard"].empty:
        return []
    return [_accuracy_note(), _calibration_note(),
            _memory_note(context["ok"], context["leaderboard"]), _cost_note(context["prices"])]


def _scope_note(context) -> str:
    records = context["records"]
    counts = records["status"].value_counts()
    made = ", ".join(f"{int(counts[s])} {s}" for s in ("ok", "failed", "skipped") if s in counts)
    return (f"Task *{md_escape(context['task'])}*: this report covers every record of the task "
            f"in {md_escape(context['results'])} ({made}), whichever run made it, not only the "
            f"last; generated {time.strftime('%Y-%m-%d %H:%M')}. The leaderboard as numbers is "
            f"the CSV beside this file; every record loads with "
            f"`harness.results.frames.load_results`.")


def _eval_set_notes(board: pd.DataFrame) -> list[str]:
    if board.empty or "n_eval" not in board:
        return []
    sets = board["eval_set"] if "eval_set" in board else pd.Series(1, index=board.index)
    sizes = board.groupby(sets, sort=True)["n_eval"].first()
    if len(sizes) == 1:
        return [f"Every row was evaluated on the same {int(sizes.iloc[0]):,} evaluation rows."]
    listed = ", ".join(f"set {int(n)}: {int(size):,} rows" for n, size in sizes.items())
    return [f"Rows were evaluated on {len(sizes)} different sets of evaluation rows ({listed}), "
            f"each with its own table: differences to the best and p-values compare rows of "
            f"one set only (n/a across sets)."]


def _tuning_notes(board: pd.DataFrame) -> list[str]:
    """Which rows were tuned, and on what budget; a warning where tuned and untuned rows of one
    evaluation set are ranked together."""
    if board.empty or "tune" not in board or not (board["tune"] > 0).any():
        return []
    budgets = sorted(set(board.loc[board["tune"] > 0, "tune"].astype(int)))
    lines = [f"Rows marked *tuned ×N* searched N settings (Optuna TPE, the first their "
             f"defaults) on validation rows held out of their training rows (a fifth, "
             f"stratified), chose by validation macro-F1 and scored the evaluation rows once; "
             f"their fit time and cost hold the whole search (budgets here: "
             f"{', '.join(map(str, budgets))}). The settings chosen are in the *Tuning* "
             f"section."]
    sets = board["eval_set"] if "eval_set" in board else pd.Series(1, index=board.index)
    mixed = [s for s, rows in board.groupby(sets) if rows["tune"].nunique() > 1]
    if mixed:
        lines.append("**Tuned and untuned rows are ranked together**: an untuned row runs "
                     "its defaults, so its difference to a tuned row is partly the tuning; "
                     "compare strategies tuned on the same budget.")
    return lines


def _busy_notes(board: pd.DataFrame) -> list[str]:
    """A warning per row with a record timed while more threads wanted a core than the machine
    had: its seconds, throughput and cost hold the waiting, not the strategy."""
    if board.empty or "busy_records" not in board:
        return []
    lines = []
    for _, row in board[board["busy_records"] > 0].iterrows():
        per_core = row["busy_threads_per_core"]
        crowd = f", up to {per_core:.1f} runnable threads per core" if pd.notna(per_core) else ""
        records = len(row["keys"])
        lines.append(f"*{md_escape(row['row'])}*: **⏱ timed on a busy machine** "
                     f"({int(row['busy_records'])} of {records} record(s): more threads wanted "
                     f"a core than the machine has while fitting or predicting{crowd}): its "
                     f"seconds, throughput and cost are inflated; rerun it with nothing else "
                     f"running (`--force`) before comparing its times.")
    return lines


def _majority_notes(board: pd.DataFrame) -> list[str]:
    warnings = [(row["row"], majority_warning(row)) for _, row in board.iterrows()]
    return [f"*{md_escape(name)}*: {warning}" for name, warning in warnings if warning]


def majority_warning(row: pd.Series) -> str | None:
    """A warning (Markdown) when one class takes most of a leaderboard row's predictions."""
    share = row.get("majority_share", np.nan)
    if pd.isna(share) or share <= MAJORITY_WARNING_SHARE:
        return None
    return (f"**⚠ it predicts {md_escape(row.get('majority_label', '?'))} for {share:.0%} of "
            f"its evaluation rows**: the model's prior, not the text, decides most answers "
            f"(a prompting strategy may do better with `calibrate=true`).")


def _accuracy_note() -> str:
    # Describes harness.metrics.stats: keep the two in step.
    return ("*Accuracy*: the mean over seeds, draws of training rows and trials, with its 95% "
            "interval; *interval* says what it covers and how it was made: evaluation rows "
            "alone for one run (Wilson), else two-level, runs crossed with evaluation rows "
            "(variance by the method of moments, t on Satterthwaite's degrees of freedom), so "
            "that it holds the spread between runs as well as the sampling of rows. One run of "
            "a strategy whose runs differ (one seed, one draw, one trial) is *conditional on "
            "one run*: another seed could land outside its interval, so a comparison with it "
            "is never called significant; `--seeds`/`--data-seeds` give the runs that make it "
            "a claim about the method. *Δ vs best*: the row's accuracy minus the best's on the "
            "same evaluation rows, paired row by row (each row's correctness averaged over the "
            "runs), with its 95% interval. *p vs best (Holm)*: the paired test's p-value, "
            "Holm-adjusted over every pair of rows of the set (the best is picked from the same "
            "data); the raw one is `p_vs_best` in the CSV.")


def _calibration_note() -> str:
    """The notes of the catalog's classification metrics (harness.metrics.catalog), in order."""
    metrics = [m.note for m in catalog.own(catalog.CLASSIFICATION) if m.note]
    return " ".join([*metrics, "*top class share*: the share of the row's predictions going "
                               "to its most predicted class; ⚠ above 90%."])


def _memory_note(ok: pd.DataFrame, board: pd.DataFrame) -> str:
    text = ("RAM above baseline: the cell's peak host RSS minus its RSS just before loading, "
            "i.e. what the strategy itself used; the baseline (interpreter and libraries, "
            "the same for every strategy) is left out so rows compare")
    if "rss_baseline_bytes" in ok and ok["rss_baseline_bytes"].notna().any():
        low, high = ok["rss_baseline_bytes"].min() / MIB, ok["rss_baseline_bytes"].max() / MIB
        span = f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"
        text += f" (it was {span} MiB here)"
    text += ". Worst seed shown."
    if "cuda_peak_reserved_bytes" in board and board["cuda_peak_reserved_bytes"].notna().any():
        text += (" GPU reserved: peak memory held by PyTorch's CUDA allocator (live tensors "
                 "plus its cache; the CUDA context is not counted); 'vLLM' adds what the vLLM "
                 "engine reserved up front for weights and key/value cache.")
    return text + (" Weights: the bytes of the model's weights as loaded (for adapters, of the "
                   "frozen base; 4-bit weights packed).")


def _cost_note(prices: dict) -> str:
    return (f"Cost: the stored device-seconds × the price table (CPU: ${prices[CPU_CORE]:g} per "
            f"core-hour × the threads the cell used, the default a share of a c7i.large-class "
            f"2-vCPU machine at ~$0.09/h; GPU: per GPU-hour by name, ${prices['cuda']:.2f} if "
            f"unlisted; a CPU-only cell is priced as CPU on any machine). *Set-up*: one-off "
            f"(model conversion or download, engine start), in no other cost. *Fit*: load + "
            f"training, shared between the tasks of a multi-task cell. *Per 1k predictions*: "
            f"batch prediction seconds per 1,000 rows scored (trials included); a row prompted "
            f"through an endpoint (api backend): its tokens per prediction at the table's "
            f"`{API_PRICES}` rates. The "
            f"accuracy-vs-cost plot uses fit + this task's prediction, without set-up. "
            f"`harness report --prices FILE` re-prices without re-running.")


def provenance_notes(ok: pd.DataFrame) -> list[str]:
    """One note for each of code, packages and device on which comparable records differ.

    `code.sources_sha` hashes one strategy's own sources, so it differs between strategies by
    design: it is compared between records of the same strategy only. A CPU and a GPU cell of
    one run differ in device by design too: device names are compared within a device kind.
    """
    lines = []
    if "code" in ok:
        codes = ok.assign(code_text=ok["code"].map(_code_text))
        changed = [f"{md_escape(strategy)} ({len(versions)}: {', '.join(versions)})"
                   for strategy, cells in codes.groupby("strategy", sort=True)
                   if len(versions := _values(cells["code_text"])) > 1]
        if changed:
            lines.append(f"Records of one strategy come from different code versions: "
                         f"{'; '.join(changed)}; compare with care.")
        harness = _values(ok["code"].map(
            lambda c: c.get("harness_sha") if isinstance(c, dict) else None))
        if len(harness) > 1:  # the code that measures every strategy
            lines.append(f"Records were measured by {len(harness)} versions of the harness "
                         f"({', '.join(harness)}); compare with care.")
    packages = _package_differences(ok)
    if packages:
        lines.append(f"Package versions differ between records: {'; '.join(packages)}; "
                     f"compare with care.")
    if "device_name" in ok:
        devices = [f"{kind}: {', '.join(_by_value(cells, cells['device_name']))}"
                   for kind, cells in ok.groupby("device", sort=True)
                   if len(_values(cells["device_name"])) > 1]
        if devices:
            lines.append(f"Records ran on different devices of one kind: {'; '.join(devices)}; "
                         f"times and memory compare only between rows on the same device.")
    return lines


def _values(column: pd.Series) -> list[str]:
    """The distinct values, as Markdown text."""
    return sorted(set(column.fillna("not recorded").map(md_escape)))


def _by_value(ok: pd.DataFrame, values: pd.Series) -> list[str]:
    """'value (strategies)' for each distinct value, as Markdown text."""
    groups = ok.groupby(values.fillna("not recorded").astype(str), sort=True)["strategy"]
    return [f"{md_escape(value)} ({', '.join(md_escape(n) for n in sorted(set(names)))})"
            for value, names in groups]


def _code_text(code) -> str | None:
    if not isinstance(code, dict):
        return None
    sha = str(code.get("sources_sha") or "?")[:12]
    return f"{code.get('distribution', '?')} {code.get('version', '?')} sources {sha}"


def _package_differences(ok: pd.DataFrame) -> list[str]:
    """Packages recorded with more than one version; a strategy that does not import a
    package does not list it, which is no difference."""
    if "packages" not in ok:
        return []
    tables = ok["packages"].map(lambda p: p if isinstance(p, dict) else {})
    lines = []
    for name in sorted(set().union(*tables)):
        versions = tables.map(lambda p, n=name: p.get(n))
        if versions.nunique(dropna=True) > 1:
            listed = versions.notna()
            lines.append(f"{md_escape(name)} "
                         f"{', '.join(_by_value(ok[listed], versions[listed]))}")
    return lines
