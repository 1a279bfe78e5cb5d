"""Inference variants: other ways of running the model a cell fitted, each evaluated on the same
rows as the cell's own predictions and recorded beside them (`--inference`).

    harness run -s full-finetune,lora -t agnews --inference fp32,bf16,int8,merged

A strategy declares the variants it can load (`inference_variants`) and loads its exported model
in one of them (`load_inference`); the runner times the loading, measures each variant as it
measures any cell, and compares its predictions with the cell's own ("default").
"""

from __future__ import annotations

from harness.errors import HarnessError

DEFAULT = "default"  # the strategy's own predictions, as fitted: every cell has them
# Name -> what it means; an adapter strategy's int8, nf4 and bf16 run the merged model unless
# its own docs say otherwise.
VARIANTS = {
    "fp32": "float32 weights, reloaded from what the cell exported (adapters kept apart)",
    "bf16": "bfloat16 weights and activations",
    "fp16": "float16 weights and activations (CUDA only)",
    "int8": "8-bit weights of the Linear layers: dynamic int8 (torch.ao, per-channel scales) on "
            "CPU, bitsandbytes LLM.int8() on CUDA; the classification head stays in float32",
    "nf4": "4-bit NormalFloat weights of the Linear layers (bitsandbytes), float32 head",
    "merged": "LoRA adapters merged into the base weights (one matrix per layer), float32",
}


class VariantUnavailable(Exception):
    """This device cannot run the variant; the record says why (status 'skipped')."""


def parse_variants(text: str | None) -> tuple[str, ...]:
    """`--inference fp32,bf16,int8`: the variants asked besides the default, each once."""
    if text is None:
        return ()
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise HarnessError("--inference names no variant: give e.g. fp32,bf16,int8,merged")
    unknown = [name for name in names if name != DEFAULT and name not in VARIANTS]
    if unknown:
        raise HarnessError(f"--inference '{unknown[0]}' is not a variant: choose from "
                           f"{DEFAULT}, {', '.join(VARIANTS)}")
    return tuple(dict.fromkeys(name for name in names if name != DEFAULT))
