"""LoRA's input dropout without its copies: peft computes `lora_A(dropout(x))`, so each adapted
linear keeps its own dropped-out copy of its input for lora_A's weight gradient (q, k and v each
one of the same x). On MiniLM-L6 (batch 16 x 128 tokens) those copies are 186 MiB of the
backward's saved tensors, a third on top of the model's own: enough to put LoRA's training
memory above full fine-tuning's. Here dropout and lora_A are one autograd function that keeps x
(one tensor, however many adapters read it) and the mask as booleans (a quarter of a float32
copy), and rebuilds the dropped input in the backward with one multiply. The mask is drawn as
torch's dropout draws it, so the loss and gradients are those of peft's own dropout, bit for
bit (tests/test_adapter_dropout.py).

Drawing the mask is what LoRA's dropout costs on a CPU. An earlier version recomputed the
dropout in the backward (a checkpoint) and so drew every mask twice: `bernoulli_` was 295 of a
945 ms LoRA step on MiniLM (1 thread, batch 16), 1.18x a full fine-tuning step
(bench/results/step_profile_before.json); drawn once, 1.06x (step_profile_1thread.json). With
no dropout (lora's default since) the adapters are skipped here and a LoRA step is 0.78x.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DroppedInputLinear(nn.Linear):
    """lora_A with its input dropout inside: the same `weight` (and state-dict key); what the
    backward keeps is x and a boolean mask, not the dropped-out copy."""

    def __init__(self, linear: nn.Linear, p: float):
        nn.Module.__init__(self)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight, self.bias = linear.weight, linear.bias
        self.p = p

    def forward(self, x):
        if not (self.training and torch.is_grad_enabled()):
            return F.linear(F.dropout(x, self.p, self.training), self.weight, self.bias)
        return _DroppedLinear.apply(x, self.weight, self.bias, self.p)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, input dropout p={self.p} (mask kept as booleans)"


class _DroppedLinear(torch.autograd.Function):
    """F.linear(F.dropout(x, p), weight, bias), keeping x and the mask for the backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, p: float):
        # As aten's dropout draws it (bernoulli_ on an empty float tensor like x, then scaled),
        # so that the same RNG state gives the same mask as peft's nn.Dropout.
        noise = torch.empty_like(x).bernoulli_(1 - p)
        noise.div_(1 - p)
        out = F.linear(x * noise, weight, bias)  # under autocast: in its dtype, as peft's is
        ctx.save_for_backward(x, noise.bool(), weight)
        ctx.scale, ctx.bias_dtype = 1 / (1 - p), None if bias is None else bias.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # Backward runs outside autocast: the products are made in the forward's dtype (that of
        # grad_out) and the gradients handed back in the inputs' own, as autocast's casts do.
        x, kept, weight = ctx.saved_tensors
        noise = kept.to(x.dtype) * ctx.scale  # 0 or exactly the forward's 1 / (1 - p)
        dtype, grad_x, grad_w, grad_b = grad_out.dtype, None, None, None
        flat = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[0]:
            grad_x = grad_out.matmul(weight.to(dtype)).to(x.dtype) * noise
        if ctx.needs_input_grad[1]:
            dropped = (x * noise).reshape(-1, x.shape[-1]).to(dtype)
            grad_w = flat.t().mm(dropped).to(weight.dtype)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_b = flat.sum(0).to(ctx.bias_dtype)
        return grad_x, grad_w, grad_b, None


def fuse_adapter_dropout(model) -> int:
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
