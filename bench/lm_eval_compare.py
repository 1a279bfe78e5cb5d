"""Our label scoring against EleutherAI's lm-evaluation-harness, side by side.

Same model (the SmolLM2-135M-Instruct folder the harness materializes), same prompt text (the
task's prompt, input cut to the same token budget, in the tokenizer's chat template), same
evaluation rows, same demonstrations (the first k training rows, lm-eval's `first_n` sampler,
given to both as chat turns), label words scored by log-likelihood in both (lm-eval's HF
backend with `multiple_choice`). Prints examples/s of both, the ratio, the share of identical
predictions, both accuracies with lm-eval's stderr, and our achieved FLOP/s against this
machine's float32 matmul peak measured here.

    pip install lm-eval            # not a dependency of the harness
    python bench/lm_eval_compare.py --n 500 --shots 0,8
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.models import resolve_model
from harness.tasks import get_task
from rows import bench_parser, demonstrations, question_rows
from strategies.label_scoring import LabelScorer


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="lm-eval's batch size")
    return parser.parse_args()


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul FLOP/s of this machine with torch's current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def write_lm_eval_task(folder: Path, name: str, label_words, train: pd.DataFrame,
                       test: pd.DataFrame) -> None:
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
  sampler: first_n
doc_to_text: "{{{{question}}}}"
doc_to_target: label
doc_to_choice: [{choices}]
metric_list:
  - metric: acc
""")


def run_lm_eval(path: str, folder: Path, name: str, shots: int, batch_size: int):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=path, device="cpu", batch_size=batch_size, dtype="float32")
    start = time.perf_counter()
    out = simple_evaluate(model=lm, tasks=[name], task_manager=TaskManager(include_path=str(folder)),
                          num_fewshot=shots, apply_chat_template=True, fewshot_as_multiturn=True,
                          log_samples=True)
    seconds = time.perf_counter() - start
    samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
    preds = np.array([int(np.argmax([_loglikelihood(r) for r in s["filtered_resps"]]))
                      for s in samples])
    metrics = out["results"][name]
    return preds, seconds, metrics["acc,none"], metrics["acc_stderr,none"]


def _loglikelihood(response) -> float:
    # (loglikelihood, is_greedy), possibly wrapped in a list, across lm-eval versions
    while isinstance(response, (list, tuple)) and isinstance(response[0], (list, tuple)):
        response = response[0]
    return float(response[0])


def main() -> None:
    args = parse_args()
    task = get_task(args.task)
    path = resolve_model(args.model).local_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    scorer = LabelScorer(model, tokenizer, task.label_words)
    test, train = question_rows(task, tokenizer, args.n, args.data_dir)
    peak = matmul_peak_flops()
    params = sum(p.numel() for p in model.parameters())
    # FLOPs per token come from the matmuls: the embedding table is a lookup on the way in, and
    # the output projection runs on the last position only (logits_to_keep), so neither counts.
    matmul_params = params - model.get_input_embeddings().weight.numel()
    print(f"task {task.name}, {len(test)} rows, model {args.model} ({params / 1e6:.1f}M, "
          f"{matmul_params / 1e6:.1f}M in matmuls), torch threads {torch.get_num_threads()}, "
          f"float32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    print(f"{'shots':>5} {'lm-eval ex/s':>13} {'ours ex/s':>10} {'ratio':>6} {'identical':>10} "
          f"{'lm-eval acc':>16} {'our acc':>8} {'our GFLOP/s':>12} {'of peak':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for shots in args.shots:
            name = f"adapt_harness_{task.name}_{shots}shot"
            folder = Path(tmp) / name
            folder.mkdir()
            write_lm_eval_task(folder, name, task.label_words, train, test)
            theirs, their_s, their_acc, stderr = run_lm_eval(path, folder, name, shots,
                                                             args.batch_size)
            demos = demonstrations(task, train, shots)
            prompts = [scorer.render(q, demos) for q in test["question"]]
            scorer.tokens_processed = 0
            start = time.perf_counter()
            ours = scorer.score(prompts).argmax(axis=1)
            our_s = time.perf_counter() - start
            flops = 2 * matmul_params * scorer.tokens_processed / our_s
            n = len(test)
            print(f"{shots:>5} {n / their_s:>13.2f} {n / our_s:>10.2f} {their_s / our_s:>5.1f}x "
                  f"{(ours == theirs).mean():>9.1%} {their_acc:>8.3f} ± {stderr:.3f} "
                  f"{(ours == test['label'].to_numpy()).mean():>8.3f} {flops / 1e9:>12.1f} "
                  f"{flops / peak:>7.0%}")


if __name__ == "__main__":
    main()
