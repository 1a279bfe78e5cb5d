"""LoRA's input dropout without its copies: peft computes `lora_A(dropout(x))`, so each adapted
linear keeps its own dropped-out copy of its input for lora_A's weight gradient (q, k and v each
one of the same x). On MiniLM-L6 (batch 16 x 128 tokens) those copies are 186 MiB of the
backward's saved tensors, a third on top of the model's own: enough to put LoRA's training
memory above full fine-tuning's. Here dropout and lora_A run as one checkpointed segment: the
backward keeps x (which the base layer shares) and redraws the same mask from the RNG state the
segment saved, so the loss and gradients are those of peft's own dropout, bit for bit
(tests/test_adapter_dropout.py), for a dropout and an r-column matmul recomputed per adapter.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint


class DroppedInputLinear(nn.Linear):
    """lora_A with its input dropout inside: the same `weight` (and state-dict key), the
    dropout recomputed in the backward instead of its output kept."""

    def __init__(self, linear: nn.Linear, p: float):
        nn.Module.__init__(self)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight, self.bias = linear.weight, linear.bias
        self.p = p

    def forward(self, x):
        if not (self.training and torch.is_grad_enabled()):
            return F.linear(F.dropout(x, self.p, self.training), self.weight, self.bias)
        # Non-reentrant: nests inside a layer's own gradient checkpointing, and restores the
        # RNG state to recompute, so the mask redrawn is the one used.
        return checkpoint(self._dropped, x, use_reentrant=False)

    def _dropped(self, x):
        return F.linear(F.dropout(x, self.p, True), self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, input dropout p={self.p} (recomputed)"


def recompute_adapter_dropout(model) -> int:
    """Moves each LoRA linear adapter's input dropout into its lora_A (DroppedInputLinear);
    returns how many adapters were changed. Adapters without dropout, and non-linear ones
    (embeddings, convolutions), are left as peft made them."""
    from peft.tuners.lora import LoraLayer

    changed = 0
    for layer in model.modules():
        if not isinstance(layer, LoraLayer):
            continue
        for name, dropout in list(layer.lora_dropout.items()):
            down = layer.lora_A[name] if name in layer.lora_A else None
            if (isinstance(dropout, nn.Dropout) and dropout.p > 0 and type(down) is nn.Linear
                    and name not in getattr(layer, "lora_variant", {})):
                layer.lora_A[name] = DroppedInputLinear(down, dropout.p)
                layer.lora_dropout[name] = nn.Identity()
                changed += 1
    return changed
