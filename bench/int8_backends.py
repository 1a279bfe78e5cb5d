"""Which int8 serves a small encoder on this CPU: the encoder preset (MiniLM-L6, a 4-label head)
in float32, bfloat16, PyTorch's dynamic int8 (`torch.ao`, what the `int8` variant uses on CPU)
and torchao's int8 configurations when torchao is installed, timed side by side on AG News
texts at batch size 1 and in batches of 32; agreement of each with float32's predictions, on
a head fitted to AG News (the pooled outputs' logistic regression) so that the predictions
compared are not one label for every row, with each variant's accuracy and its most predicted
label's share.

    pip install torchao==0.18.0   # optional: the comparison it is measured against
    python bench/int8_backends.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact

from harness.cell.measure import latency_ms


def variants(model) -> dict:
    """name -> a function making that variant of a copy of the model (None: not installed)."""
    from strategies.inference import HEAD_MODULES, quantize_linear_int8

    made = {"fp32": lambda: copy.deepcopy(model),
            "bf16": lambda: copy.deepcopy(model).to(torch.bfloat16),
            "torch.ao dynamic int8": lambda: quantize_linear_int8(copy.deepcopy(model))}
    try:
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError:
        return {**made, "torchao int8 dynamic": None, "torchao int8 weight-only": None}

    def torchao(config):
        def make():
            copied = copy.deepcopy(model)
            quantize_(copied, config, filter_fn=lambda m, name: isinstance(m, torch.nn.Linear)
                      and not set(name.split(".")) & set(HEAD_MODULES))
            return copied
        return make

    return {**made, "torchao int8 dynamic": torchao(Int8DynamicActivationInt8WeightConfig()),
            "torchao int8 weight-only": torchao(Int8WeightOnlyConfig())}


@torch.inference_mode()
def measure(model, tokenizer, texts: list[str], repeats: int) -> dict:
    def run(batch):
        inputs = tokenizer(batch, truncation=True, max_length=128, padding=True,
                           return_tensors="pt")
        return model(**inputs).logits.float().argmax(-1)

    # The runner's own batch-1 latency: 5 warm-up texts, then 100 measured
    single = latency_ms(lambda text: run([text]), texts[5:105], texts[:5])
    batched, predictions = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        predictions = torch.cat([run(texts[i:i + 32]) for i in range(0, len(texts), 32)])
        batched.append(time.perf_counter() - start)
    return {"latency_p50_ms": single["latency_p50_ms"],
            "latency_p95_ms": single["latency_p95_ms"],
            "batch32_examples_per_s": len(texts) / min(batched),
            "batch32_seconds": [round(s, 3) for s in batched],
            "predictions": predictions.numpy()}


@torch.inference_mode()
def fit_head(model, tokenizer, texts: list[str], labels) -> None:
    """A trained head on the frozen encoder: logistic regression on the pooled outputs, copied
    into the classification layer. With the random head the variants were compared on before,
    most rows got one label: agreement on such output proves nothing."""
    from sklearn.linear_model import LogisticRegression

    pooled = []
    for i in range(0, len(texts), 32):
        inputs = tokenizer(texts[i:i + 32], truncation=True, max_length=128, padding=True,
                           return_tensors="pt")
        pooled.append(model.bert(**inputs).pooler_output)
    head = LogisticRegression(max_iter=2000).fit(torch.cat(pooled).numpy(), labels)
    model.classifier.weight.copy_(torch.tensor(head.coef_, dtype=torch.float32))
    model.classifier.bias.copy_(torch.tensor(head.intercept_, dtype=torch.float32))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--head-rows", type=int, default=1000,
                        help="training rows the classification head is fitted on")
    parser.add_argument("--out")
    args = parser.parse_args()
    started = environment(("torchao",))
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness.inputs.models import resolve_model

    path = resolve_model("minilm-l6").local_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=4).eval()
    train = pd.read_csv(Path(args.data_dir) / "agnews" / "train.csv").sample(
        args.head_rows, random_state=0)
    test = pd.read_csv(Path(args.data_dir) / "agnews" / "test.csv").iloc[:args.rows]
    fit_head(model, tokenizer, train["text"].tolist(), train["label"].to_numpy())
    texts = test["text"].tolist()
    rows, reference = [], None
    for name, make in variants(model).items():
        if make is None:
            rows.append({"variant": name, "installed": False})
            continue
        figures = measure(make(), tokenizer, texts, args.repeats)
        predictions = figures.pop("predictions")
        reference = predictions if reference is None else reference
        rows.append({"variant": name, "installed": True, **figures,
                     "agreement_with_fp32": float((predictions == reference).mean()),
                     "accuracy": float((predictions == test["label"].to_numpy()).mean()),
                     "largest_prediction_share": float(np.bincount(predictions).max()
                                                       / len(predictions))})
        print(rows[-1], flush=True)
    fp32 = rows[0]
    for row in rows[1:]:
        if row["installed"]:
            row["latency_p50_over_fp32"] = row["latency_p50_ms"] / fp32["latency_p50_ms"]
            row["batch32_speedup_over_fp32"] = (row["batch32_examples_per_s"]
                                                / fp32["batch32_examples_per_s"])
    path = write_artifact("int8_backends", args, {"rows": rows, "model": "minilm-l6",
                                                  "texts": len(texts)}, started)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
