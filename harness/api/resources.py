"""What one cell needs from a machine: GPUs, CPU cores, memory. Each strategy declares it for
its default model (`resources = Resources(...)` on the class); the memory grows with the model's
weights; `--resources [STRATEGY.]FIELD=VALUE` overrides any field. Executors read the request:
Ray asks the cluster for it, `--jobs` gives each concurrent cell its GPUs and cores.

    Resources(gpus=1, cpus=1, memory_gib=2, model_memory_multiple=4)   # full fine-tuning
    request_for(cell, overrides)   # Request(gpus=0, cpus=1, memory_bytes=...) on a CPU cell
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

GIB = 1 << 30
# Q4_1 stores 32 weights in 20 bytes; float32 takes 128.
GGUF_TO_FLOAT32 = 128 // 20


@dataclass(frozen=True)
class Resources:
    """A cell's needs, declared by its strategy."""

    gpus: float = 1.0  # when the cell runs on CUDA; a cell on the CPU asks for none
    cpus: float = 1.0
    memory_gib: float = 1.0  # besides the model
    # Memory per byte of the model's weight files: ~1.2 to run it, ~4 for full fine-tuning
    # (weights, gradients and two Adam moments; 16 B per float32 parameter in all).
    model_memory_multiple: float = 1.5

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Resources.{name} must be a number >= 0, got {value!r}")


FIELDS = {"gpus": "gpus", "cpus": "cpus", "memory": "memory_gib",
          "memory_gib": "memory_gib", "model_memory_multiple": "model_memory_multiple"}


@dataclass(frozen=True)
class Request:
    """What an executor asks for one cell."""

    gpus: float
    cpus: float
    memory_bytes: int

    def describe(self) -> str:
        gpus = f"{self.gpus:g} GPU, " if self.gpus else ""
        return f"{gpus}{self.cpus:g} CPU, {self.memory_bytes / GIB:.1f} GiB"


MAX_AMOUNT = 1e6  # GPUs, cores or GiB: beyond any cluster, short of overflowing a byte count


def parse_overrides(values: tuple[str, ...], strategies: list[str]) -> dict[str | None, dict]:
    """`--resources gpus=0.5` for every strategy, `--resources lora.memory=8` for one."""
    overrides: dict[str | None, dict] = {}
    for value in values:
        target, sep, number = value.partition("=")
        strategy, dot, field = target.rpartition(".")
        if not sep or field not in FIELDS:
            raise HarnessError(f"--resources '{value}': expected [STRATEGY.]FIELD=NUMBER with "
                               f"FIELD one of gpus, cpus, memory (GiB), model_memory_multiple")
        if dot and strategy not in strategies:
            raise HarnessError(f"--resources '{value}': strategy '{strategy}' is not being run")
        try:
            amount = float(number)
        except ValueError:
            amount = -1.0
        # nan passes no comparison and inf no machine: both would fail only once cells run
        if not 0 <= amount <= MAX_AMOUNT:
            raise HarnessError(f"--resources '{value}': '{number}' is not a number from 0 to "
                               f"{MAX_AMOUNT:,.0f}")
        overrides.setdefault(strategy if dot else None, {})[FIELDS[field]] = amount
    return overrides


def resources_for(strategy: str, declared: Resources, overrides: dict) -> Resources:
    """The declaration with the overrides for every strategy, then this strategy's, applied."""
    return dataclasses.replace(declared, **overrides.get(None, {}), **overrides.get(strategy, {}))


def request_for(cell, overrides: dict | None = None) -> Request:
    """A cell's request: a CPU cell asks for no GPU unless an override says so explicitly."""
    overrides = overrides or {}
    wanted = resources_for(cell.strategy, cell.strategy_class.resources, overrides)
    explicit_gpus = "gpus" in {**overrides.get(None, {}), **overrides.get(cell.strategy, {})}
    gpus = wanted.gpus if cell.device == "cuda" or explicit_gpus else 0.0
    memory = wanted.memory_gib * GIB + wanted.model_memory_multiple * model_bytes(cell.model)
    return Request(gpus=gpus, cpus=wanted.cpus, memory_bytes=int(memory))


def model_bytes(spec) -> int:
    """Bytes of the model's weight files where they are on this machine; 0 otherwise (a hub id
    not downloaded yet: the memory declaration alone then sizes the cell)."""
    if spec is None:
        return 0
    source = Path(spec.source)
    if source.is_file():  # a GGUF file, de-quantized to float32 when loaded
        return source.stat().st_size * GGUF_TO_FLOAT32
    if source.is_dir():
        return sum(p.stat().st_size for p in source.rglob("*")
                   if p.suffix in (".safetensors", ".bin", ".gguf") and p.is_file())
    return 0
