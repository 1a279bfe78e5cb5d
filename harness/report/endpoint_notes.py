"""Notes on the rows prompted through an OpenAI-compatible endpoint (the api backend): how
their labels were read, what a prediction took in tokens and costs at the price table's rates,
how many answers named no label, and whether the response cache answered some requests (then
their times are not the endpoint's).
"""

from __future__ import annotations

import pandas as pd

from harness.report.escape import md_escape
from harness.report.formats import dollars
from harness.results.cost import API_PRICES, api_model, api_usd_per_row

_MODES = {"logprobs": "label log-probabilities from the echoed prompt",
          "generate": "the label word its answer names (temperature 0)"}


def endpoint_notes(board: pd.DataFrame, ok: pd.DataFrame, prices: dict) -> list[str]:
    if board.empty or ok.empty or "backend" not in ok or not (ok["backend"] == "api").any():
        return []
    api = ok[ok["backend"] == "api"]
    lines = []
    for _, row in board.iterrows():
        records = api[api["key"].isin(row["keys"])]
        if not records.empty:
            lines.append(_note(row["row"], records, prices))
    return lines


def _note(name: str, records: pd.DataFrame, prices: dict) -> str:
    first = records.iloc[0]
    endpoint = first.get("endpoint") if isinstance(first.get("endpoint"), dict) else {}
    mode = first.get("footprint_api_mode")
    text = (f"*{md_escape(name)}*: prompted through {md_escape(endpoint.get('base_url', '?'))} "
            f"(model `{md_escape(str(endpoint.get('model', '?')))}`), scored by "
            f"{_MODES.get(mode, md_escape(str(mode)))}")
    tokens_in = _mean(records, "footprint_api_prompt_tokens_per_row")
    tokens_out = _mean(records, "footprint_api_completion_tokens_per_row")
    if pd.notna(tokens_in):
        text += (f"; {tokens_in:,.0f} prompt and {tokens_out:,.1f} completion tokens per "
                 f"prediction")
    per_row = api_usd_per_row(records, prices.get(API_PRICES, {})).mean()
    if pd.notna(per_row):
        text += f", {dollars(per_row * 1e6)} per million predictions at the table's prices"
    else:
        model = api_model(records).iloc[0]
        text += (f"; no price for model `{md_escape(str(model))}`: add it to a price file "
                 f"(`{API_PRICES}`) and run `harness report --prices FILE`")
    failures, rows = _sum(records, "footprint_api_parse_failures"), _sum(records,
                                                                         "footprint_api_rows")
    if mode == "generate" and rows:
        text += (f"; **{int(failures)} of {int(rows)} answers ({failures / rows:.1%}) named no "
                 f"label** (scored flat: the first label is predicted)")
    cached = _sum(records, "footprint_api_requests_cached")
    if cached:
        sent = _sum(records, "footprint_api_requests_sent")
        text += (f"; **⏱ {int(cached)} of {int(cached + sent)} requests were answered from the "
                 f"response cache**: its seconds, throughput and latency are not the endpoint's "
                 f"(clear the cache, `$HARNESS_CACHE_DIR/api`, and `--force` to time it)")
    return text + "."


def _mean(records: pd.DataFrame, column: str) -> float:
    return pd.to_numeric(records[column], errors="coerce").mean() if column in records \
        else float("nan")


def _sum(records: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(records[column], errors="coerce").sum()) if column in records \
        else 0.0
