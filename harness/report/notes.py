"""The notes above a report's leaderboard: how to read each column, and warnings when the
records compared were made by different code, packages or devices."""

from __future__ import annotations

import time

import pandas as pd

from harness.cost import CPU_CORE

MIB = 2**20


def notes(context) -> list[str]:
    board, ok = context["leaderboard"], context["ok"]
    sizes = "" if board.empty else (f"{int(board['n_train'].iloc[0])} training rows, "
                                     f"{int(board['n_eval'].iloc[0])} evaluation rows; ")
    lines = [
        f"Task `{context['task']}`: {sizes}generated {time.strftime('%Y-%m-%d %H:%M')}.",
        "Accuracy: 95% percentile-bootstrap interval over evaluation rows (one seed) or mean ± "
        "standard deviation over seeds. *p vs best*: paired bootstrap p-value against the top "
        "row on the same evaluation rows. Strategies with trials (few-shot demonstration draws) "
        "show the mean over trials, its interval, and ± the standard deviation between trials.",
        _memory_note(ok, board),
        _cost_note(context["prices"]),
    ]
    if context.get("superseded"):
        lines.append(f"{context['superseded']} older record(s) of the same cells (made before a "
                     f"change of code, packages or task text) are left out: the newest per "
                     f"seed is shown.")
    return lines + provenance_notes(ok)


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
            f"batch prediction seconds per 1,000 rows scored (trials included). The "
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
        changed = [f"{strategy} ({len(versions)}: {', '.join(versions)})"
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
    return sorted(set(column.fillna("not recorded").astype(str)))


def _by_value(ok: pd.DataFrame, values: pd.Series) -> list[str]:
    """'value (strategies)' for each distinct value."""
    groups = ok.groupby(values.fillna("not recorded").astype(str), sort=True)["strategy"]
    return [f"{value} ({', '.join(sorted(set(names)))})" for value, names in groups]


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
            lines.append(f"{name} {', '.join(_by_value(ok[listed], versions[listed]))}")
    return lines
