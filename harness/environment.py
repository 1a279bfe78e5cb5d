"""The environment manifest stored with every record: what produced the numbers."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("adapt-harness", "torch", "transformers", "datasets", "peft", "accelerate",
            "bitsandbytes", "scikit-learn", "numpy", "pandas", "vllm")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def device_info() -> dict:
    """Device kind ("cpu"/"cuda") and name, for the manifest and the price table."""
    gpu = cuda_name()
    if gpu:
        return {"device": "cuda", "device_name": gpu}
    return {"device": "cpu", "device_name": cpu_name()}


def cuda_name() -> str | None:
    """The first GPU's name, or None on a machine without CUDA."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def cpu_name() -> str:
    # platform.processor() is just "x86_64" on Linux; the model name is what tells machines apart.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def manifest() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "packages": package_versions(), "git_commit": git_commit()}


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and torch's generators (torch's on every device), as
    transformers.set_seed seeds them, without importing transformers' training stack: that
    import pulls in peft and bitsandbytes, ~4 CPU-seconds per cell process that a prompted or
    classic strategy never uses (`python -X importtime`)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


VERBOSE_ENV = "HARNESS_VERBOSE"  # `harness run --verbose`: the libraries' own output shown


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


@contextlib.contextmanager
def quiet_libraries():
    """transformers' and the hub's progress bars and warnings off for the duration, in a
    process whose terminal shows the run's own lines (the driver converting a GGUF model);
    `--verbose` keeps them."""
    if verbose():
        yield
        return
    from huggingface_hub import utils as hub
    from transformers.utils import logging as tf_logging

    bars, level = tf_logging.is_progress_bar_enabled(), tf_logging.get_verbosity()
    hub_bars = not hub.are_progress_bars_disabled()
    tf_logging.disable_progress_bar()
    tf_logging.set_verbosity_error()
    hub.disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            tf_logging.enable_progress_bar()
        tf_logging.set_verbosity(level)
        if hub_bars:
            hub.enable_progress_bars()
