"""The evaluation rows and demonstration pool the prompting benchmarks share: the task's prompt
around each input, cut to the strategies' token budgets."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from harness.inputs.data import DATA_DIR_ENV, load_split, subset
from strategies.decoder import truncate_text

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
TEXT_TOKENS, DEMO_TOKENS = 256, 64  # as zero-shot's max_text_tokens and few-shot's max_demo_tokens


def data_dir_default() -> str:
    return os.environ.get(DATA_DIR_ENV) or str(DEFAULT_DATA_DIR)


def bench_parser(description: str) -> argparse.ArgumentParser:
    """The options every prompting benchmark takes: rows, shots, task, model, data."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=500, help="evaluation rows (stratified)")
    parser.add_argument("--shots", type=lambda text: [int(s) for s in text.split(",")],
                        default=[0, 8], help="comma-separated demonstration counts")
    parser.add_argument("--task", default="agnews")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data-dir", default=data_dir_default())
    return parser


def question_rows(task, tokenizer, n: int, data_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test, train): `question` (the prompted input) and `label`; n stratified test rows, and
    a shuffled, stratified pool of training rows whose first k are the k demonstrations."""
    evaluation = subset(load_split(task, task.eval_split, data_dir), n, 0)
    pool = subset(load_split(task, task.train_split, data_dir), 64, 0)
    test = pd.DataFrame({"question": [task.prompt(truncate_text(tokenizer, t, TEXT_TOKENS))
                                      for t in evaluation.texts], "label": evaluation.labels})
    train = pd.DataFrame({"question": [task.prompt(truncate_text(tokenizer, t, DEMO_TOKENS))
                                       for t in pool.texts], "label": pool.labels})
    return test, train


def demonstrations(task, train: pd.DataFrame, shots: int) -> list[tuple[str, str]]:
    return [(q, task.label_words[y]) for q, y in zip(train["question"][:shots],
                                                     train["label"][:shots])]
