"""Speed and exactness of LabelScorer.score against a naive one-pass-per-label reference.

Both score the same rows of a task with the same model and the same rendered prompts (built as
the zero-shot strategy builds them). The reference runs one forward pass per example and label
word over prompt + label tokens (batch size 1, no padding) and sums the label tokens'
log-probabilities, so any difference beyond float noise is a bug in the batched scorer.

    python bench/label_scoring.py --n 200
    python bench/label_scoring.py --n 60 --task trec   # label words of several tokens
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from harness.inputs.data import DATA_DIR_ENV, load_split, subset
from harness.inputs.models import resolve_model
from harness.inputs.tasks import get_task
from strategies.decoder import truncate_text
from strategies.label_scoring import LabelScorer
from strategies.zero_shot import ZeroShotConfig

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
WARMUP_ROWS = 4  # rows each scorer sees once before timing (first-call allocations, caches)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="rows of the eval split (stratified)")
    parser.add_argument("--task", default="agnews", help="a built-in task or a task YAML file")
    parser.add_argument("--model", default="smollm2-135m-instruct",
                        help="a preset, local folder or hub id")
    parser.add_argument("--data-dir", default=None,
                        help=f"folder of <task>/<split>.csv (default: ${DATA_DIR_ENV}, "
                             f"else {DEFAULT_DATA_DIR})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the row subset")
    return parser.parse_args()


def load_model(name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = resolve_model(name)
    path = spec.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **spec.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **spec.load_kwargs())
    return model.eval(), tokenizer


@torch.inference_mode()
def naive_scores(scorer: LabelScorer, prompts: list[str]) -> np.ndarray:
    """One unpadded forward pass per (example, label): sum of the label tokens' log-probs."""
    scores = np.zeros((len(prompts), len(scorer.label_ids)))
    for i, prompt in enumerate(prompts):
        prompt_ids = scorer.prompt_ids(prompt)
        for k, label_ids in enumerate(scorer.label_ids):
            ids = torch.tensor([prompt_ids + label_ids], device=scorer.model.device)
            log_probs = torch.log_softmax(scorer.model(input_ids=ids).logits[0].float(), dim=-1)
            # the token at position p is predicted by the logits at position p - 1
            first = len(prompt_ids) - 1
            steps = torch.arange(first, first + len(label_ids))
            scores[i, k] = log_probs[steps, torch.tensor(label_ids)].sum().item()
    return scores


def timed(fn, prompts: list[str]) -> tuple[np.ndarray, float]:
    fn(prompts[:WARMUP_ROWS])
    start = time.perf_counter()
    scores = fn(prompts)
    return scores, time.perf_counter() - start


def main() -> None:
    args = parse_args()
    task = get_task(args.task)
    data_dir = args.data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    rows = subset(load_split(task, task.eval_split, data_dir), args.n, args.seed, what="--n")
    model, tokenizer = load_model(args.model)
    config = ZeroShotConfig()
    scorer = LabelScorer(model, tokenizer, task.label_words,
                         use_chat_template=config.use_chat_template,
                         max_batch_tokens=config.max_batch_tokens)
    prompts = [scorer.render(task.prompt(truncate_text(tokenizer, t, config.max_text_tokens)))
               for t in rows.texts]

    ours, ours_s = timed(scorer.score, prompts)
    naive, naive_s = timed(lambda p: naive_scores(scorer, p), prompts)

    diff = np.abs(ours - naive)
    worst = np.unravel_index(diff.argmax(), diff.shape)
    same = (ours.argmax(1) == naive.argmax(1)).mean()
    tokens = ", ".join(f"{w}={len(ids)}" for w, ids in zip(task.label_words, scorer.label_ids))
    print(f"task {task.name}, model {args.model}, {len(rows)} rows, "
          f"torch threads {torch.get_num_threads()}")
    print(f"label tokens: {tokens}")
    print(f"{'scorer':<28}{'examples/s':>12}{'seconds':>10}")
    print(f"{'ours (LabelScorer.score)':<28}{len(prompts) / ours_s:>12.2f}{ours_s:>10.2f}")
    print(f"{'naive (1 pass per label)':<28}{len(prompts) / naive_s:>12.2f}{naive_s:>10.2f}")
    print(f"speed ratio ours/naive:   {naive_s / ours_s:.2f}x")
    print(f"identical predictions:    {same:.1%}")
    print(f"max |score difference|:   {diff.max():.2e} (row {worst[0]}, "
          f"label {task.label_words[worst[1]]})")


if __name__ == "__main__":
    main()
