"""Projection for a GPU the user does not have: the architecture of a preset, hub id, folder or
config.json, its parameters counted on the meta device, its activations and kernels measured on
a random-initialised reduced-depth copy on the present device, and the cost model of
harness/projection/model.py applied per device and strategy. A check measures training steps
and an inference batch of the reduced copy here, beside what the model projects for it.

    result = project(["smollm2-135m-instruct", "llama-3.2-1b"], resolve_devices("h100,t4"))
    result["rows"]     # projected, one per model x device x strategy
    result["checks"]   # measured on the present device vs projected for the same copy
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

from harness.errors import HarnessError, did_you_mean, one_line
from harness.inputs.models import PRESETS, resolve_model
from harness.projection.devices import Device, present_device
from harness.projection.measure import (build_model, calibrate, measure_inference,
                                        measure_training, reduced_config)
from harness.projection.model import (STRATEGIES, Architecture, Calibration, Settings,
                                      project_row, saved_formula_bytes)

# Llama-3.2-1B's published config.json (meta-llama/Llama-3.2-1B): a 1B-class decoder known
# offline, for the hub repository is gated. 1.236B parameters, embeddings tied.
LLAMA_32_1B = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
               "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
               "head_dim": 64, "vocab_size": 128256, "tie_word_embeddings": True,
               "hidden_act": "silu", "max_position_embeddings": 131072, "rms_norm_eps": 1e-5}
BUILTIN_ARCHITECTURES = {"llama-3.2-1b": LLAMA_32_1B}
CHECK_LAYERS = 2  # depth of the copy the check measures


def project(models: list[str], devices: list[Device], settings: Settings | None = None,
            check: bool = True, check_batch: int = 4, echo=lambda message: None,
            strategies=STRATEGIES) -> dict:
    """Projected rows for every model x device x strategy, and (with `check`) the present
    device's measured-vs-projected rows for a reduced-depth copy of each model, for what
    `strategies` train and run."""
    settings = settings or Settings()
    present = present_device()
    precisions = sorted({d.precision for d in devices} | {present.precision})
    result = {"settings": asdict(settings), "present_device": _device_summary(present),
              "devices": [_device_summary(d) for d in devices], "models": [], "rows": [],
              "checks": []}
    for name in models:
        config, kind = load_config(name)
        arch = count_architecture(name, config, kind)
        echo(f"{name}: calibrating on {present.label} with 1- and 2-layer copies of its "
             f"{arch.layers} layers")
        calibration = calibrate(config, settings.seq_len, precisions, present)
        result["models"].append(_model_summary(arch, calibration))
        for device in devices:
            rows = (project_row(arch, calibration, device, s, settings) for s in STRATEGIES)
            result["rows"] += [row for row in rows if row]
        if check:
            echo(f"{name}: measuring the check on {present.label}")
            check_settings = replace(settings, train_batch=check_batch, infer_batch=check_batch)
            load = os.getloadavg()[0]
            result["checks"] += check_rows(name, config, kind, calibration, present,
                                           check_settings, strategies)
            load = max(load, os.getloadavg()[0])
            result["check_load_average"] = max(result.get("check_load_average", 0), load)
    return result


def load_config(name: str):
    """(transformers config, "encoder" or "decoder") of a built-in architecture, a preset, a
    config JSON file, a local folder or GGUF file, or a hub id."""
    from transformers import AutoConfig

    if name in BUILTIN_ARCHITECTURES:
        spec = dict(BUILTIN_ARCHITECTURES[name])
        return AutoConfig.for_model(spec.pop("model_type"), **spec), "decoder"
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".json":
        config = _json_config(path)
        return config, model_kind(config)
    if not path.exists() and name not in PRESETS and name.count("/") != 1:
        raise HarnessError(f"unknown model '{name}': not a preset, a built-in architecture, a "
                           f"config JSON file, a local folder or a hub id"
                           f"{did_you_mean(name, [*PRESETS, *BUILTIN_ARCHITECTURES])}")
    spec = resolve_model(name)
    try:
        if spec.is_gguf:  # the metadata is enough: no need to convert the weights
            source = Path(spec.source)
            config = AutoConfig.from_pretrained(str(source.parent), gguf_file=source.name)
        else:
            config = AutoConfig.from_pretrained(spec.source)
    except Exception as err:  # no network, no such repository, a broken folder
        raise HarnessError(f"cannot read the config of '{name}' from '{spec.source}' "
                           f"({one_line(err, 160)}); offline, use a preset, "
                           f"{', '.join(BUILTIN_ARCHITECTURES)} or a config JSON file") from None
    return config, PRESETS[name].kind if name in PRESETS else model_kind(config)


def _json_config(path: Path):
    from transformers import AutoConfig

    try:
        spec = json.loads(path.read_text())
        return AutoConfig.for_model(spec.pop("model_type"), **spec)
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise HarnessError(f"cannot read '{path}' as a transformers config: it needs a JSON "
                           f"object with a known 'model_type' ({one_line(err, 120)})") from None


def model_kind(config) -> str:
    """Encoders are the architectures transformers can mask-fill with; the rest decode."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or ())
    return "decoder" if causal or config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES \
        else "encoder"


def count_architecture(name: str, config, kind: str) -> Architecture:
    """Sizes and parameter counts from models built on the meta device: no weight allocated."""
    import torch

    from strategies.common import torch_footprint

    try:
        with torch.device("meta"):
            model = build_model(config, "full")
            linears = _linears(model)
            lora = torch_footprint(build_model(config, "lora"))
            lm = build_model(config, "lm") if kind == "decoder" else None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise HarnessError(f"cannot build '{name}' ({config.model_type}) as a sequence "
                           f"classifier with LoRA adapters: {one_line(err, 160)}") from None
    skip = _quantization_skip_modules()
    quantized = [n for name, n in linears.items() if not any(s in name for s in skip)]
    heads = config.num_attention_heads
    lm_linears = _linears(lm, without=lm.get_output_embeddings()) if lm is not None else None
    return Architecture(
        name=name, kind=kind, layers=config.num_hidden_layers, hidden=config.hidden_size,
        attention_dim=heads * (getattr(config, "head_dim", None) or config.hidden_size // heads),
        intermediate=getattr(config, "intermediate_size", None)
        or getattr(config, "n_inner", None) or 4 * config.hidden_size,
        vocab=config.vocab_size, total_params=sum(p.numel() for p in model.parameters()),
        matmul_params=sum(linears.values()), lora_trainable=lora.trainable_params,
        lora_total=lora.total_params, quantized_params=sum(quantized),
        quantized_linears=len(quantized), largest_linear=max(quantized, default=0),
        lm_total_params=sum(p.numel() for p in lm.parameters()) if lm is not None else None,
        lm_matmul_params=sum(lm_linears.values()) if lm_linears is not None else None)


def _linears(model, without=None) -> dict[str, int]:
    """Weights of every linear layer (GPT-2's Conv1D is one too), by module name."""
    import torch
    from transformers.pytorch_utils import Conv1D

    return {name: module.weight.numel() for name, module in model.named_modules()
            if isinstance(module, (torch.nn.Linear, Conv1D)) and module is not without}


def _quantization_skip_modules() -> list[str]:
    # The qlora strategy's own list of modules kept in full precision, not a copy of it.
    from types import SimpleNamespace

    from strategies.lora import quantization_settings
    from strategies.qlora import QloraConfig

    quantization = quantization_settings(QloraConfig(), SimpleNamespace(device="cuda"))
    return list(quantization["quantization_config"].llm_int8_skip_modules)


def check_rows(name: str, config, kind: str, calibration: Calibration, device: Device,
               settings: Settings, strategies=STRATEGIES) -> list[dict]:
    """Training steps and inference batches of a reduced-depth copy measured on `device`, each
    beside what the cost model projects for that same copy there: those of `strategies` (the
    full model's step for full-finetune, the adapters' for lora and qlora; a classifier's
    batch for any trained strategy, the decoder's for prompting)."""
    small = reduced_config(config, CHECK_LAYERS)
    label = f"{name} ({CHECK_LAYERS} of {config.num_hidden_layers} layers)"
    arch = count_architecture(label, small, kind)
    trained = [s for s in ("full-finetune", "lora") if s in strategies
               or (s == "lora" and "qlora" in strategies)]
    inference = [s for s in ("full-finetune", "prompting")[:2 if arch.kind == "decoder" else 1]
                 if s in strategies or (s == "full-finetune" and trained)]
    rows = []
    for strategy in trained:
        seconds, memory = measure_training(small, strategy, settings, device)
        projected = project_row(arch, calibration, device, strategy, settings)
        rows.append(_check(label, device, strategy, "train_step_ms", seconds * 1000,
                           projected["ms_per_step"], settings.train_batch,
                           memory_gib=(memory, projected["train_memory_gib"])))
    for strategy in inference:
        seconds = measure_inference(small, strategy, settings, device)
        projected = project_row(arch, calibration, device, strategy, settings)
        rows.append(_check(label, device, strategy, "s_per_1k_predictions",
                           seconds * 1000 / settings.infer_batch,
                           projected["s_per_1k_predictions"], settings.infer_batch))
    return rows


def _check(model, device, strategy, figure, measured, projected, batch, memory_gib=None):
    row = {"model": model, "device": device.name, "device_label": device.label,
           "strategy": strategy, "kind": "measured", "projected": False, "figure": figure,
           "batch": batch, "measured": measured, "projected_value": projected,
           "ratio": measured / projected}
    if memory_gib:
        measured_gib, projected_gib = memory_gib
        row.update(measured_memory_gib=measured_gib, projected_memory_gib=projected_gib,
                   memory_ratio=measured_gib / projected_gib if measured_gib else None)
    return row


def _device_summary(device: Device) -> dict:
    return {**asdict(device), "usd_per_hour": device.price()}


def _model_summary(arch: Architecture, calibration: Calibration) -> dict:
    """The counts and the calibration, with the activation coefficient: measured saved bytes
    per token and layer over the a-priori formula's."""
    coefficients = {key: value.per_layer / saved_formula_bytes(arch, key.split("/")[1])
                    for key, value in calibration.activation_bytes.items()}
    return {"architecture": asdict(arch), "calibration": asdict(calibration),
            "activation_coefficient": coefficients}
