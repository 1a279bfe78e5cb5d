"""qlora: the LoRA recipe on a 4-bit NF4 base quantized by bitsandbytes (double quantization on
by default), the classification head kept in full precision. Runs on CPU (bitsandbytes >= 0.45)
and on CUDA.

    harness run --strategies qlora --task agnews -c qlora.double_quant=false
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strategies.lora import Lora, LoraConfig


@dataclass
class QloraConfig(LoraConfig):
    load_in_4bit: bool = field(default=True, metadata={
        "help": "NF4 base weights; the only difference from lora's defaults"})


class Qlora(Lora):
    name = "qlora"
    description = "LoRA adapters on a 4-bit NF4-quantized frozen base (bitsandbytes)."
    config_class = QloraConfig
    # Reloaded as trained (NF4 base, adapters apart), or merged into a float32 base
    inference_variants = ("nf4", "merged")
    precisions = ("fp32",)  # its 4-bit base computes in float32 on CPU; bf16 not measured
