"""The README's benchmark figures, generated from the JSON artifacts under bench/results/ so no
figure is ever typed by hand. Prints the Markdown; with --write replaces what lies between
`<!-- bench:begin -->` and `<!-- bench:end -->` in README.md.

    python bench/readme_figures.py            # print the tables
    python bench/readme_figures.py --write    # and put them in README.md
    python bench/readme_figures.py --check    # exit 1 if README.md differs (make test runs it)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from artifact import RESULTS_DIR

from harness.report.curve_section import size_bound

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def best_median(summary: dict, key: str = "examples_per_s", digits: int = 2) -> str:
    return f"{summary['best_' + key]:.{digits}f} / {summary['median_' + key]:.{digits}f}"


def times(pair: dict, prefix: str = "") -> str:
    """'min / median' of a ratio pair; "-" for an artifact written before CPU time was kept."""
    if prefix + "min" not in pair:
        return "-"
    return f"{pair[prefix + 'min']:.2f}x / {pair[prefix + 'median']:.2f}x"


def flops_cells(row: dict) -> str:
    if "flop_ratio" not in row:
        return "- | - |"
    return (f"{row['lm_eval_gflop_per_row']:.1f} / {row['our_gflop_per_row']:.1f} | "
            f"{row['lm_eval_gflops_best']:.0f} / {row['our_gflops_counted_best']:.0f} |")


def flops_sentence(row: dict) -> str:
    """Where a row's speed-up comes from: less work (FLOPs per row, counted by torch) or faster
    work (FLOP/s)."""
    faster = row["our_gflops_counted_best"] / row["lm_eval_gflops_best"]
    return (f"At {row['shots']} shots the speed-up ({row['ratio']['min']:.2f}x, mins) is "
            f"{'mostly ' if row['flop_ratio'] > faster else ''}less work: lm-eval runs "
            f"{row['lm_eval_gflop_per_row']:.1f} GFLOP per row against our "
            f"{row['our_gflop_per_row']:.1f} ({row['flop_ratio']:.2f}x; torch's count on "
            f"{row['flop_rows']} rows: lm-eval runs each row's whole prompt and projects the "
            f"vocabulary at every position, ours encodes the prefix the prompts share once and "
            f"projects the vocabulary at the scored position only), while our kernels run at "
            f"{faster:.2f}x lm-eval's FLOP/s ({row['our_gflops_counted_best']:.0f} against "
            f"{row['lm_eval_gflops_best']:.0f} GFLOP/s in the best runs).")


def lm_eval_table(records: list[dict]) -> list[str]:
    lines = [("| shots | demonstrations | rows | lm-eval ex/s (best / median) | "
              "ours ex/s (best / median) | "
              "wall-time ratio (mins / medians) | CPU-time ratio (mins / medians) | "
              "of it, the prefix cache (ours without / with it, mins / medians) | "
              "identical predictions | max abs Δ log-likelihood | most predicted label's share "
              "(lm-eval / ours) | lm-eval acc | our acc | GFLOP per row (lm-eval / ours) | "
              "GFLOP/s, best run (lm-eval / ours) |"),
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    work = []
    for record in records:
        for row in record["figures"]["rows"]:
            shown = ("none" if not row["shots"] else
                     "k drawn per row (lm-eval's default sampler)"
                     if row.get("sampler") == "default" else "the same k for every row")
            # Artifacts made before the log-likelihoods and the cache were compared show '-'
            cache = times(row["ratio_prefix_cache"]) if "ratio_prefix_cache" in row else "-"
            delta = (f"{row['max_abs_loglik_difference']:.1e}"
                     if "max_abs_loglik_difference" in row else "-")
            shares = row.get("largest_prediction_share")
            share = f"{shares['lm_eval']:.0%} / {shares['ours']:.0%}" if shares else "-"
            lines.append(f"| {row['shots']} | {shown} | {row['rows']} | "
                         f"{best_median(row['lm_eval'])} | "
                         f"{best_median(row['ours'])} | {times(row['ratio'])} | "
                         f"{times(row['ratio'], 'cpu_')} | {cache} | "
                         f"{row['identical_predictions']:.1%} | {delta} | {share} | "
                         f"{row['lm_eval_accuracy']:.3f} | {row['our_accuracy']:.3f} | "
                         f"{flops_cells(row)}")
            if "flop_ratio" in row:
                work.append(row)
    lines += [""] + [flops_sentence(row) for row in work] if work else []
    if any("largest_prediction_share" not in row for r in records for row in r["figures"]["rows"]):
        lines += ["", "A row with '-' comes from an artifact made before these columns: its "
                      "identical predictions were not checked against degenerate output (one "
                      "answer to every row), and its speed-up not split by the prefix cache."]
    return lines


def finetune_table(records: list[dict]) -> list[str]:
    lines = [("| strategy | variant | rows | fit s (best / median) | variant / harness, wall "
              "(mins / medians) | variant / harness, CPU (mins / medians) | "
              "Trainer set-up s (best) | mean step loss | final loss |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for record in records:
        for row in record["figures"]["rows"]:
            pair = row.get("ratio_to_harness", {})
            vs = f"{times(pair)} | {times(pair, 'cpu_')}"
            setup = f"{row['setup_s_min']:.1f}" if "setup_s_min" in row else "-"
            fit = row["fit"]
            lines.append(f"| {row['strategy']} | {row['variant']} | {row['rows']} | "
                         f"{fit['min_s']:.1f} / {fit['median_s']:.1f} | {vs} | {setup} | "
                         f"{row['mean_step_loss']:.4f} | {row['final_loss']:.4f} |")
    return lines


def _ci(value: list, digits: int) -> str:
    estimate, low, high = value
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


APART_HEADERS = {"two_sample_accuracy": "C2ST accuracy", "mauve": "MAUVE",
                 "hard_judge_auc": "judge AUC", "hard_judge_log_odds": "judge log-odds"}


def _maybe_ci(row: dict, name: str, digits: int) -> str:
    return _ci(row[name], digits) if name in row else "-"


def generation_table(records: list[dict]) -> list[str]:
    lines = []
    for record in sorted(records, key=lambda r: r["figures"]["task"], reverse=True):
        figures = record["figures"]
        judge = figures["judge"]
        rows = figures["rows"]
        sizes = sorted({(row["n_train"], row["n_eval"]) for row in rows if row["n_train"]})
        lines += [f"**{figures['task']}**: `{figures['run']}`: {figures['wall_s'] / 60:.1f} min "
                  f"wall time" + (f"; {sizes[0][0]} training / {sizes[0][1]} evaluation "
                                  f"passages" if len(sizes) == 1 else "") + ". Style "
                  f"judge: held-out accuracy {judge['style_judge_accuracy']:.4f} "
                  f"[{judge['style_judge_accuracy_ci_low']:.4f}, "
                  f"{judge['style_judge_accuracy_ci_high']:.4f}] on "
                  f"{judge['style_judge_n_heldout']:.0f} rows; it calls "
                  f"{judge['style_judge_on_reference']:.1%} of the test passages and "
                  f"{judge['style_judge_on_contrast']:.1%} of held-out contrast rows in style.",
                  *([f"On the first {figures['judge_on_reference_windows']['words']} words of "
                     f"the references (a continuation's length) its median P(in style) is "
                     f"{figures['judge_on_reference_windows']['median_probability']:.3f}; "
                     f"on the continuations, per strategy, in the table."]
                    if "judge_on_reference_windows" in figures else []),
                  *([f"Hard-negative judge: out-of-fold AUC {judge['hard_judge_cv_auc']:.3f} on "
                     f"its own {judge['hard_judge_n_positive']:.0f} real validation passages "
                     f"against {judge['hard_judge_n_negative']:.0f} texts the base model wrote; "
                     f"the real continuations' mean log-odds of being real: "
                     f"{rows[0]['hard_judge_reference_log_odds']:.2f} (the same prompts for "
                     f"every strategy)."]
                    if "hard_judge_cv_auc" in judge and "hard_judge_reference_log_odds"
                    in rows[0] else []),
                  "",
                  "| strategy | trials | held-out perplexity | C2ST accuracy | MAUVE | judge AUC "
                  "| judge log-odds | style accuracy | median P(in style) | fluency perplexity "
                  "| distinct-2 | chrF | fit s | tokens/s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in sorted(rows, key=lambda r: r["perplexity"][0]):
            lines.append(f"| {row['strategy']} | {row['trials']} | "
                         f"{_ci(row['perplexity'], 2)} | "
                         f"{_maybe_ci(row, 'two_sample_accuracy', 3)} | "
                         f"{_maybe_ci(row, 'mauve', 3)} | {_maybe_ci(row, 'hard_judge_auc', 3)} | "
                         f"{_maybe_ci(row, 'hard_judge_log_odds', 2)} | "
                         f"{_ci(row['style_accuracy'], 3)} | "
                         f"{row.get('style_probability_median', float('nan')):.3f} | "
                         f"{_ci(row['fluency_perplexity'], 1)} | "
                         f"{row['distinct_2'][0]:.3f} | {_ci(row['chrf'], 1)} | "
                         f"{row['fit_s']:.0f} | {row['tokens_per_s']:.1f} |")
        found = figures.get("resolved")
        if found:
            headers = {"perplexity": "perplexity", "style_accuracy": "style accuracy",
                       **APART_HEADERS}
            lines += ["", "Pairs of strategies told apart (non-overlapping 95% intervals): " +
                      "; ".join(f"{headers[name]} {len(v['apart'])} of {v['pairs']}"
                                for name, v in found.items() if v["pairs"]) + "."]
        lines.append("")
    return lines[:-1]


def vllm_generation_table(records: list[dict]) -> list[str]:
    lines = ["| prompts | new tokens | greedy continuations identical | max mean-NLL difference | "
             "transformers tokens/s (best / median) | vLLM tokens/s (best / median) | "
             "vLLM few-shot: prompt tokens from the prefix cache |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for record in records:
        figures = record["figures"]
        for hf in figures["hf"].values():
            vllm, few = figures["vllm"], figures.get("vllm_few_shot", {})
            cached = f"{few['cache']['cached_share']:.1%} ({few['shots']} shots)" if few else "-"
            lines.append(f"| {figures['rows']} | {figures['max_new_tokens']} | "
                         f"{hf['identical']} / {figures['rows']} | "
                         f"{hf['max_abs_mean_nll_difference']:.1e} | "
                         f"{best_median(hf, 'tokens_per_s', 1)} | "
                         f"{best_median(vllm, 'tokens_per_s', 1)} | {cached} |")
    return lines


def learning_curve_table(records: list[dict]) -> list[str]:
    lines = []
    for record in sorted(records, key=lambda r: r["figures"]["task"]):
        figures = record["figures"]
        sizes = sorted({p["n_train"] for p in figures["points"] if not p["flat"]})
        per_label = {p["n_train"]: p["n_per_class"] for p in figures["points"]
                     if p.get("n_per_class")}
        draws = max(p.get("data_seeds", 1) for p in figures["points"])
        pooled = f"; {draws} draws of the training rows pooled per size" if draws > 1 else ""
        heads = [f"{n} rows" + (f" ({per_label[n]} per label)" if n in per_label else "")
                 for n in sizes]
        # Summaries written since Step 12 keep each point's interval text
        schedule = ("the schedule since Step 12: at least 100 steps, early stopping on a "
                    "validation fifth" if "interval" in figures["points"][0] else
                    "the schedule before Step 12: 3 epochs, no validation rows")
        lines += [f"**{figures['task']}**, {schedule} (`{figures['run']}`: "
                  f"{figures['wall_s'] / 60:.0f} min "
                  f"wall time; {figures['n_eval']} evaluation rows{pooled}; accuracy [95% CI], "
                  f"fit s):", "", "| curve | " + " | ".join(heads) + " |",
                  "|---|" + "---:|" * len(sizes)]
        curves: dict[str, dict] = {}
        for point in figures["points"]:
            curves.setdefault(point["curve"], {})[point["n_train"]] = point
        for name, at in curves.items():
            counts = {p.get("data_seeds", 1) for p in at.values()}
            if len({p.get("data_seeds", 1) for p in figures["points"]}) > 1:
                name += f" ({'/'.join(map(str, sorted(counts)))} draw{'s' * (max(counts) > 1)})"
            if 0 in at:
                cells = [f"{_ci(at[0]['accuracy'], 3)} (no training rows)"] * len(sizes)
            else:
                cells = [f"{_ci(at[n]['accuracy'], 3)}, {at[n]['fit_s']:.0f} s" if n in at
                         else "-" for n in sizes]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        for row in sorted(figures["crossovers"], key=lambda r: r["crossing_rows"]):
            bound = [size_bound(row[k], sizes) for k in ("low", "high")]
            # Artifacts from before the rule: one draw, so conditional on it
            conditional = row.get("conditional", draws == 1)
            covers = row.get("covers", "rows" if draws == 1 else "rows + draws")
            significant = ("conditional on one run: nothing claimed" if conditional else
                           f"significantly ahead from {row['significant_from']} rows"
                           if row["significant_from"] else
                           f"not significantly ahead within {row['largest']} rows")
            lines.append(f"- {row['leader']} overtakes {row['other']} from "
                         f"{row['crossing_rows']:.0f} rows [{bound[0]}, {bound[1]}] "
                         f"(interval covers {covers}); {significant}")
        for anchor in figures["anchors"]:
            lines.append(f"- published anchor: {anchor['method']}, {anchor['model']}, "
                         f"{anchor['n_per_class']} per label: {anchor['accuracy']:.3f} ± "
                         f"{anchor['std']:.3f} ({anchor['source']})")
        lines.append("")
    return lines[:-1]


def projection_table(records: list[dict]) -> list[str]:
    lines = ["Projected (`harness project`, docs/projection.md; seq len 128, training batch 16, "
             "inference batch 32; never measured on these GPUs):", "",
             "| model | device | strategy | GiB per training step | fits | ms per step | "
             "step bound by | s per 1k predictions |", "|---|---|---|---:|---|---:|---|---:|"]
    for record in records:
        for row in record["figures"]["rows"]:
            if row["device"] not in ("h100", "t4") or "decoder" not in _kind(record, row):
                continue
            step = "-" if row.get("ms_per_step") is None else f"{row['ms_per_step']:.0f}"
            memory = "-" if row.get("train_memory_gib") is None else \
                f"{row['train_memory_gib']:.1f}"
            lines.append(f"| {row['model']} | {row['device']} | {row['strategy']} | {memory} | "
                         f"{'yes' if row['fits'] else 'no'} | {step} | "
                         f"{row.get('step_bound') or '-'} | {row['s_per_1k_predictions']:.2f} |")
        checks = [c for c in record["figures"]["checks"] if c["figure"] == "train_step_ms"]
        lines += ["", "Measured / projected on this CPU, reduced-depth copies: " + "; ".join(
            f"{c['model']} {c['strategy']} step {c['ratio']:.2f}" for c in checks)]
    return lines


def executor_table(records: list[dict]) -> list[str]:
    lines = []
    for record in records:
        figures = record["figures"]
        local, ray = figures["runs"]["local"], figures["runs"]["ray"]
        lines += [f"`{figures['command']}` on {figures['cpus']} cores, once with the local "
                  f"executor, then with `{figures.get('ray_options', '--executor ray')}` against "
                  f"`ray start --head` on the same machine: wall time {local['wall_s']:.0f} s "
                  f"local, {ray['wall_s']:.0f} s Ray (local / Ray = "
                  f"{figures['wall_ratio_local_over_ray']:.2f}); predictions identical in every "
                  f"cell: {'yes' if figures['identical_predictions'] else 'NO'}.", "",
                  "| cell | accuracy (local = Ray) | largest difference in any number | "
                  "wall s local / Ray | fit s local / Ray | torch threads local / Ray |",
                  "|---|---:|---:|---:|---:|---:|"]
        for cell in figures["cells"]:
            same = "=" if cell["accuracy"][0] == cell["accuracy"][1] else "≠"
            lines.append(f"| {cell['task']} · {cell['strategy']} | {cell['accuracy'][0]:.3f} "
                         f"{same} {cell['accuracy'][1]:.3f} | "
                         f"{cell['max_number_difference']:.1e} | {cell['wall_s'][0]:.0f} / "
                         f"{cell['wall_s'][1]:.0f} | {cell['fit_s'][0]:.1f} / "
                         f"{cell['fit_s'][1]:.1f} | {cell['cpu_threads'][0]} / "
                         f"{cell['cpu_threads'][1]} |")
        lines.append("")
    return lines[:-1]


def node_loss_table(records: list[dict]) -> list[str]:
    lines = []
    for record in records:
        figures = record["figures"]
        retried = [a for a in figures["attempts"] if len(a["nodes"]) > 1]
        where = "; ".join(f"`{a['cell']}`: node {' then node '.join(n[:8] for n in a['nodes'])}"
                          for a in retried)
        lines.append(f"Two-node Ray cluster, worker node {figures['removed_node'][:8]} removed "
                     f"while a cell ran there: {figures['cells']} cells, {figures['records']} "
                     f"records, {figures['duplicates']} written twice, {figures['failed']} "
                     f"failed, {figures['wall_s']:.0f} s; retried: {where or 'none'}.")
    return lines


VARIANT_ORDER = ("default", "fp32", "bf16", "fp16", "int8", "nf4", "merged")


def _accuracy(row: dict) -> str:
    return _ci([row["accuracy"], row["accuracy_ci_low"], row["accuracy_ci_high"]], 3)


def _signed(estimate: float, low: float, high: float) -> str:
    return f"{estimate:+.3f} [{low:+.3f}, {high:+.3f}]"


def _commands(figures: dict) -> str:
    earlier = f"{figures['earlier']}; then " if figures.get("earlier") else ""
    return earlier + "; ".join(f"`{run['command']}`" for run in figures["runs"])


def _mib(value) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def variants_table(records: list[dict]) -> list[str]:
    """Each fitted model's variants against its own predictions (bench/run_summary.py)."""
    lines = []
    for record in records:
        figures, rows = record["figures"], record["figures"]["records"]
        commands = _commands(figures)
        lines += [f"{commands}: each model's own predictions (default) and its variants, on "
                  "the same evaluation rows; change and agreement paired against the default.",
                  "", "| model · variant | accuracy [95% CI] | change [95% CI] | agreement | "
                  "latency p50 / p95 ms | examples/s | RAM above baseline MiB | weights MiB | "
                  "on disk MiB (what serving ships) | adapters | load + convert s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        order = sorted(rows, key=lambda r: (r["strategy"], r.get("inference_of") or r["key"],
                                            VARIANT_ORDER.index(r.get("inference") or "default")))
        for row in order:
            name = f"{row['strategy']} · {row.get('inference') or 'default'}"
            if row["status"] != "ok":
                lines.append(f"| {name} | {row['status']}: {row['error']} |" + " |" * 9)
                continue
            change = ("reference" if row.get("accuracy_delta") is None else
                      _signed(row["accuracy_delta"], row["accuracy_delta_ci_low"],
                              row["accuracy_delta_ci_high"]))
            agreement = ("-" if row.get("prediction_agreement") is None
                         else f"{row['prediction_agreement']:.3f}")
            # One definition for every row; an artifact from before it has none for defaults
            disk = row.get("disk_bytes")
            convert = "-" if row.get("conversion_s") is None else f"{row['conversion_s']:.1f}"
            lines.append(
                f"| {name} | {_accuracy(row)} | {change} | {agreement} | "
                f"{row['latency_p50_ms']:.1f} / {row['latency_p95_ms']:.1f} | "
                f"{row['throughput_eps']:.0f} | {_mib(row['rss_above_baseline_bytes'])} | "
                f"{_mib(row.get('weight_bytes'))} | {_mib(disk)} | "
                f"{row.get('footprint_adapters') or '-'} | {convert} |")
        lines.append("")
    return lines[:-1]


VARIABLES = ("selector", "calibrate", "order", "trials")


def selection_table(records: list[dict]) -> list[str]:
    """Few-shot demonstration selectors and the kNN vote on the same rows
    (bench/run_summary.py), and every pair of few-shot rows that differ in one variable."""
    lines = []
    for record in records:
        figures, rows = record["figures"], record["figures"]["records"]
        by_key = {row["key"]: row for row in rows if row["status"] == "ok"}
        lines += [f"{_commands(figures)}:", "", "| strategy | selector | order | calibrated | "
                  "demonstrations / neighbours | trials | accuracy [95% CI] | examples/s |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for row in sorted(by_key.values(), key=lambda r: (r["strategy"], _setting(r))):
            config = row["config"]
            if row["strategy"] == "knn":
                lines.append(f"| knn ({'similarity-weighted' if config['weighted'] else 'majority'}"
                             f" vote) | knn-embed | - | - | {config['k']} | 1 | {_accuracy(row)} "
                             f"| {row['throughput_eps']:.2f} |")
                continue
            lines.append(
                f"| few-shot | {config['selector']} | {config['order']} | "
                f"{'yes' if config['calibrate'] else 'no'} | "
                f"{config['k_per_class'] * len(row['labels'])} | {row['trials']} | "
                f"{_accuracy(row)} | {row['throughput_eps']:.2f} |")
        lines.append("")
        for pair in figures["paired"]:
            a, b = by_key.get(pair["a"]), by_key.get(pair["b"])
            if a is None or b is None:
                continue
            change = _one_change(a, b)
            if change:
                lines.append(f"- {change}: {_signed(pair['diff'], pair['low'], pair['high'])}, "
                             f"paired over the same rows and trials (p = {pair['p']:.3g})")
        lines.append("")
    return lines[:-1]


def _setting(row: dict) -> tuple:
    config = row["config"]
    return tuple(str(config.get(v)) for v in VARIABLES + ("weighted",))


def _one_change(a: dict, b: dict) -> str | None:
    """'what changed (what stayed)' when a and b differ in one variable only, a the change;
    the kNN vote against few-shot given the same neighbours (knn-embed, uncalibrated)."""
    if a["strategy"] == "knn" and b["strategy"] == "few-shot":
        config = b["config"]
        if config["selector"] == "knn-embed" and not config["calibrate"] and \
                a["config"]["k"] == config["k_per_class"] * len(b["labels"]):
            vote = "similarity-weighted" if a["config"]["weighted"] else "majority"
            return (f"knn {vote} vote minus few-shot given the same {a['config']['k']} "
                    f"neighbours as demonstrations (uncalibrated, {config['order']} order, "
                    f"{b['trials']} trial{'s' if b['trials'] != 1 else ''})")
        return None
    if a["strategy"] != "few-shot" or b["strategy"] != "few-shot":
        return None
    differ = [v for v in VARIABLES if a["config"][v] != b["config"][v]]
    if len(differ) != 1 or (differ[0] == "calibrate" and not a["config"]["calibrate"]) or \
            (differ[0] != "calibrate" and a["config"][differ[0]] in ("random", 1)):
        return None  # each change once, in one direction: towards kNN, calibration, ascending
    held = ", ".join(f"{v}={_plain_setting(a['config'][v])}" for v in VARIABLES
                     if v not in differ)
    name = differ[0]
    return (f"{name} {_plain_setting(b['config'][name])} → {_plain_setting(a['config'][name])}"
            f" ({held})")


def _plain_setting(value) -> str:
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) \
        else str(value)


def _teacher_s(row: dict, part: str) -> float:
    """The teacher's seconds as the runner's probe measured them (span_teacher_*_s); an
    artifact written before the probe has only what distill reported of itself."""
    return row.get(f"span_teacher_{part}_s", row.get(f"footprint_teacher_{part}_s"))


def _teacher_source(row: dict) -> str:
    return "" if "span_teacher_label_s" in row else " as distill reported it (before the probe)"


def distill_table(records: list[dict]) -> list[str]:
    """The student against its teacher run on its own (bench/run_summary.py)."""
    lines = []
    for record in records:
        figures, rows = record["figures"], record["figures"]["records"]
        commands = _commands(figures)
        lines += [f"{commands}:", "", "| model | accuracy [95% CI] | what it costs to make | "
                  "examples/s | USD per 1,000 predictions |", "|---|---:|---:|---:|---:|"]
        for row in rows:
            if row["status"] != "ok":
                continue
            name = f"{row['strategy']} · {row.get('inference') or 'default'}"
            made = f"fit {row['fit_s']:.0f} s"
            if row.get("footprint_teacher"):
                made += (f" (teacher {row['footprint_teacher']} labelling "
                         f"{row['footprint_teacher_rows_labelled']:.0f} rows: "
                         f"{_teacher_s(row, 'label'):.0f} s{_teacher_source(row)}, its "
                         f"accuracy on them "
                         f"{row['footprint_teacher_train_accuracy']:.3f})")
            lines.append(f"| {name} | {_accuracy(row)} | {made} | "
                         f"{row['throughput_eps']:.1f} | "
                         f"{row['predict_cost_usd_per_1k']:.5f} |")
            if row.get("footprint_teacher"):
                per_1k = (row["usd_per_hour"] / 3600 * _teacher_s(row, "predict") * 1000
                          / row["footprint_teacher_rows_labelled"])
                lines.append(f"| its teacher, labelling | {row['footprint_teacher_train_accuracy']:.3f} "
                             f"on the training rows |  | "
                             f"{row['footprint_teacher_rows_labelled'] / _teacher_s(row, 'predict'):.1f} "
                             f"| {per_1k:.5f} |")
        by_key = {row["key"]: row for row in rows}
        for pair in figures["paired"]:
            a, b = by_key[pair["a"]], by_key[pair["b"]]
            if a["strategy"] == "distill" and a.get("inference") in (None, "default") \
                    and b["strategy"] != "distill":
                lines.append(f"\nStudent minus {b['strategy']}: "
                             f"{_signed(pair['diff'], pair['low'], pair['high'])}, paired over "
                             f"the same rows (p = {pair['p']:.3f}).")
        lines.append("")
    return lines[:-1]


def int8_table(records: list[dict]) -> list[str]:
    lines = []
    for record in records:
        figures = record["figures"]
        trained = "accuracy" in figures["rows"][0]
        head = "a 4-label head fitted to AG News" if trained else \
            "an untrained 4-label head: agreement on near-ties"
        lines += [f"The encoder preset ({figures['model']}, {head}) on {figures['texts']} "
                  "AG News texts, each way of running it timed side by side in one process:", "",
                  "| variant | latency p50 / p95 ms (batch 1) | vs fp32 | examples/s (batches "
                  "of 32) | vs fp32 | agreement with fp32 | accuracy | most predicted label |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in figures["rows"]:
            if not row["installed"]:
                lines.append(f"| {row['variant']} | not installed |  |  |  |  |  |  |")
                continue
            extra = (f" {row['accuracy']:.3f} | {row['largest_prediction_share']:.0%} |"
                     if trained else " - | - |")
            lines.append(
                f"| {row['variant']} | {row['latency_p50_ms']:.1f} / {row['latency_p95_ms']:.1f} "
                f"| {row.get('latency_p50_over_fp32', 1):.2f}x | "
                f"{row['batch32_examples_per_s']:.0f} | "
                f"{row.get('batch32_speedup_over_fp32', 1):.2f}x | "
                f"{row['agreement_with_fp32']:.3f} |{extra}")
        lines.append("")
    return lines[:-1]


def _kind(record: dict, row: dict) -> str:
    kinds = {m["architecture"]["name"]: m["architecture"]["kind"]
             for m in record["figures"]["models"]}
    return kinds.get(row["model"], "")


def schedule_table(records: list[dict]) -> list[str]:
    """The schedule's floor (bench/schedule.py): accuracy by min_steps, per strategy and size."""
    lines = []
    for record in records:
        args, rows = record["args"], record["figures"]["rows"]
        floors = sorted({r["min_steps"] for r in rows})
        lines += [f"{args['task']}, {args['n_eval']} evaluation rows, data seeds "
                  f"{args['data_seeds']}; mean accuracy over the draws (sd), steps trained "
                  f"(early stopping), fit s:", "",
                  "| strategy | rows | " + " | ".join(f"min_steps {f}" for f in floors) + " |",
                  "|---|---:|" + "---:|" * len(floors)]
        cells = {(r["strategy"], r["n_train"], r["min_steps"]): r for r in rows}
        for strategy, n in sorted({(r["strategy"], r["n_train"]) for r in rows}):
            shown = []
            for floor in floors:
                r = cells.get((strategy, n, floor))
                sd = "" if r is None or r["accuracy_sd"] is None else f" ({r['accuracy_sd']:.3f})"
                shown.append("-" if r is None else
                             f"{r['accuracy_mean']:.3f}{sd}, {'/'.join(map(str, r['trained_steps']))}"
                             f" steps, {r['fit_s_mean']:.0f} s")
            lines.append(f"| {strategy} | {n} | " + " | ".join(shown) + " |")
        means = record["figures"]["mean_by_floor"]
        lines += ["", "Mean over strategies, sizes and draws: " + ", ".join(
            f"min_steps {f}: {v:.3f}" for f, v in means.items()) + ".", ""]
    return lines[:-1]


def significance_table(records: list[dict]) -> list[str]:
    """Same-method rows called different (bench/significance.py)."""
    lines = []
    for record in records:
        figures = record["figures"]
        lines += [f"Two rows of the same method, {figures['rows']} evaluation rows, accuracy "
                  f"{figures['accuracy']}, run-to-run sd {figures['run_sd']}:", "",
                  "| runs per row | leaderboards | p < 0.05 (rows only) | called significant |",
                  "|---|---:|---:|---:|"]
        for r in figures["results"]:
            lines.append(f"| {r['runs'][0]} and {r['runs'][1]} | {r['leaderboards']} | "
                         f"{r['p_below_0_05']:.1%} | {r['called_significant']:.1%} |")
        lines.append("")
    return lines[:-1]


def tuning_table(records: list[dict]) -> list[str]:
    """Tuned against untuned on the same rows (bench/tuning_summary.py)."""
    lines = []
    for record in records:
        f = record["figures"]
        lines += [f"**{f['task']}**, {f['n_train']} training rows, {f['n_eval']} evaluation "
                  f"rows (`{f['run']}`):", "",
                  "| row | accuracy [95% CI] | interval | fit s (the search, when tuned) | "
                  "settings chosen (validation macro-F1: defaults → chosen) |",
                  "|---|---:|---|---:|---|"]
        for r in f["rows"]:
            chosen = "; ".join(
                ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in sorted(c.items())) + f" ({d:.3f} → {b:.3f})"
                for c, d, b in zip(r["chosen"], r["validation_default"], r["validation_best"]))
            lines.append(f"| {r['row']} | {_ci(r['accuracy'], 3)} | {r['interval']} | "
                         f"{r['fit_s']:.0f} | {chosen or 'defaults'} |")
        lines.append("")
        for pair in f["tuned_minus_untuned"]:
            lines.append(f"- {pair['strategy']} tuned minus untuned: "
                         f"{_signed(pair['diff'], pair['low'], pair['high'])} (p = "
                         f"{pair['p']:.3g}, {pair['verdict']})")
        lines += [f"- ranking untuned: {' > '.join(f['ranking_untuned'])}; tuned: "
                  f"{' > '.join(f['ranking_tuned'])}", ""]
    return lines[:-1]


TABLES = {"lm_eval_compare": lm_eval_table, "finetune_compare": finetune_table,
          "vllm_generation_compare": vllm_generation_table, "generation_run": generation_table,
          "learning_curve": learning_curve_table, "projection": projection_table,
          "executor_compare": executor_table, "ray_node_loss": node_loss_table,
          "inference_variants": variants_table, "zero_shot_variants": variants_table,
          "demo_selection": selection_table, "schedule": schedule_table,
          "significance": significance_table, "tuning": tuning_table,
          "int8_backends": int8_table, "distill": distill_table}


def _artifact(results_dir: Path, name: str) -> tuple[Path, dict]:
    path = results_dir / f"{name}.json"
    return path, json.loads(path.read_text())


def coverage_text(results_dir: Path) -> str:
    """The interval coverage the statistics section quotes (bench/coverage.py)."""
    path, record = _artifact(results_dir, "coverage")
    f = record["figures"]
    wilson = {(w["rows"], w["accuracy"]): w["coverage"] for w in f["wilson"]}
    low, high = f["two_level_range"]
    naive_low, naive_high = f["ignoring_draws_range"]
    draws = f["settings"][0]["draws"]
    return (f"Wilson's interval of one run covers {wilson[100, 0.98]:.1%} of the time at 98% "
            f"accuracy on 100 rows (exactly, over the binomial; "
            f"{min(wilson.values()):.1%}-{max(wilson.values()):.1%} over "
            f"{len(wilson)} settings of 100-1,000 rows and 50-99% accuracy). The two-level "
            f"interval of a row with {draws} draws covers the true accuracy "
            f"{low:.1%}-{high:.1%} of the time (median {f['two_level_median']:.1%}) in "
            f"{f['leaderboards']:,} simulated leaderboards at each of {len(f['settings'])} "
            f"settings of accuracy, spread between draws and rows; the interval that ignores "
            f"the draws, which the harness used before, {naive_low:.1%}-{naive_high:.1%} "
            f"({provenance(record, path)}).")


def prompt_scoring_table(results_dir: Path) -> str:
    """Zero-shot's accuracy per task under each scoring, calibrated or not, and what the
    uncalibrated model answers most (bench/run_summary.py prompt_scoring)."""
    path, record = _artifact(results_dir, "prompt_scoring")
    rows = [r for r in record["figures"]["records"] if r["status"] == "ok"]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    columns = [(scoring, calibrate) for scoring in ("sum", "mean", "pmi")
               for calibrate in (False, True)]

    def find(task, scoring, calibrate):
        (row,) = [r for r in rows if r["task"] == task and r["config"]["scoring"] == scoring
                  and r["config"]["calibrate"] == calibrate]
        return row

    header = " | ".join(f"{s}, calibrated" if c else s for s, c in columns)
    lines = [f"| task | {header} |", "|---|" + "---|" * len(columns)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(
            f"{find(task, s, c)['accuracy']:.3f}" for s, c in columns) + " |")
    favourites = []
    for task in tasks:
        row = find(task, "sum", False)
        predicted = [sum(column) for column in zip(*row["confusion_matrix"])]
        top = max(range(len(predicted)), key=predicted.__getitem__)
        favourites.append(f'"{row["labels"][top]}" for {predicted[top] / sum(predicted):.0%} of '
                          f"the {sum(predicted)} {task} rows")
    gains = [find(t, s, True)["accuracy"] - find(t, s, False)["accuracy"]
             for t in tasks for s in ("sum", "mean")]
    return "\n".join(lines) + (
        f"\n\nUncalibrated (sum), the model's prior picks the label: {'; '.join(favourites)}. "
        f"Calibration moves sum and mean scoring by {min(gains):+.3f} to {max(gains):+.3f} "
        f"({provenance(record, path)}).")


def training_memory_table(results_dir: Path) -> str:
    """Training memory per configuration (one change at a time) and strategy: the fit phase's
    peak and the step's marks above the baseline, and the cost model's projection
    (bench/training_memory.py)."""
    return "\n\n".join(_training_memory(results_dir, name) for name in
                        ("training_memory", "training_memory_quick",
                         "training_memory_classifier")
                        if (results_dir / f"{name}.json").is_file())


def _training_memory(results_dir: Path, name: str) -> str:
    path, record = _artifact(results_dir, name)
    marks = ("train_step_start", "train_after_loss", "train_after_backward",
             "train_after_optimizer")
    lines = ["| configuration | strategy | fit peak | step start | after loss | after backward | "
             "after optimizer | tensors: weights / gradients / AdamW moments | fit s | "
             "projected (cost model) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for config in record["figures"]["configs"]:
        for r in config["records"]:
            if r["status"] != "ok":
                lines.append(f"| {config['label']} | {r['strategy']} | {r['status']} |"
                             + " |" * 7)
                continue
            cells = [f"{r['phases_mib']['fit']:,.0f}"] + [
                "-" if r["marks_mib"].get(m) is None else f"{r['marks_mib'][m]:,.0f}"
                for m in marks]
            projected = (f"{r['projected_train_mib']:,.0f} (measured {r['measured_over_projected']:.2f}x)"
                         if r.get("projected_train_mib") else "")
            t = r["tensors_mib"]
            lines.append(f"| {config['label']} | {r['strategy']} | " + " | ".join(cells)
                         + f" | {t['weights']:,.0f} / {t['gradients']:,.0f} / "
                         f"{t['adamw_moments']:,.0f} | {r['fit_s']:.0f} | {projected} |")
    final = {r["strategy"]: r for r in record["figures"]["configs"][-1]["records"]
             if r["status"] == "ok"}
    first = {r["strategy"]: r for r in record["figures"]["configs"][0]["records"]
             if r["status"] == "ok"}
    configs = record["figures"]["configs"]
    shared = min((c["command"] for c in configs), key=len)
    runs = f"`{shared}`" + (", each configuration with its code and settings"
                            if len(configs) > 1 else "")
    if len(record["figures"]["configs"]) > 1:
        summary = "; ".join(
            f"{s} {first[s]['phases_mib']['fit'] / 1024:.1f} → "
            f"{final[s]['phases_mib']['fit'] / 1024:.2f} GiB" for s in final if s in first)
        summary = f"Fit peak above the baseline, first configuration → last: {summary}. "
    else:
        summary = "Fit peak above the baseline: " + "; ".join(
            f"{s} {r['phases_mib']['fit'] / 1024:.2f} GiB" for s, r in final.items()) + ". "
    return f"{runs}:\n\n" + "\n".join(lines) + f"\n\n{summary}({provenance(record, path)})."


def precision_table(results_dir: Path) -> str:
    """bf16 against float32 on the same cells (bench/precision_compare.py)."""
    if not (results_dir / "precision_compare.json").is_file():
        return ("Not measured yet: `python bench/precision_compare.py` writes the comparison of "
                "bf16 against fp32.")
    path, record = _artifact(results_dir, "precision_compare")
    lines = ["| task | strategy | rows (train / eval) | accuracy fp32 | accuracy bf16 | "
             "bf16 − fp32 [95% CI] | identical predictions | fit s fp32 / bf16 | "
             "predict s fp32 / bf16 | latency p50 ms fp32 / bf16 | timed busy |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]

    def pair(row, name, digits=0):
        a, b = row[name]
        ratio = row.get(f"{name}_ratio")
        shown = f"{a:,.{digits}f} / {b:,.{digits}f}" if a is not None and b is not None else "-"
        return shown + (f" ({ratio:.2f}x)" if ratio else "")

    for row in record["figures"]["pairs"]:
        busy = ", ".join(p for p, b in zip(("fp32", "bf16"), row["busy"]) if b) or "no"
        if not row.get("same_code", True):
            busy += " (code differs: times not compared)"
        lines.append(
            f"| {row['task']} | {row['strategy']} | {row['n_train']:,} / {row['n_eval']:,} | "
            f"{row['accuracy_fp32']:.3f} | {row['accuracy_bf16']:.3f} | "
            f"{_signed(row['accuracy_delta'], row['accuracy_delta_low'], row['accuracy_delta_high'])}"
            f" | {row['identical_predictions']:.1%} | {pair(row, 'fit_s')} | "
            f"{pair(row, 'predict_s')} | {pair(row, 'latency_p50_ms')} | {busy} |")
    shares = [max(row["most_predicted_share"]) for row in record["figures"]["pairs"]]
    made_by = record["figures"].get("made_by")
    note = (f"{made_by}. " if made_by else "") + (
            f"Intervals cover the evaluation rows and every trial, paired (bf16 minus fp32); "
            f"the most predicted label takes at most {max(shares):.0%} of a row's predictions, "
            f"so identical predictions are not a degenerate agreement." if shares else "")
    return "\n".join(lines) + f"\n\n{note} ({provenance(record, path)})."


API_RUNS = {"hf": "hf (in process)", "vllm": "vllm (in process)",
            "api_logprobs": "api, logprobs (`vllm serve`)",
            "api_generate": "api, generate (`vllm serve`)",
            "api_logprobs_again": "api, logprobs again, forced"}


def api_table(results_dir: Path) -> str:
    """zero-shot through an endpoint beside the in-process backends (bench/api_compare.py)."""
    if not (results_dir / "api_compare.json").is_file():
        return "Not measured yet: `.venv-vllm/bin/python bench/api_compare.py` writes it."
    path, record = _artifact(results_dir, "api_compare")
    f = record["figures"]
    prices = f["example_prices_per_million"]
    lines = ["| backend | accuracy [95% CI] | same predictions as vllm | examples/s | "
             "latency p50 (ms) | $ per 1M predictions | tokens per prediction (prompt + "
             "completion) | answers naming no label | requests the server saw |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in f["rows"]:
        tokens = (f"{row['api_prompt_tokens_per_row']:.0f} + "
                  f"{row['api_completion_tokens_per_row']:.1f}"
                  if row.get("api_prompt_tokens_per_row") is not None else "-")
        failures = (f"{row['api_parse_failures'] / row['api_rows']:.1%}"
                    if row.get("api_parse_failures") is not None else "-")
        low, high = row["accuracy_ci"]
        cached = " (all from the cache)" if row.get("api_requests_cached") and not row.get(
            "api_requests_sent") else ""
        lines.append(
            f"| {API_RUNS.get(row['run'], row['run'])} | {row['accuracy']:.3f} [{low:.3f}, "
            f"{high:.3f}] | {row['agreement_with_vllm']:.1%} | {row['examples_per_s']:.1f} | "
            f"{row['latency_p50_ms']:.0f} | ${row['predict_cost_usd_per_1k'] * 1000:.2f} | "
            f"{tokens} | {failures} | {row['server_requests']}{cached} |")
    shares = max(row["most_predicted_share"] for row in f["rows"])
    note = (f"zero-shot, SmolLM2-135M-Instruct (the offline folder) in float32 on every side, "
            f"the same {record['args']['n_eval']} AG News evaluation rows; one cell at a time. "
            f"The api rows' price is their tokens at an example ${prices['input']:.2f} (input) "
            f"and ${prices['output']:.2f} (output) per million; the others' is this CPU's "
            f"seconds at the default core-hour price. The most predicted label takes at most "
            f"{shares:.0%} of a row's predictions. Accuracy intervals cover the evaluation rows")
    return "\n".join(lines) + f"\n\n{note} ({provenance(record, path)})."


QUICK_PROFILES = (("quick_profile_before", "before (code at this step's start)"),
                  ("quick_profile_jobs1", "after, one cell at a time on 2 threads"),
                  ("quick_profile_after", "after, `make run`: a cell per core"))


def quick_profile_table(results_dir: Path) -> str:
    """The quick profile cell by cell, before and after Step 15: each cell's wall seconds and
    the share of it in model kernels (bench/cell_profile.py, py-spy)."""
    runs = [(label, *_artifact(results_dir, name)) for name, label in QUICK_PROFILES
            if (results_dir / f"{name}.json").is_file()]
    strategies = list(dict.fromkeys(c["strategy"] for _, _, r in runs
                                    for c in r["figures"]["cells"]))
    head = " | ".join(f"{label}: wall s · in kernels · latency sampling · accuracy"
                      for label, _, _ in runs)
    lines = [f"| strategy | {head} |", "|---|" + "---:|" * len(runs)]
    for strategy in strategies:
        cells = []
        for _, _, record in runs:
            found = [c for c in record["figures"]["cells"] if c["strategy"] == strategy]
            if not found:
                cells.append("-")
                continue
            c = found[0]
            precision = f" ({c['precision']})" if c.get("precision") else ""
            accuracy = f"{c['accuracy']:.3f}" if c.get("accuracy") is not None else "-"
            shares = " · ".join("-" if c.get(k) is None else f"{c[k]:.0%}"
                                for k in ("kernel_share", "latency_sampling_share"))
            cells.append(f"{c['wall_s']:.0f}{precision} · {shares} · {accuracy}")
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"{r['figures']['wall_s'] / 60:.1f} min" if r["figures"].get("wall_s")
                        else "-" for _, _, r in runs)
    lines.append(f"| **the run's wall time** | {totals} |")
    notes = [f"- {label}: {record['figures']['note']} ({provenance(record, path)})"
             for label, path, record in runs]
    return "\n".join(lines + [""] + notes)


def style_bounds_table(results_dir: Path) -> str:
    """The style metrics' ceiling and floor on real text (bench/two_sample_bounds.py)."""
    path, record = _artifact(results_dir, "two_sample_bounds")
    f = record["figures"]
    if "judge" not in f:
        return "Not measured yet: `python bench/two_sample_bounds.py` writes it."
    lines = ["| texts compared | pairs | C2ST accuracy (0.5 = alike) | MAUVE (1 = alike) | "
             "judge AUC (0.5 = alike) |", "|---|---:|---:|---:|---:|"]
    for row in f["rows"]:
        cells = [f"{row[m]['mean']:.3f} ({row[m]['min']:.3f}–{row[m]['max']:.3f})"
                 for m in ("accuracy", "mauve", "judge_auc")]
        lines.append(f"| {row['comparison']} | {row['pairs']} | " + " | ".join(cells) + " |")
    draws = len(f["rows"][0]["draws"])
    judge = f["judge"]
    lines += ["", f"Mean (lowest–highest) over {draws} draws of the texts. The judge: "
              f"out-of-fold AUC {judge['hard_judge_cv_auc']:.3f} on its own "
              f"{judge['hard_judge_n_positive']} real passages against "
              f"{judge['hard_judge_n_negative']} the base model wrote "
              f"({provenance(record, path)})."]
    return "\n".join(lines)


QUOTED = {"coverage": coverage_text, "prompt_scoring": prompt_scoring_table,
          "training_memory": training_memory_table, "precision": precision_table,
          "quick_profile": quick_profile_table, "api_compare": api_table,
          "style_bounds": style_bounds_table}


def provenance(record: dict, path: Path) -> str:
    """Where a table's figures come from: the artifact, its command, machine and code."""
    env = record["environment"]
    commit = (env.get("git_commit") or "unknown")[:7] + (" (dirty)" if env.get("git_dirty") else "")
    stopped = "" if record["figures"].get("complete", True) else ", stopped before the end"
    shown = path.relative_to(README.parent) if path.is_relative_to(README.parent) else path
    return (f"`{shown}`: `{record['command']}`{stopped}; "
            f"{env['device_name']}, {env['torch_threads']} torch threads, load average "
            f"{env['load_average_1m_5m_15m'][0]:.1f} at start and "
            f"{record['load_average_at_end'][0]:.1f} at end; torch "
            f"{env['packages'].get('torch')}, commit {commit}, {record['finished_utc']}")


def markdown(results_dir: Path = RESULTS_DIR) -> str:
    found: dict[str, list[tuple[Path, dict]]] = {}
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text())
        found.setdefault(record["benchmark"], []).append((path, record))
    blocks = []
    for name, render in TABLES.items():
        if name not in found:
            continue
        records = [record for _, record in found[name]]
        sources = "\n".join(f"- {provenance(record, path)}" for path, record in found[name])
        blocks.append("\n".join(render(records)) + "\n\n" + sources)
    return "\n\n".join(blocks)


def markers(name: str) -> tuple[str, str]:
    """The comments around a generated block: the main one, or a figure quoted in the text."""
    return (BEGIN, END) if name == "bench" else (f"<!-- bench:{name}:begin -->",
                                                 f"<!-- bench:{name}:end -->")


def blocks(results_dir: Path = RESULTS_DIR) -> dict[str, str]:
    """Every generated block of the README by name: the main one (all the tables) and the
    figures the text quotes where it explains them."""
    return {"bench": markdown(results_dir),
            **{name: render(results_dir) for name, render in QUOTED.items()}}


def _split_readme(readme: str, name: str = "bench") -> tuple[str, str, str]:
    """(before the block, the block, after it)."""
    begin, end = markers(name)
    if begin not in readme or end not in readme:
        raise SystemExit(f"{README} has no {begin} ... {end} markers to write between")
    head, rest = readme.split(begin, 1)
    block, tail = rest.split(end, 1)
    return head, block.strip("\n"), tail


def with_blocks(readme: str, texts: dict[str, str]) -> str:
    for name, text in texts.items():
        head, _, tail = _split_readme(readme, name)
        begin, end = markers(name)
        readme = f"{head}{begin}\n{text}\n{end}{tail}"
    return readme


def write_readme(texts: dict[str, str]) -> None:
    README.write_text(with_blocks(README.read_text(), texts))


def difference(readme: str, texts: dict[str, str]) -> str | None:
    """None when every block of the README is what `texts` has; else where the first one
    differs, as one line."""
    for name, text in texts.items():
        head, block, _ = _split_readme(readme, name)
        if block == text:
            continue
        first = head.count("\n") + 2  # the block's first line in the README
        ours, theirs = block.splitlines(), text.splitlines()
        for at, (line, expected) in enumerate(zip(ours, theirs)):
            if line != expected:
                col = next((i for i, (x, y) in enumerate(zip(line, expected)) if x != y),
                           min(len(line), len(expected)))
                start = max(0, col - 30)
                return (f"README.md line {first + at}, column {col + 1}, is not what "
                        f"bench/results/ gives: {line[start:col + 30]!r} != "
                        f"{expected[start:col + 30]!r} (python bench/readme_figures.py --write)")
        return (f"README.md's {name} block has {len(ours)} lines, bench/results/ gives "
                f"{len(theirs)} (python bench/readme_figures.py --write)")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md's bench block")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when README.md's bench block differs from the artifacts")
    args = parser.parse_args()
    texts = blocks()
    if args.check:
        problem = difference(README.read_text(), texts)
        if problem:
            raise SystemExit(problem)
        print(f"README.md's {len(texts)} generated blocks are what bench/results/ gives")
        return
    print("\n\n".join(texts.values()))
    if args.write:
        write_readme(texts)


if __name__ == "__main__":
    main()
