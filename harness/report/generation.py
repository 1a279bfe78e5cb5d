"""The report of a generation task (records with `task_kind == "generation"`): the leaderboard
(harness.report.generation_table), style accuracy against perplexity
(harness.report.generation_plots), the same prompts continued by every row side by side, and
notes on how far the style judge can be trusted.

    report = build_generation_report(store, "shakespeare", priced_records, prices)

Rendered by the same Markdown, HTML and CSV writers as a classification report.
"""

from __future__ import annotations

import pandas as pd

from harness.results.cost import CPU_CORE
from harness.report.build import board_csv, failed_cells
from harness.report.parts import Report, Section
from harness.report.escape import md_escape
from harness.report.generation_plots import render_generation_plots
from harness.report.generation_table import (generation_board, generation_resources,
                                             generation_tables, ranked_by)
from harness.report.notes import notes
from harness.report.tables import latest_per_seed
from harness.results.spreadsheet import unguard
from harness.results.store import Store

PROMPTS_SHOWN = 3


def build_generation_report(store: Store, task: str, records: pd.DataFrame,
                            prices: dict) -> Report:
    """`records`: every priced record of the task, finished or not."""
    every_ok = records[records["status"] == "ok"]
    ok = latest_per_seed(every_ok) if not every_ok.empty else every_ok
    primary = ranked_by(ok)
    board = generation_board(ok, primary) if not ok.empty else pd.DataFrame()
    context = {"task": task, "results": str(store.root), "records": records, "ok": ok,
               "leaderboard": board, "prices": prices, "superseded": len(every_ok) - len(ok)}
    return Report(
        task=task, notes=notes(context) + judge_notes(ok) + hard_judge_notes(ok),
        tables=generation_tables(board, primary),
        resources=generation_resources(board), reading=reading_notes(prices) if not board.empty else [],
        plots=render_generation_plots(board, task) if not board.empty else {},
        rows=[], failed=failed_cells(records), csv=board_csv(board), board=board,
        sections=continuation_sections(board, store), ranked_by=primary.name)


def judge_notes(ok: pd.DataFrame) -> list[str]:
    """One note per style judge the records used: its held-out accuracy and its verdicts on
    real text, the yardsticks of every row's style accuracy."""
    if ok.empty or "style_judge_accuracy" not in ok:
        return []
    judged = ok[pd.to_numeric(ok["style_judge_accuracy"], errors="coerce").notna()]
    keys = judged.get("style_judge_key", pd.Series("", index=judged.index)).fillna("")
    return [_judge_note(str(key), cells.iloc[0])
            for key, cells in judged.groupby(keys, sort=True)]


def _judge_note(key: str, record: pd.Series) -> str:
    accuracy = f"{record['style_judge_accuracy']:.3f}"
    low, high = (record.get(f"style_judge_accuracy_ci_{end}") for end in ("low", "high"))
    if pd.notna(low) and pd.notna(high):
        accuracy += f" [{low:.3f}, {high:.3f}]"
    held_out = record.get("style_judge_n_heldout")
    on = f" on {int(held_out):,} held-out rows" if pd.notna(held_out) else ""
    text = (f"*Style judge*{f' {md_escape(key)}' if key else ''}: accuracy "
            f"{md_escape(accuracy)}{on} (the task's validation passages against held-out "
            f"contrast rows)")
    reference, contrast = (record.get(f"style_judge_on_{what}")
                           for what in ("reference", "contrast"))
    if pd.notna(reference) and pd.notna(contrast):
        text += (f". It calls {reference:.0%} of the evaluation passages themselves in style "
                 f"and {contrast:.0%} of held-out contrast rows: a row's style accuracy near "
                 f"{reference:.0%} reads as in style as the real text, to this judge, and one "
                 f"near {contrast:.0%} no more than the contrast text")
    return text + "."


def hard_judge_notes(ok: pd.DataFrame) -> list[str]:
    """One note per hard-negative judge the records used (one per base model): how well it
    separates its own training texts, and the real continuations' mean log-odds, the yardstick
    of a row's."""
    if ok.empty or "hard_judge_cv_auc" not in ok:
        return []
    judged = ok[pd.to_numeric(ok["hard_judge_cv_auc"], errors="coerce").notna()]
    keys = judged.get("hard_judge_key", pd.Series("", index=judged.index)).fillna("")
    notes = []
    for key, cells in judged.groupby(keys, sort=True):
        record = cells.iloc[0]
        real, written = (pd.to_numeric(cells[f"hard_judge_{what}"], errors="coerce")
                         for what in ("reference_log_odds", "log_odds"))
        by_row = "; ".join(f"{name} {value:.1f}" for name, value
                           in zip(cells["strategy"], written) if pd.notna(value))
        notes.append(
            f"*Hard-negative judge*{f' {md_escape(str(key))}' if key else ''}: trained on "
            f"{int(record['hard_judge_n_positive']):,} real passages of the task's validation "
            f"works against {int(record['hard_judge_n_negative']):,} the base model wrote "
            f"(its own pastiche of their openings, and modern paraphrases of them); out-of-fold "
            f"AUC on those {record['hard_judge_cv_auc']:.3f}. Mean log-odds of being real: "
            f"the real continuations {real.mean():.1f}"
            + (f"; the rows' (trial 0): {md_escape(by_row)}" if by_row else "") + ".")
    return notes


def reading_notes(prices: dict) -> list[str]:
    """How to read each column: shown below the tables."""
    return [
        ("*Perplexity*: of the whole evaluation passages under the row's adapted model, "
         "token-weighted (exp of the summed negative log-likelihood over the summed tokens); "
         "lower is better. It compares only between rows whose models share a tokenizer."),
        ("*Style accuracy*: the share of continuations the style judge calls in style "
         "(probability above 0.5); see the judge's note above for how far to trust it. "
         "*Fluency perplexity*: of the continuations under the base model, token-weighted; "
         "low means fluent to that model, and very low often means repetitive."),
        ("*C2ST accuracy*: a classifier two-sample test -- logistic regression on character "
         "n-grams fitted on the task's held-out passages only, cross-validated -- telling the "
         "row's continuations (trial 0) from the real continuations of the same prompts, each "
         "pair cut to the same number of words: 0.5 when it cannot tell them apart (the "
         "strategy writes like the real text, to these features), 1 when every text gives "
         "itself away; lower is better, down to chance. Its interval is Wilson's over the "
         "texts."),
        ("*MAUVE*: how much the row's continuations (trial 0) and the real ones overlap as "
         "distributions (Pillutla et al., 2021; `mauve-text` on all-MiniLM-L6-v2 sentence "
         "embeddings, the same pairs cut to the same length): 1 when they fall in the same "
         "clusters as often, near 0 when they share none; higher is better. Its interval is a "
         "percentile bootstrap over prompts (200 draws) stretched to hold the estimate: wide "
         "at small n."),
        ("*judge AUC*: the hard-negative judge (note above) scores each real continuation and "
         "the row's; the AUC is the chance it scores the real one higher -- 0.5 when it cannot "
         "rank them apart, 1 when the row's text always reads as the base model's own pastiche "
         "or paraphrase; lower is better, down to 0.5. Bootstrap over prompts (1,000 draws). "
         "The mean log-odds per row are in the judge's note and the CSV."),
        ("*distinct-2*: unique word 2-grams over all 2-grams of all continuations "
         "(lower-cased); higher is more varied. In the CSV: distinct-1 (of words), "
         "*repetition_rate* (per continuation, the share of its word 3-grams repeating an "
         "earlier one, averaged; lower is better), *chrf* (character F-score, sacrebleu "
         "0-100, of each continuation against the passage's own continuation, averaged; a "
         "weak signal for open-ended text) and the judge's mean log-odds."),
        ("Seeds and draws of training rows pool into one row: each number is the mean of its "
         "records' numbers, and each interval runs from the lowest low end to the highest high "
         "end of the records' 95% intervals ([min low, max high]), a wide span rather than an "
         "interval of the mean. A record's own interval covers its trials and evaluation rows; "
         "its other intervals are in the CSV."),
        ("*tokens/s*: generated tokens per second of batch generation. *ms/token* and *TTFT*: "
         "medians over single prompts of the time per generated token and to the first token."),
        ("RAM above baseline: the cell's peak host RSS minus its RSS before loading; GPU "
         "reserved: peak memory held by PyTorch's CUDA allocator. Worst seed shown."),
        (f"Cost: the stored device-seconds × the price table (CPU: ${prices[CPU_CORE]:g} per "
         f"core-hour × the threads the cell used; GPU: per GPU-hour by name, "
         f"${prices['cuda']:.2f} if unlisted). *Fit*: load + training. *Per 1k continuations*: "
         f"generation seconds per 1,000 continuations (trials included). "
         f"`harness report --prices FILE` re-prices without re-running."),
    ]


def continuation_sections(board: pd.DataFrame, store: Store) -> list[Section]:
    """Per evaluation set: the first evaluation rows (by index) that every row's predictions
    hold, each with its prompt, its reference and every row's continuation (first record,
    trial 0)."""
    if board.empty:
        return []
    sections = []
    for number, rows in board.groupby("eval_set", sort=True):
        frames = [_texts(store, key) for key in rows["key"]]
        common = set.intersection(*(set(frame.index) for frame in frames))
        chosen = sorted(common)[:PROMPTS_SHOWN]
        if not chosen:
            continue
        heading = "Continuations side by side" + (
            f", evaluation set {int(number)}" if board["eval_set"].nunique() > 1 else "")
        intro = (f"The first {len(chosen)} evaluation rows (by index) that every row has; each "
                 f"row's continuation is its first record's (lowest seed), trial 0, verbatim.")
        tables = []
        for index in chosen:
            first = frames[0].loc[index]
            texts = [first["prompt"], first["reference"],
                     *(frame.at[index, "prediction"] for frame in frames)]
            tables.append((f"Evaluation row {index}", pd.DataFrame({
                "source": ["prompt", "reference", *rows["row"]], "text": texts})))
        sections.append(Section(heading, [intro], tables))
    return sections


def _texts(store: Store, key: str) -> pd.DataFrame:
    """A record's predictions as text (a continuation '42' stays '42', an empty one ''),
    indexed by evaluation row."""
    frame = unguard(pd.read_csv(store.predictions_path(key), dtype=str, keep_default_na=False))
    return frame.set_index(frame["index"].astype(int))
