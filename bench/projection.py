"""The GPU projection of the acceptance case (SmolLM2-135M, a 1B-class decoder, the encoder
preset) on every device of the table, the check measured here beside it, and the cost model's
FLOPs beside the FLOPs torch counts for a reduced-depth copy, as an artifact
(bench/results/projection.json). docs/projection.md shows its figures.

    python bench/projection.py                  # 1 CPU thread, about a minute
    python bench/projection.py --threads 2 --devices h100,t4,cpu
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from artifact import environment, write_artifact

from harness.projection.devices import resolve_devices
from harness.projection.project import count_architecture, load_config, project
from harness.projection.measure import build_model, reduced_config
from harness.projection.model import Settings, training_flops

MODELS = ("smollm2-135m-instruct", "llama-3.2-1b", "minilm-l6")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS))
    parser.add_argument("--devices", default="all")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the calibration and the check")
    parser.add_argument("--check-batch", type=int, default=4)
    parser.add_argument("--out", default=None, help="artifact path (default bench/results/)")
    return parser.parse_args()


def counted_flops(name: str, seq_len: int) -> list[dict]:
    """FLOPs of one training step (batch 1) of a 2-layer copy as torch's FlopCounterMode counts
    them, beside the cost model's formula for the same copy."""
    from torch.utils.flop_counter import FlopCounterMode

    config, kind = load_config(name)
    small = reduced_config(config, 2)
    # FlopCounterMode has no formula for CPU's fused attention kernel: eager attention does
    # the same FLOPs as plain matmuls, which it counts.
    small._attn_implementation = "eager"
    arch = count_architecture(f"{name} (2 layers)", small, kind)
    rows = []
    for strategy, what in (("full-finetune", "full"), ("lora", "lora")):
        model = build_model(small, what).train()
        ids = torch.randint(1, small.vocab_size, (1, seq_len))
        counter = FlopCounterMode(display=False)
        with counter:
            model(input_ids=ids, labels=torch.zeros(1, dtype=torch.long)).loss.backward()
        formula = training_flops(arch, strategy, seq_len, seq_len)
        rows.append({"model": arch.name, "strategy": strategy, "counted": counter.get_total_flops(),
                     "formula": formula, "formula_over_counted":
                         round(formula / counter.get_total_flops(), 4)})
    return rows


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", FutureWarning)
    started = environment()
    settings = Settings()
    wall = time.perf_counter()
    result = project(args.models, resolve_devices(args.devices), settings,
                     check_batch=args.check_batch, echo=print)
    result["flops_check"] = [row for name in args.models
                             for row in counted_flops(name, settings.seq_len)]
    result["wall_s"] = round(time.perf_counter() - wall, 1)
    print(f"wrote {write_artifact('projection', args, result, started)}")
    for row in result["rows"]:
        if row["device"] in ("h100", "t4"):
            print(f"{row['model']:<22} {row['device']:<5} {row['strategy']:<14} "
                  f"{row['train_memory_gib'] or 0:7.2f} GiB {row['ms_per_step'] or 0:9.1f} ms/step "
                  f"{row['s_per_1k_predictions']:8.3f} s/1k")
    for row in result["checks"]:
        print(f"check {row['model']:<40} {row['strategy']:<14} {row['figure']:<22} "
              f"measured/projected {row['ratio']:.2f}")
    for row in result["flops_check"]:
        print(f"flops {row['model']:<36} {row['strategy']:<14} formula/counted "
              f"{row['formula_over_counted']:.3f}")


if __name__ == "__main__":
    main()
