"""Our label scoring against EleutherAI's lm-evaluation-harness, like for like.

Same model object in memory (the SmolLM2-135M-Instruct folder the harness materializes, float32),
same evaluation rows, same prompt text (the task's prompt, input cut to the same token budget,
the first k training rows as demonstrations given as chat turns: lm-eval's `first_n` sampler
with `fewshot_as_multiturn`, the rows ordered so that the labels take turns), label words
scored by log-likelihood on both sides (lm-eval's HF backend, `multiple_choice`). The share of
identical prompt texts is printed as a check; beside the predictions, the per-label
log-likelihoods are compared (largest absolute difference), and the share of the most
predicted label says whether the predictions compared are degenerate.

What is timed, the same work on both sides: the model scoring prepared requests. lm-eval's task
is built and its requests (`Instance`s, contexts rendered) are made once, outside the clock; only
`HFLM.loglikelihood` over them is timed. Our prompts are rendered outside the clock; only
`LabelScorer.score` is timed, with a fresh scorer each repeat, so nothing computed before
(such as the demonstrations' cache) is reused; and again with its prefix cache off
(`reuse_prefix=False`), which says how much of the speed-up is the shared prefix (the
demonstrations) encoded once rather than for every row. Both tokenize inside the clock. Each side gets a
warm-up on a few rows first, then `--repeats` timed runs, interleaved so a busy spell on the
machine hits both; min and median examples/s and the ratios of the mins and of the medians are
printed and written with the environment to bench/results/lm_eval_compare.json.

    pip install '.[bench]'         # lm-eval, not a dependency of the harness
    python bench/lm_eval_compare.py --n 500 --shots 0,8
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from artifact import environment, ratio, summary, timed, write_artifact
from harness.inputs.models import resolve_model
from harness.inputs.tasks import get_task
from rows import bench_parser, demonstrations, question_rows
from strategies.label_scoring import LabelScorer

FEWSHOT_SEED = 1234  # simple_evaluate's default; first_n ignores it but the task wants one


def parse_args():
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="lm-eval's batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--warmup-rows", type=int, default=4, help="rows scored before timing")
    parser.add_argument("--sampler", choices=("first_n", "default"), default="first_n",
                        help="first_n: the same k demonstrations for every row (label-balanced; "
                             "the prefix every prompt shares); default: lm-eval's default "
                             "sampler, k training rows drawn for each row (seed 1234), which we "
                             "draw alike")
    parser.add_argument("--flop-rows", type=int, default=None,
                        help="rows whose FLOPs torch counts on each side, untimed (default: "
                             "all: on a few rows, batches padded otherwise than in the timed "
                             "runs overstate the FLOPs per row)")
    parser.add_argument("--out", default=None, help="artifact path "
                        "(default bench/results/lm_eval_compare.json)")
    return parser.parse_args()


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul FLOP/s of this machine with torch's current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(timed(torch.mm, a, b)[1] for _ in range(repeats))
    return 2 * size**3 / best


def write_lm_eval_task(folder: Path, name: str, label_words, train: pd.DataFrame,
                       test: pd.DataFrame, sampler: str = "first_n") -> None:
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    choices = ", ".join(f'"{w}"' for w in label_words)
    (folder / f"{name}.yaml").write_text(f"""task: {name}
dataset_path: csv
dataset_kwargs:
  data_files:
    train: {folder / 'train.csv'}
    test: {folder / 'test.csv'}
output_type: multiple_choice
training_split: train
test_split: test
fewshot_split: train
fewshot_config:
  sampler: {sampler}
doc_to_text: "{{{{question}}}}"
doc_to_target: label
doc_to_choice: [{choices}]
metric_list:
  - metric: acc
""")


def lm_eval_requests(lm, folder: Path, name: str, shots: int) -> list:
    """lm-eval's loglikelihood requests for the task, built as `simple_evaluate` builds them
    (chat template, demonstrations as turns), ordered by row then choice."""
    from lm_eval.tasks import TaskManager, get_task_dict

    task = get_task_dict([name], TaskManager(include_path=str(folder)))[name]
    task.set_config(key="num_fewshot", value=shots)
    task.set_fewshot_seed(seed=FEWSHOT_SEED)
    task.build_all_requests(apply_chat_template=True, fewshot_as_multiturn=True,
                            chat_template=lm.apply_chat_template,
                            tokenizer_name=lm.tokenizer_name)
    return sorted(task.instances, key=lambda instance: (instance.doc_id, instance.idx))


def lm_eval_scores(lm, requests: list, num_labels: int) -> np.ndarray:
    """lm-eval's log-likelihood of each row's choices, (rows, labels): its `acc` is the argmax."""
    responses = lm.loglikelihood(requests, disable_tqdm=True)
    return np.array([ll for ll, _ in responses]).reshape(-1, num_labels)


def balanced_first(train: pd.DataFrame) -> pd.DataFrame:
    """The training rows reordered so that every label comes in turn: the first k rows, which
    both sides take as demonstrations (lm-eval's `first_n`), hold each label about k / labels
    times. Drawn in order, 4 of the first 8 AG News rows were Business and the model answered
    Business to every question: identical predictions on degenerate output prove nothing."""
    turns = train.groupby("label", sort=True).cumcount()
    return train.assign(_turn=turns).sort_values(["_turn", "label"], kind="stable") \
        .drop(columns="_turn").reset_index(drop=True)


def per_row_demonstrations(train: pd.DataFrame, rows: int, shots: int) -> list[pd.DataFrame]:
    """The demonstrations lm-eval's default sampler gives each row: one random.Random seeded
    with the few-shot seed draws `shots` training rows per evaluation row, in row order (its
    ContextSampler.sample; random.sample picks the same indices from any sequence of that
    length). The share of identical prompts checks that we drew what it drew."""
    import random

    draw = random.Random(FEWSHOT_SEED)
    return [train.iloc[draw.sample(range(len(train)), shots)] for _ in range(rows)]


def counted_flops(fn, *args) -> float:
    """The FLOPs torch executes in fn(*args), as FlopCounterMode counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args)
    return float(counter.get_total_flops())


def flops_per_row(lm, model, tokenizer, task, requests: list, prompts: list[str],
                  rows: int) -> dict:
    """FLOPs per evaluation row of each side, counted by torch on the first `rows` rows, with
    the model's attention run eagerly for the count (the CPU's fused attention kernel has no
    FLOP formula; eager attention does the same products as plain matmuls). lm-eval runs
    every row's whole prompt and projects the vocabulary at every position; ours encodes the
    prefix all prompts share once (its FLOPs spread over every row of the run, as in the timed
    runs) and projects the vocabulary at the scored positions only."""
    k = len(task.label_words)
    model.set_attn_implementation("eager")
    try:
        theirs = counted_flops(lm_eval_scores, lm, requests[:rows * k], k) / rows
        scorer = LabelScorer(model, tokenizer, task.label_words)
        prefix = counted_flops(scorer.keep_prefix, prompts)
        ours = counted_flops(scorer.score, prompts[:rows]) / rows + prefix / len(prompts)
    finally:
        model.set_attn_implementation("sdpa")
    return {"lm_eval_gflop_per_row": theirs / 1e9, "our_gflop_per_row": ours / 1e9,
            "flop_ratio": theirs / ours, "flop_rows": rows,
            "our_prefix_gflop": prefix / 1e9}


def largest_share(predictions: np.ndarray) -> float:
    """The share of rows given the most predicted label (1.0: one answer to everything)."""
    return float(np.bincount(predictions).max() / len(predictions))


def compare(lm, model, tokenizer, task, test, train, shots, args, folder: Path) -> dict:
    """One shot count: both sides warmed up, then timed `repeats` times, interleaved. Ours is
    timed twice: as the harness runs it (the prefix every prompt shares, the demonstrations,
    encoded once and its cache reused) and with that cache off, so the speed-up is split into
    what the cache gives and what remains."""
    name = f"adapt_harness_{task.name}_{shots}shot"
    per_row = args.sampler == "default"
    train = train if per_row else balanced_first(train)
    write_lm_eval_task(folder, name, task.label_words, train, test, args.sampler)
    # Timed only to say what the old figure folded into lm-eval's time (simple_evaluate).
    requests, building_s, _ = timed(lm_eval_requests, lm, folder, name, shots)
    k = len(task.label_words)
    render = LabelScorer(model, tokenizer, task.label_words)
    shown = per_row_demonstrations(train, len(test), shots) if per_row else [train] * len(test)
    prompts = [render.render(q, demonstrations(task, rows, shots))
               for q, rows in zip(test["question"], shown)]
    contexts = [r.args[0] for r in requests[::k]]
    warm = args.warmup_rows
    lm_eval_scores(lm, requests[:warm * k], k)
    LabelScorer(model, tokenizer, task.label_words).score(prompts[:warm])
    seconds = {"lm_eval": [], "ours": [], "ours_no_prefix_cache": []}
    cpu = {side: [] for side in seconds}
    tokens = {}
    for repeat in range(args.repeats):
        theirs, wall, cpu_s = timed(lm_eval_scores, lm, requests, k)
        seconds["lm_eval"].append(wall)
        cpu["lm_eval"].append(cpu_s)
        for side, reuse in (("ours", True), ("ours_no_prefix_cache", False)):
            # A fresh scorer each time: nothing computed before is reused
            scorer = LabelScorer(model, tokenizer, task.label_words, reuse_prefix=reuse)
            scores, wall, cpu_s = timed(scorer.score, prompts)
            seconds[side].append(wall)
            cpu[side].append(cpu_s)
            tokens[side] = scorer.tokens_processed
            if reuse:
                ours = scores
            else:
                uncached = scores
        print(f"  {shots}-shot repeat {repeat + 1}/{args.repeats}: " + ", ".join(
            f"{side} {seconds[side][-1]:.1f} s ({cpu[side][-1]:.1f} CPU s)" for side in seconds),
            file=sys.stderr, flush=True)
    labels, n = test["label"].to_numpy(), len(test)
    sides = {side: summary(seconds[side], n, cpu[side]) for side in seconds}
    flops = flops_per_row(lm, model, tokenizer, task, requests, prompts,
                          min(args.flop_rows or n, n))
    # Each side's FLOP/s in its best run: what the kernels achieve, the work set aside
    flops["lm_eval_gflops_best"] = flops["lm_eval_gflop_per_row"] * n / sides["lm_eval"]["min_s"]
    flops["our_gflops_counted_best"] = flops["our_gflop_per_row"] * n / sides["ours"]["min_s"]
    theirs_pred, ours_pred = theirs.argmax(axis=1), ours.argmax(axis=1)
    their_acc = float((theirs_pred == labels).mean())
    return {"shots": shots, "rows": n, "lm_eval": sides["lm_eval"], "ours": sides["ours"],
            "ours_no_prefix_cache": sides["ours_no_prefix_cache"],
            "ratio": ratio(sides["lm_eval"], sides["ours"]),
            "ratio_lm_eval_to_ours_no_prefix_cache": ratio(sides["lm_eval"],
                                                           sides["ours_no_prefix_cache"]),
            "ratio_prefix_cache": ratio(sides["ours_no_prefix_cache"], sides["ours"]),
            "identical_predictions": float((ours_pred == theirs_pred).mean()),
            "identical_prompts": float(np.mean([a == b for a, b in zip(contexts, prompts)])),
            # The per-label log-likelihoods themselves, not only their argmax
            "max_abs_loglik_difference": float(np.abs(ours - theirs).max()),
            "max_abs_loglik_difference_no_prefix_cache": float(np.abs(uncached - theirs).max()),
            "largest_prediction_share": {"lm_eval": largest_share(theirs_pred),
                                         "ours": largest_share(ours_pred)},
            "sampler": args.sampler,
            "demonstration_labels": [int(y) for y in train["label"][:shots]] if not per_row
            else "drawn per row",
            "lm_eval_accuracy": their_acc,
            "lm_eval_accuracy_stderr": float(np.sqrt(their_acc * (1 - their_acc) / (n - 1))),
            "our_accuracy": float((ours_pred == labels).mean()),
            "our_tokens": tokens["ours"],
            "our_tokens_no_prefix_cache": tokens["ours_no_prefix_cache"],
            "lm_eval_request_building_s": round(building_s, 3), **flops}


def print_row(row: dict, matmul_params: int, peak: float) -> None:
    flops = 2 * matmul_params * row["our_tokens"] / row["ours"]["min_s"]
    row["our_gflops_best"], row["of_matmul_peak"] = flops / 1e9, flops / peak
    theirs, ours = row["lm_eval"], row["ours"]
    print(f"{row['shots']:>5} {theirs['best_examples_per_s']:>7.2f} "
          f"{theirs['median_examples_per_s']:>7.2f} {ours['best_examples_per_s']:>7.2f} "
          f"{ours['median_examples_per_s']:>7.2f} {row['ratio']['min']:>6.2f}x "
          f"{row['ratio']['median']:>6.2f}x {row['identical_predictions']:>9.1%} "
          f"{row['identical_prompts']:>8.1%} {row['lm_eval_accuracy']:>6.3f} ± "
          f"{row['lm_eval_accuracy_stderr']:.3f} {row['our_accuracy']:>7.3f} "
          f"{flops / 1e9:>7.1f} {flops / peak:>7.0%} {row['ratio']['cpu_min']:>6.2f}x "
          f"{row['ratio']['cpu_median']:>6.2f}x", flush=True)
    print(f"      GFLOP per row: lm-eval {row['lm_eval_gflop_per_row']:.1f}, ours "
          f"{row['our_gflop_per_row']:.1f} ({row['flop_ratio']:.2f}x); GFLOP/s in the best "
          f"run: lm-eval {row['lm_eval_gflops_best']:.1f}, ours "
          f"{row['our_gflops_counted_best']:.1f}", flush=True)


def main() -> None:
    args = parse_args()
    started = environment(("lm-eval",))
    task = get_task(args.task)
    path = resolve_model(args.model).local_path()
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    # lm-eval gets the very model object we score with: same weights, same memory layout.
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size)
    test, train = question_rows(task, tokenizer, args.n, args.data_dir)
    peak = matmul_peak_flops()
    params = sum(p.numel() for p in model.parameters())
    # FLOPs per token come from the matmuls: the embedding table is a lookup on the way in, and
    # the output projection runs on the last position only (logits_to_keep), so neither counts.
    matmul_params = params - model.get_input_embeddings().weight.numel()
    print(f"task {task.name}, {len(test)} rows, model {args.model} ({params / 1e6:.1f}M), "
          f"torch threads {torch.get_num_threads()}, float32 matmul peak {peak / 1e9:.1f} "
          f"GFLOP/s, {args.repeats} repeats after {args.warmup_rows} warm-up rows")
    print(f"{'':>5} {'lm-eval ex/s':>15} {'ours ex/s':>15} {'wall-time ratio':>15} "
          f"{'identical':>18} {'':>38} {'CPU-time ratio':>15}")
    print(f"{'shots':>5} {'best':>7} {'median':>7} {'best':>7} {'median':>7} {'mins':>7} "
          f"{'medians':>7} {'preds':>9} {'prompts':>8} {'lm-eval acc':>14} {'our acc':>7} "
          f"{'GFLOP/s':>7} {'of peak':>7} {'mins':>7} {'medians':>7}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shots in args.shots:
            folder = Path(tmp) / f"{shots}shot"
            folder.mkdir()
            rows.append(compare(lm, model, tokenizer, task, test, train, shots, args, folder))
            print_row(rows[-1], matmul_params, peak)
            # Written after every shot count: a long 8-shot run stopped midway keeps 0-shot.
            figures = {"task": task.name, "model": args.model, "rows": rows,
                       "complete": len(rows) == len(args.shots),
                       "matmul_peak_gflops": peak / 1e9}
            path = write_artifact("lm_eval_compare", args, figures, started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
