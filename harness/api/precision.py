"""The number format a cell computes in: float32, or bfloat16 where the device executes it
natively and the strategy declares it safe (`precisions`). `--precision auto` (the default)
picks bf16 there and fp32 elsewhere; `--precision fp32` forces float32. The precision is in
the cell's key and the record, so the two never mix silently.

    precision_for("auto", ("fp32", "bf16"), "cpu")   # "bf16" on a CPU with AMX / AVX-512 BF16
"""

from __future__ import annotations

from functools import cache

from harness.errors import HarnessError

FP32, BF16 = "fp32", "bf16"
PRECISIONS = (FP32, BF16)
CHOICES = ("auto", *PRECISIONS)
# CPU features that run bf16 matrix products in hardware (Linux /proc/cpuinfo flags): without
# them torch emulates bf16 through float32, slower than float32 itself.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def precision_for(requested: str, declared: tuple[str, ...], device: str,
                  native: bool | None = None) -> str:
    """The precision a strategy's cell runs in: what was asked where the strategy declares it,
    bf16 for `auto` where declared and native (`native`: as a cluster's worker said, else this
    machine's device), else fp32."""
    if requested not in CHOICES:
        raise HarnessError(f"--precision '{requested}' is not one of {', '.join(CHOICES)}")
    if requested == "auto":
        native = native_bf16(device) if native is None else native
        return BF16 if BF16 in declared and native else FP32
    return requested if requested in declared else FP32


def native_bf16(device: str) -> bool:
    """Whether the device multiplies bf16 matrices in hardware: a CUDA GPU from Ampere on, a
    CPU with AMX or AVX-512 BF16."""
    if device == "cuda":
        return _cuda_bf16()
    return bool(set(BF16_CPU_FLAGS) & cpu_flags())


@cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@cache
def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8)
