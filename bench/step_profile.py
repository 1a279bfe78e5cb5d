"""Where a training step's time goes, full fine-tuning against LoRA on the same encoder and
batch: each configuration builds its model as the strategy does (strategies.encoder,
strategies.adapters), trains `--steps` AdamW steps on one fixed batch of AG News rows (after
`--warmup` untimed ones), and reports the median step's seconds, the share spent in the
matrix-product kernels, and torch's profiler table of the ops that took the most self time.
Configurations change one thing at a time (LoRA's dropout, its rank, the targets), interleaved
so that a busy spell hits them all.

    python bench/step_profile.py --configs full-finetune,lora,lora-dropout0 --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from artifact import environment, write_artifact  # noqa: E402
from rows import data_dir_default  # noqa: E402

from harness.api.strategy import Context  # noqa: E402
from harness.inputs.data import load_split, subset  # noqa: E402
from harness.inputs.models import resolve_model  # noqa: E402
from harness.inputs.tasks import get_task  # noqa: E402
from strategies.adapters import add_lora  # noqa: E402
from strategies.encoder import load_classifier  # noqa: E402
from strategies.lora import LoraConfig  # noqa: E402

# name -> LoRA settings changed from the strategy's defaults (None: full fine-tuning)
CONFIGS = {
    "full-finetune": None,
    "lora": {},
    "lora-dropout0.1": {"dropout": 0.1},
    "lora-dropout0": {"dropout": 0.0},
    "lora-attention-only": {"target_modules": "query,key,value"},
    "lora-frozen-bf16": {"frozen_bf16": True},  # the frozen base stored in bf16
}
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear",
              "aten::_scaled_dot_product_flash_attention_for_cpu",
              "aten::scaled_dot_product_attention")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="full-finetune,lora,lora-dropout0")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--data-dir", default=data_dir_default())
    parser.add_argument("--name", default="step_profile")
    parser.add_argument("--bf16", action="store_true",
                        help="steps under bf16 autocast, as the Trainer runs a bf16 cell")
    args = parser.parse_args()
    global AUTOCAST
    AUTOCAST = args.bf16
    started = environment()
    task = get_task("agnews")
    rows = subset(load_split(task, "train", args.data_dir), args.batch_size, seed=0)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as work:
        context = Context(task, resolve_model("minilm-l6"), 0, "cpu", Path(work))
        setups = {name: build(name, context, rows, args.max_length) for name in names}
        seconds = {name: [] for name in names}
        for name in names:  # warm-up, untimed
            for _ in range(args.warmup):
                step(*setups[name])
        for _ in range(args.steps):  # interleaved
            for name in names:
                started_step = time.perf_counter()
                step(*setups[name])
                seconds[name].append(time.perf_counter() - started_step)
        profiles = {name: profile(setups[name]) for name in names}
    figures = {"batch_size": args.batch_size, "max_length": args.max_length,
               "autocast": "bf16" if args.bf16 else None,
               "threads": torch.get_num_threads(), "configs": []}
    base = statistics.median(seconds[names[0]])
    for name in names:
        median = statistics.median(seconds[name])
        model = setups[name][0]
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        figures["configs"].append({
            "name": name, "change": CONFIGS[name], "median_step_s": median,
            "min_step_s": min(seconds[name]), f"over_{names[0]}": median / base,
            "trainable_params": trainable, **profiles[name]})
        print(f"{name}: median step {median * 1000:.1f} ms ({median / base:.2f}x "
              f"{names[0]}), matmul share {profiles[name]['matmul_share']:.0%}, "
              f"{profiles[name]['kernel_calls']} op calls per step")
        print(profiles[name]["table"])
    print(f"wrote {write_artifact(args.name, args, figures, started)}")


def build(name: str, context: Context, rows, max_length: int):
    torch.manual_seed(0)
    model, tokenizer = load_classifier(context)
    if CONFIGS[name] is not None:
        settings = dict(CONFIGS[name])
        frozen_bf16 = settings.pop("frozen_bf16", False)
        model = add_lora(model, LoraConfig(**settings), "SEQ_CLS")
        if frozen_bf16:
            for parameter in model.parameters():
                if not parameter.requires_grad and parameter.is_floating_point():
                    parameter.data = parameter.data.to(torch.bfloat16)
    model.train()
    batch = tokenizer(list(rows.texts), truncation=True, max_length=max_length, padding=True,
                      return_tensors="pt")
    batch["labels"] = torch.as_tensor(rows.labels)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    return model, batch, optimizer


AUTOCAST = False


def step(model, batch, optimizer) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=AUTOCAST):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def profile(setup, steps: int = 3) -> dict:
    from torch.profiler import ProfilerActivity, profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step(*setup)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]
    return {"matmul_share": matmul / total if total else 0.0,
            "kernel_calls": sum(e.count for e in events) // steps,
            "top_ops": [{"op": e.key, "self_ms_per_step": e.self_cpu_time_total / 1000 / steps,
                         "calls_per_step": e.count // steps} for e in top],
            "table": "\n".join(f"  {e.key:<60} {e.self_cpu_time_total / 1000 / steps:8.1f} ms "
                               f"{e.count // steps:6d} calls" for e in top)}


if __name__ == "__main__":
    main()
