"""Time and memory measurements, used only by the runner (inside a cell's child process) so that
every strategy is measured the same way."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager

import numpy as np


class PeakMemory:
    """Peak memory of this process: CUDA peak allocated on a GPU, peak RSS on the CPU.

    A cell runs in a fresh child process, so peak RSS is the cell's own (interpreter and
    libraries included; `baseline` records what was there before the model was loaded).
    """

    def __init__(self, device: str):
        self.device = device
        self.baseline_bytes = self.peak_bytes()

    def reset(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self) -> int:
        if self.device == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated())
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@contextmanager
def stopwatch(into: dict, key: str, device: str):
    """Wall seconds of the block into `into[key]`; waits for queued GPU work at both ends."""
    _sync(device)
    start = time.perf_counter()
    yield
    _sync(device)
    into[key] = time.perf_counter() - start


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def latency_ms(predict_one, texts, warmup: int = 2, device: str = "cpu") -> dict:
    """p50/p95 wall milliseconds of predicting single examples (batch size 1)."""
    for text in texts[:warmup]:
        predict_one(text)
    samples = []
    for text in texts:
        _sync(device)
        start = time.perf_counter()
        predict_one(text)
        _sync(device)
        samples.append((time.perf_counter() - start) * 1000)
    return {"latency_p50_ms": float(np.percentile(samples, 50)),
            "latency_p95_ms": float(np.percentile(samples, 95)),
            "latency_samples": len(samples)}
