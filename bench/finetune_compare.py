"""The harness's `full-finetune` and `lora` fit time against a plain PyTorch training loop.

Same model (the minilm-l6 preset, built by strategies.encoder.load_classifier and, for lora,
strategies.adapters.add_lora, seeded so both sides start from the same weights), same rows
(a stratified subset of AG News train), same batch size, epochs, max length, learning rate,
optimizer and schedule (see bench/plain_loop.py). The harness side is the very call the
strategies make, strategies.trainer.train_classifier, timed as the runner times `fit`
(tokenization, Trainer set-up and the training loop); the plain side is timed over the same
scope. ratio = plain seconds / harness seconds, of the mins and of the medians of `--repeats`
runs (>= 1.0: the harness is as fast). Each side's loss is printed: the mean of its step losses
and the trained model's loss on its training rows.

Variants measure where the time goes: the plain loop with random batches, padded to max_length,
or under bf16 autocast; the Trainer with random batches (`train_sampling_strategy="random"`,
the default before length grouping was turned on) or `bf16=True` (the arguments
strategies/trainer.py builds, with just that change).

    python bench/finetune_compare.py                          # --n 512, 1 epoch, 3 repeats
    python bench/finetune_compare.py --variants harness,plain --epochs 3
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from artifact import environment, ratio, summary, write_artifact
from harness.inputs.data import load_split, subset
from harness.inputs.models import resolve_model
from harness.api.strategy import Context
from harness.inputs.tasks import get_task
from plain_loop import LoopVariant, final_loss, plain_train
from rows import data_dir_default
from strategies import trainer as training
from strategies.adapters import add_lora
from strategies.encoder import load_classifier
from strategies.full_finetune import FullFinetuneConfig
from strategies.lora import LoraConfig

CONFIGS = {"full-finetune": FullFinetuneConfig, "lora": LoraConfig}
# name -> (side, what changes): "harness" variants change Trainer arguments, "plain" ones the
# loop; "harness" (the strategies as configured: length-grouped batches, fp32) and "plain" (the
# same batches in a plain loop) are the comparison the ratio is about.
VARIANTS = {
    "harness": ("harness", {}),
    "plain": ("plain", LoopVariant(group_by_length=True)),
    "plain-random": ("plain", LoopVariant()),
    "plain-static-padding": ("plain", LoopVariant(static_padding=True)),
    "plain-bf16": ("plain", LoopVariant(group_by_length=True, bf16=True)),
    "harness-random": ("harness", {"train_sampling_strategy": "random"}),
    "harness-bf16": ("harness", {"bf16": True}),
}


def listed(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="training rows (stratified)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of each variant")
    parser.add_argument("--strategies", type=listed, default=list(CONFIGS))
    parser.add_argument("--variants", type=listed, default=list(VARIANTS),
                        help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--task", default="agnews")
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=data_dir_default())
    parser.add_argument("--out", default=None, help="artifact path "
                        "(default bench/results/finetune_compare.json)")
    args = parser.parse_args()
    for name in args.variants + args.strategies:
        if name not in VARIANTS and name not in CONFIGS:
            parser.error(f"unknown variant or strategy '{name}' "
                         f"(valid: {', '.join([*VARIANTS, *CONFIGS])})")
    return args


@contextmanager
def observed_trainer():
    """train_classifier builds its Trainer inside and returns nothing, so Trainer.train is
    wrapped (for this run only) to learn the loop's own seconds, its steps and mean loss; the
    rest of the fit is set-up (datasets map, Trainer and accelerate initialization)."""
    from transformers import Trainer

    seen, original = {}, Trainer.train

    def train(self, *args, **kwargs):
        start = time.perf_counter()
        out = original(self, *args, **kwargs)
        seen.update(loop_s=time.perf_counter() - start, steps=out.global_step,
                    mean_loss=out.training_loss)
        return out

    Trainer.train = train
    try:
        yield seen
    finally:
        Trainer.train = original


@contextmanager
def trainer_arguments(changes: dict):
    """The TrainingArguments strategies/trainer.py builds, with `changes` applied: measures
    exactly the edit a variant proposes to that file."""
    original = training.training_arguments
    if changes:
        training.training_arguments = lambda *a: dataclasses.replace(original(*a), **changes)
    try:
        yield
    finally:
        training.training_arguments = original


def fresh_model(strategy: str, config, context: Context):
    """The strategy's model as the strategy builds it, from the same seed on both sides."""
    torch.manual_seed(context.seed)
    model, tokenizer = load_classifier(context)
    if strategy == "lora":
        model = add_lora(model, config, "SEQ_CLS")
    return model, tokenizer


def fit(variant: str, strategy: str, config, context: Context, rows, with_loss: bool) -> dict:
    """One timed fit of a fresh model; the trained model's loss when asked (it costs a pass)."""
    side, change = VARIANTS[variant]
    model, tokenizer = fresh_model(strategy, config, context)
    start, cpu_start = time.perf_counter(), time.process_time()
    if side == "harness":
        with observed_trainer() as seen, trainer_arguments(change):
            training.train_classifier(model, tokenizer, rows, config, context)
    else:
        seen = plain_train(model, tokenizer, rows, config, context.seed, change)
    result = {"fit_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start,
              **seen}
    if with_loss:
        result["final_loss"] = final_loss(model, tokenizer, rows, config.max_length)
    return result


def run_all(args, context: Context, rows, after_repeat) -> dict:
    """Every (strategy, variant) `repeats` times, interleaved so a busy spell hits them all;
    `after_repeat(runs)` is called when each repeat is done."""
    runs = {(s, v): [] for s in args.strategies for v in args.variants}
    for repeat in range(args.repeats + 1):  # repeat 0 is the warm-up, on a few rows
        for (strategy, variant), results in runs.items():
            config = CONFIGS[strategy](epochs=args.epochs, batch_size=args.batch_size,
                                       max_length=args.max_length)
            data = rows.take(range(2 * args.batch_size)) if repeat == 0 else rows
            result = fit(variant, strategy, config, context, data, with_loss=repeat == 1)
            if repeat:
                results.append(result)
                print(f"  repeat {repeat}/{args.repeats} {strategy:<13} {variant:<21} "
                      f"{result['fit_s']:7.1f} s ({result['cpu_s']:.1f} CPU s)", flush=True)
        if repeat:
            after_repeat(runs)
    return runs


def fit_summary(results: list[dict], n: int) -> dict:
    return summary([r["fit_s"] for r in results], n, [r["cpu_s"] for r in results])


def figures(strategy: str, variant: str, runs: dict, n: int) -> dict:
    results = runs[strategy, variant]
    row = {"strategy": strategy, "variant": variant, "rows": n,
           "fit": fit_summary(results, n), "steps": results[0]["steps"],
           "mean_step_loss": results[0]["mean_loss"], "final_loss": results[0]["final_loss"]}
    if "loop_s" in results[0]:
        loops = [r["loop_s"] for r in results]
        row["trainer_loop_s_min"] = round(min(loops), 4)
        row["setup_s_min"] = round(min(r["fit_s"] - r["loop_s"] for r in results), 4)
    harness = runs.get((strategy, "harness"))
    if harness and variant != "harness":  # this variant's time against the harness as it is
        row["ratio_to_harness"] = ratio(row["fit"], fit_summary(harness, n))
    return row


def print_table(table: list[dict]) -> None:
    print(f"{'strategy':<13} {'variant':<21} {'best s':>7} {'median s':>8} {'vs harness':>13} "
          f"{'CPU s vs':>13} {'mean loss':>9} {'final loss':>10}")
    for row in table:
        vs = row.get("ratio_to_harness")
        wall = f"{vs['min']:.2f}x/{vs['median']:.2f}x" if vs else "-"
        cpu = f"{vs['cpu_min']:.2f}x/{vs['cpu_median']:.2f}x" if vs else "-"
        print(f"{row['strategy']:<13} {row['variant']:<21} {row['fit']['min_s']:>7.1f} "
              f"{row['fit']['median_s']:>8.1f} {wall:>13} {cpu:>13} "
              f"{row['mean_step_loss']:>9.4f} {row['final_loss']:>10.4f}")
    print("vs harness = variant seconds / harness seconds, mins/medians, wall and CPU; for "
          "'plain' it is plain_loop_time / harness_time (>= 1.0: the harness is as fast)")


def main() -> None:
    args = parse_args()
    started = environment()
    task = get_task(args.task)
    rows = subset(load_split(task, task.train_split, args.data_dir), args.n, args.seed, "--n")
    print(f"task {task.name}, {len(rows)} training rows, model {args.model}, {args.epochs:g} "
          f"epoch(s), batch {args.batch_size}, max length {args.max_length}, torch threads "
          f"{torch.get_num_threads()}, {args.repeats} repeats after a warm-up", flush=True)
    def save(runs: dict) -> Path:
        # Written after every repeat: a run stopped midway keeps the repeats it finished.
        table = [figures(s, v, runs, len(rows)) for s in args.strategies for v in args.variants]
        done = len(runs[args.strategies[0], args.variants[0]])
        artifact = {"task": task.name, "model": args.model, "rows": table,
                    "repeats_done": done, "complete": done == args.repeats,
                    "torch_threads_after": torch.get_num_threads()}
        return write_artifact("finetune_compare", args, artifact, started)

    with tempfile.TemporaryDirectory() as tmp:
        context = Context(task, resolve_model(args.model), args.seed, "cpu", Path(tmp))
        runs = run_all(args, context, rows, save)
    print_table([figures(s, v, runs, len(rows)) for s in args.strategies for v in args.variants])
    print(f"wrote {save(runs)}")


if __name__ == "__main__":
    main()
