"""LoRA and QLoRA share one recipe; QLoRA's base is 4-bit, its parameter counts are the same."""

from harness.api import registry
from harness.api.testing import run_strategy

FAST = {"epochs": 1, "batch_size": 8}


def test_qlora_differs_from_lora_only_in_its_4_bit_base(tiny_encoder, tmp_path):
    lora, _ = run_strategy(registry.get("lora"), tiny_encoder, tmp_path / "lora", **FAST)
    qlora, _ = run_strategy(registry.get("qlora"), tiny_encoder, tmp_path / "qlora", **FAST)
    plain, quantized = lora.footprint(), qlora.footprint()
    assert quantized.trainable_params == plain.trainable_params > 0
    assert quantized.total_params == plain.total_params  # 4-bit weights counted unpacked
    assert quantized.base_weight_bytes < plain.base_weight_bytes
    # Only adapters and the new head train; the base weights stay frozen.
    assert plain.trainable_params < plain.total_params / 2
    weight = qlora.model.base_model.model.bert.encoder.layer[0].attention.self.query.base_layer
    assert type(weight.weight).__name__ == "Params4bit"
    head = qlora.model.base_model.model.classifier
    assert head.modules_to_save["default"].weight.dtype.is_floating_point
