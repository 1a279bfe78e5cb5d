"""The vllm backend against the transformers (hf) backend, side by side.

Same model folder, same rendered prompts (the task's prompt, chat template, zero-shot and k-shot
with the first k training rows as demonstrations), same evaluation rows, scored by both backends'
label scorers as the strategies use them. Prints examples/s of both, the ratio, the share of
identical predictions, the largest score difference and both accuracies.

    make setup-vllm                                  # vLLM lives in .venv-vllm
    .venv-vllm/bin/python bench/vllm_compare.py --n 500 --shots 0,8

The hf backend runs first: vLLM's CPU build pins its threads when it starts, which would slow
anything run after it in the same process.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from harness.inputs.models import resolve_model
from harness.inputs.tasks import get_task
from rows import bench_parser, demonstrations, question_rows
from strategies.label_scoring import LabelScorer


def timed_scores(scorer, prompts) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    scores = scorer.score(prompts)
    return scores, time.perf_counter() - start


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args()
    task = get_task(args.task)
    path = resolve_model(args.model).local_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    test, train = question_rows(task, tokenizer, args.n, args.data_dir)
    shots = args.shots
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto").eval()
    hf = LabelScorer(model, tokenizer, task.label_words)
    prompts = {k: [hf.render(q, demonstrations(task, train, k)) for q in test["question"]]
               for k in shots}
    print(f"task {task.name}, {len(test)} rows, model {args.model}, "
          f"torch threads {torch.get_num_threads()}")
    results = {k: timed_scores(hf, prompts[k]) for k in shots}
    del model, hf

    from strategies.vllm_scoring import VllmLabelScorer, open_engine

    start = time.perf_counter()
    engine = open_engine(path, seed=0)
    print(f"vLLM engine started in {time.perf_counter() - start:.1f} s")
    labels = test["label"].to_numpy()
    print(f"{'shots':>5} {'hf ex/s':>8} {'vllm ex/s':>10} {'ratio':>6} {'identical':>10} "
          f"{'max |diff|':>11} {'hf acc':>7} {'vllm acc':>9}")
    for k in shots:
        # A fresh scorer per k; vLLM's prefix cache is the engine's, so each k starts cold
        # only for its own demonstrations.
        theirs, their_s = results[k]
        ours, our_s = timed_scores(VllmLabelScorer(engine, tokenizer, task.label_words), prompts[k])
        n = len(test)
        print(f"{k:>5} {n / their_s:>8.2f} {n / our_s:>10.2f} {their_s / our_s:>5.2f}x "
              f"{(ours.argmax(1) == theirs.argmax(1)).mean():>9.1%} "
              f"{np.abs(ours - theirs).max():>11.2e} {(theirs.argmax(1) == labels).mean():>7.3f} "
              f"{(ours.argmax(1) == labels).mean():>9.3f}")


if __name__ == "__main__":
    main()
