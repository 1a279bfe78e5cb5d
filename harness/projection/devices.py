"""The devices `harness project` projects onto: public peak figures of a few GPUs, and the present
CPU, whose peaks are measured rather than looked up.

    devices = resolve_devices("h100,t4,cpu")   # the CPU is measured on first use
    devices[0].peak_flops("mixed"), devices[0].bandwidth_bytes_s
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass

from harness import environment
from harness.errors import HarnessError, did_you_mean

GIB = 1024 ** 3


@dataclass(frozen=True)
class Device:
    """Peak rates of one device. `precision` is how it trains: "mixed" (16-bit tensor-core
    matmuls, fp32 master weights) on GPUs, "fp32" on a CPU."""

    name: str  # what --device takes
    label: str  # what the table shows
    tensor_tflops: float  # dense (no 2:4 sparsity) bf16/fp16 tensor-core peak
    fp32_tflops: float
    memory_gib: float
    bandwidth_gb_s: float  # GB/s = 1e9 bytes per second
    price_name: str | None = None  # its entry in harness.results.cost's price table, if it has one
    mixed_dtype: str = "bfloat16"  # T4 (Turing) has no bf16: it trains in fp16
    precision: str = "mixed"
    flops_util: float = 0.4  # share of the datasheet matmul peak eager PyTorch reaches
    bw_util: float = 0.6  # share of the datasheet bandwidth streaming kernels reach
    reserved_gib: float = 1.0  # CUDA context, cuBLAS workspace, allocator slack: never usable
    # Host time to dispatch one kernel in eager PyTorch (~5-20 us on server CPUs): a GPU kept
    # waiting on Python is bound by it, which is what small models are on big GPUs.
    op_overhead_s: float = 10e-6
    # A GPU runs kernels while the host queues the next ones: the slowest of compute, memory
    # and launching bounds a step. A CPU does the launching itself: that time adds.
    asynchronous: bool = True
    measured: bool = False
    usd_per_hour: float | None = None  # set for the CPU (per core-hour x threads)
    source: str = ""

    def peak_flops(self, precision: str) -> float:
        return (self.tensor_tflops if precision == "mixed" else self.fp32_tflops) * 1e12

    @property
    def bandwidth_bytes_s(self) -> float:
        return self.bandwidth_gb_s * 1e9

    @property
    def memory_bytes(self) -> float:
        return (self.memory_gib - self.reserved_gib) * GIB

    def price(self) -> float | None:
        """USD per hour from harness.results.cost's defaults; None where no price is known."""
        from harness.results.cost import DEFAULT_PRICES_USD_PER_HOUR

        if self.usd_per_hour is not None:
            return self.usd_per_hour
        return DEFAULT_PRICES_USD_PER_HOUR.get(self.price_name) if self.price_name else None


# Dense peaks from NVIDIA's datasheets (the sparse "up to" figures halved); memory in GiB as
# sold (80 GB parts hold 80 GiB of HBM); bandwidth in GB/s as printed.
GPUS = {
    "h100": Device("h100", "H100 SXM 80GB", 989.0, 67.0, 80, 3350, "NVIDIA H100 80GB HBM3",
                   source="NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 1,979 TFLOPS "
                          "with sparsity, FP32 67 TFLOPS, 80 GB HBM3, 3.35 TB/s"),
    "h200": Device("h200", "H200 SXM 141GB", 989.0, 67.0, 141, 4800, "NVIDIA H200",
                   source="NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 1,979 TFLOPS "
                          "with sparsity, FP32 67 TFLOPS, 141 GB HBM3e, 4.8 TB/s"),
    "a100": Device("a100", "A100 SXM 80GB", 312.0, 19.5, 80, 2039, "NVIDIA A100-SXM4-80GB",
                   source="NVIDIA A100 Tensor Core GPU datasheet (80GB SXM): BF16 312 TFLOPS, "
                          "FP32 19.5 TFLOPS, 80 GB HBM2e, 2,039 GB/s"),
    "l4": Device("l4", "L4 24GB", 121.0, 30.3, 24, 300, None,
                 source="NVIDIA L4 Tensor Core GPU datasheet: BF16 242 TFLOPS with sparsity, "
                        "FP32 30.3 TFLOPS, 24 GB GDDR6, 300 GB/s"),
    "a10g": Device("a10g", "A10G 24GB (AWS)", 70.0, 35.0, 24, 600, "NVIDIA A10G",
                   source="AWS publishes no datasheet for its A10G: figures as compared with "
                          "the A10 in Baseten's 'NVIDIA A10 vs A10G' (BF16 70 TFLOPS, FP32 "
                          "35 TFLOPS, 24 GB GDDR6, 600 GB/s)"),
    "t4": Device("t4", "T4 16GB", 65.0, 8.1, 16, 320, "Tesla T4", mixed_dtype="float16",
                 source="NVIDIA T4 Tensor Core GPU datasheet: mixed-precision FP16/FP32 65 "
                        "TFLOPS, FP32 8.1 TFLOPS, 16 GB GDDR6, 320 GB/s; no bf16"),
}
DEVICE_NAMES = (*GPUS, "cpu")


def resolve_devices(spec: str) -> list[Device]:
    """Devices from a comma-separated list of names; "all" is every one."""
    names = list(DEVICE_NAMES) if spec.strip() == "all" else \
        list(dict.fromkeys(n.strip().lower() for n in spec.split(",") if n.strip()))
    if not names:
        raise HarnessError(f"--device names no device (choose from: {', '.join(DEVICE_NAMES)})")
    for name in names:
        if name not in DEVICE_NAMES:
            raise HarnessError(f"unknown device '{name}'{did_you_mean(name, DEVICE_NAMES)}")
    return [present_cpu() if name == "cpu" else GPUS[name] for name in names]


def present_device() -> Device:
    """The device the check measures on: the GPU present if the table knows it, else the CPU."""
    gpu = environment.cuda_name()
    # Whole words: "L4" must not match an L40S.
    match = next((d for d in GPUS.values()
                  if gpu and re.search(rf"\b{d.label.split()[0]}\b", gpu)), None)
    return match if match else present_cpu()


def present_cpu() -> Device:
    """This machine's CPU at torch's thread count: the peaks are measured, because no table
    knows the machine (and the threads it may use), and so is the cost of one eager op."""
    import torch

    return _measured_cpu(torch.get_num_threads())


@functools.lru_cache(maxsize=4)
def _measured_cpu(threads: int) -> Device:
    import psutil

    from harness.results.cost import CPU_CORE, DEFAULT_PRICES_USD_PER_HOUR

    flops = _measured_matmul_flops()
    return Device("cpu", f"this CPU ({threads} thread{'s' * (threads > 1)})", flops / 1e12,
                  flops / 1e12, psutil.virtual_memory().total / GIB,
                  _measured_copy_bytes_s() / 1e9, precision="fp32", reserved_gib=0.0,
                  # The peaks are rates already reached, not a datasheet's: a layer's
                  # matmuls reach most of the GEMM rate, and copies all of the copy rate.
                  flops_util=0.8, bw_util=1.0, op_overhead_s=_measured_op_s(), asynchronous=False,
                  measured=True,
                  usd_per_hour=DEFAULT_PRICES_USD_PER_HOUR[CPU_CORE] * threads,
                  source=f"measured: {environment.cpu_name()}, float32 1024x1024 matmul and a "
                         f"128 MiB copy")


def _best_s(fn, repeats: int) -> float:
    fn()  # warm-up: thread pool, page faults
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)  # the least disturbed run, as in bench/artifact.py


def _measured_matmul_flops(n: int = 1024) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 * 4 / _best_s(lambda: [a @ b for _ in range(4)], 3)


def _measured_copy_bytes_s(n: int = 32 * 1024 ** 2) -> float:
    import torch

    src, dst = torch.randn(n), torch.empty(n)
    return 2 * 4 * n / _best_s(lambda: dst.copy_(src), 3)  # read and write 4 bytes each


def _measured_op_s(ops: int = 200) -> float:
    """Seconds of one tiny op that autograd records, as a training forward's are."""
    import torch

    x = torch.ones(8, requires_grad=True)
    return _best_s(lambda: [x.mul(2) for _ in range(ops)], 3) / ops
