"""LoRA adapters with peft, shared by lora, qlora and instruction-tuned."""

from __future__ import annotations

from harness.api.settings import above, at_least, check, within

# Where LoRA goes, per architecture (config.model_type): every linear layer of attention and MLP,
# which is what brings LoRA close to full fine-tuning; unknown architectures get peft's
# "all-linear".
TARGET_MODULES = {
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}


def check_adapter_settings(config) -> None:
    """The ranges of LoRA's settings, for the configs that carry them (their __post_init__)."""
    at_least(config, 1, "r")
    above(config, 0, "alpha")
    within(config, 0, 1, "dropout", include_high=False)
    check(config, "target_modules", any(n.strip() for n in config.target_modules.split(",")),
          "'auto', 'all-linear' or comma-separated module names")


def target_modules(model, setting: str):
    if setting == "auto":
        return TARGET_MODULES.get(model.config.model_type, "all-linear")
    if setting == "all-linear":
        return setting
    return [name.strip() for name in setting.split(",") if name.strip()]


def add_lora(model, config, task_type: str):
    """Wrap `model` with LoRA adapters; `config` needs r, alpha, dropout, target_modules and
    load_in_4bit. A sequence-classification head is trained in full (peft's modules_to_save).
    The adapters' input dropout runs inside lora_A, keeping a boolean mask rather than a
    dropped-out copy of the input (strategies/adapter_dropout.py): the same gradients in less
    memory."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from strategies.adapter_dropout import fuse_adapter_dropout

    if getattr(config, "load_in_4bit", False):
        # Casts norms to float32 and enables input gradients; checkpointing only costs time here.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=target_modules(model, config.target_modules),
                      task_type=task_type)
    model = get_peft_model(model, lora)
    fuse_adapter_dropout(model)
    return model


def adapters_to_base_dtype(model) -> None:
    """Trained adapters cast to their bf16 base's dtype, to predict: kept in float32 (the
    masters bf16 autocast trains), each adapter product casts its input up and its output
    back, which made a bf16 instruction-tuned cell predict slower than a float32 one
    (248 s against 149-188 s on the quick profile)."""
    import torch

    for name, parameter in model.named_parameters():
        if "lora_" in name and parameter.dtype == torch.float32:
            parameter.data = parameter.data.to(torch.bfloat16)


def base_weight_bytes(model) -> int:
    """Bytes of the loaded base weights (4-bit ones count as packed), before adapters."""
    return int(model.get_memory_footprint())
