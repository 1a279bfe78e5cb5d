"""Loading an exported classifier in an inference variant (harness/api/variants.py names them), for
the strategies that train one: weights cast, quantized or merged as a deployment would load them.

    model = load_classifier_variant(context, export_folder, "int8")   # full weights exported
    model = load_adapter_variant(context, export_folder, "nf4", {})   # strategies/lora.py

On CPU int8 is PyTorch's dynamic quantization of the Linear layers (int8 weights, activations
quantized per batch at run time); on CUDA it and nf4 are bitsandbytes'. The classification head
(and BERT's pooler feeding it) stays in float32 everywhere: it is small and, freshly trained,
the part least tolerant of rounding.
"""

from __future__ import annotations

from pathlib import Path

import torch

from harness.api.variants import VariantUnavailable
from harness.api.strategy import Context
from strategies.common import is_dynamic_int8
from strategies.decoder import load_tokenizer

HEAD_MODULES = ("classifier", "pre_classifier", "score", "pooler")
# A decoder's output layer scores every label word: kept in its own precision, as bitsandbytes
# keeps it by default
DECODER_HEAD = ("lm_head",)
# Dynamic int8 shares one activation scale per tensor: the inputs of a decoder's MLP down
# projections carry the first token's massive activations (SmolLM2-135M, layer 11: 3,065 vs a
# median of 1.6 over the other tokens), which would round every other token to zero
DECODER_INT8_KEPT = ("lm_head", "down_proj")


def check_variant(variant: str, context: Context) -> None:
    if context.task.kind != "classification":
        raise VariantUnavailable("inference variants are evaluated on classification tasks")
    if variant == "fp16" and context.device != "cuda":
        raise VariantUnavailable("fp16 runs on CUDA only; on CPU use bf16")
    if context.backend != "hf":
        raise VariantUnavailable(f"variants load through transformers; the {context.backend} "
                                 f"backend serves the model its own way (use --backend hf)")


def load_kwargs(variant: str, device: str, skip: tuple[str, ...] = HEAD_MODULES) -> dict:
    """from_pretrained arguments that load weights in the variant's precision (int8 on CPU is
    quantized after loading, in float32); the `skip` modules stay unquantized."""
    from transformers import BitsAndBytesConfig

    if variant == "bf16":
        return {"dtype": torch.bfloat16}
    if variant == "fp16":
        return {"dtype": torch.float16}
    bnb = None
    if variant == "int8" and device == "cuda":
        bnb = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=list(skip))
    if variant == "nf4":
        bnb = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if device == "cuda" else torch.float32,
            llm_int8_skip_modules=list(skip))
    if bnb is None:
        return {"dtype": torch.float32}
    return {"quantization_config": bnb, "device_map": {"": 0 if device == "cuda" else "cpu"}}


def placed(model, variant: str, device: str, skip: tuple[str, ...] = HEAD_MODULES):
    """The loaded model on its device, int8 on CPU quantized; bitsandbytes placed it already."""
    if getattr(model, "is_quantized", False) or getattr(model, "is_loaded_in_4bit", False):
        return model.eval()
    model = model.to(device)
    if variant == "int8":  # on CPU (CUDA int8 was loaded by bitsandbytes)
        model = quantize_linear_int8(model, skip)
    return model.eval()


def quantize_linear_int8(model, skip: tuple[str, ...] = HEAD_MODULES):
    """Dynamic int8 of every Linear layer but the head's (torch.ao), one scale per output
    channel: as fast as one per tensor on this CPU and closer to float32 (MiniLM-L6, 512 AG News
    rows: 0.90 of predictions unchanged vs 0.82 with an untrained head's near-ties); faster here
    than torchao 0.18's int8 (bench/int8_backends.py)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear)
            and not set(name.split(".")) & set(skip)}
    return quantize_dynamic(model, qconfig_spec=spec, dtype=torch.qint8)


def load_classifier_variant(context: Context, folder: Path, variant: str):
    """A classifier whose full weights were exported to `folder`, in the variant."""
    from transformers import AutoModelForSequenceClassification

    check_variant(variant, context)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, **load_kwargs(variant, context.device))
    return placed(model, variant, context.device)


def load_decoder_variant(context: Context, variant: str):
    """(causal LM, tokenizer) of the cell's decoder loaded in the variant, for the strategies
    that prompt it as it is: what prompting the same model in less precision costs and changes."""
    from transformers import AutoModelForCausalLM

    check_variant(variant, context)
    model = AutoModelForCausalLM.from_pretrained(
        context.model.local_path(), **context.model.load_kwargs(),
        **load_kwargs(variant, context.device, DECODER_HEAD))
    return placed(model, variant, context.device, DECODER_INT8_KEPT), load_tokenizer(context)


def save_model(model, folder: Path) -> None:
    """The model as a deployment would store it: save_pretrained, or for PyTorch's dynamic int8
    (which safetensors cannot hold) its config and a torch state dict of the packed weights."""
    if any(is_dynamic_int8(m) for m in model.modules()):
        model.config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "int8_state_dict.pt")
        return
    model.save_pretrained(folder)
