"""What `harness project` runs on the present device: random-initialised models built from a
config (float32), the calibration of activations and kernels on reduced-depth copies, and the
check's timed training steps and inference batches.

    calibration = calibrate(config, seq_len=128, precisions=["fp32"], device=present_cpu())
"""

from __future__ import annotations

import copy
from typing import ClassVar

from harness.cell.measure import PhaseMemory, return_freed_memory, stopwatch
from harness.projection.devices import GIB, Device
from harness.projection.model import ADAPTED, Calibration, PerToken, Settings
from strategies.adapters import add_lora

NUM_LABELS = 4  # AG News's; the head is too small for the figures to depend on it
CALIBRATION_VOCAB = 1024  # the reduced copies' vocabulary: only the embedding depends on it
CHECK_STEPS = 2  # timed after one warm-up; the fastest counts


def build_model(config, what: str):
    """A random-initialised model in float32: "full" (sequence classification, the trained
    strategies' model), "lora" (the same with the lora strategy's adapters), or "lm"."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if what == "lm":
        return AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    config = copy.deepcopy(config)
    config.num_labels = NUM_LABELS
    model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    if what == "lora":
        from strategies.lora import LoraConfig

        model = add_lora(model, LoraConfig(), task_type="SEQ_CLS")  # the strategy's defaults
    return model


def reduced_config(config, layers: int):
    """The same architecture `layers` deep, with a small vocabulary (only the embedding table
    depends on it) and pad id 0, which random inputs never hold."""
    small = copy.deepcopy(config)
    small.num_hidden_layers = layers
    if getattr(small, "layer_types", None):  # per-layer attention kinds (sliding windows)
        small.layer_types = small.layer_types[:layers]
    small.vocab_size = min(config.vocab_size, CALIBRATION_VOCAB)
    small.pad_token_id = 0
    return small


def calibrate(config, seq_len: int, precisions, device: Device) -> Calibration:
    """Bytes saved for backward per token and kernels per forward, split into a part per layer
    and a part outside them, from forward passes of 1- and 2-layer copies at batch 1 and 2."""
    activations, kernels = {}, {}
    for kind in ("full", "lora"):
        samples = {}
        for layers in (1, 2):
            model = build_model(reduced_config(config, layers), kind).to(torch_device(device))
            for precision in precisions:
                frozen_in_compute_dtype(model, precision, device.mixed_dtype)
                for batch in (1, 2):
                    samples[layers, precision, batch] = saved_bytes_and_kernels(
                        model, batch, seq_len, precision, device.mixed_dtype)
            del model
        for precision in precisions:
            saved = {key[::2]: value[0] for key, value in samples.items() if key[1] == precision}
            per_layer = (saved[2, 2] - saved[2, 1] - saved[1, 2] + saved[1, 1]) / seq_len
            activations[f"{kind}/{precision}"] = PerToken(
                per_layer, (saved[1, 2] - saved[1, 1]) / seq_len - per_layer)
            one, two = samples[1, precision, 1][1], samples[2, precision, 1][1]
            kernels[f"{kind}/{precision}"] = PerToken(two - one, 2 * one - two)
    return Calibration(seq_len, activations, kernels)


def saved_bytes_and_kernels(model, batch: int, seq_len: int, precision: str,
                            mixed_dtype: str) -> tuple[int, int]:
    """Bytes of the tensors one training forward pass saves for backward (parameters aside;
    views of one storage counted once), and the kernels the pass launches."""
    import torch

    ids, labels = _inputs(model, batch, seq_len)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    counter = _KernelCounter()
    model.train()  # dropout masks are saved too
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), \
            _autocast(ids.device.type, precision, mixed_dtype), counter:
        model(input_ids=ids, labels=labels)
    return sum(saved.values()), counter.kernels


def measure_training(config, strategy: str, settings: Settings, device: Device):
    """(seconds of the fastest training step after a warm-up one, GiB held at the peak: RSS
    above what the process held before building the model, or CUDA's allocated peak)."""
    import gc

    import torch

    gc.collect()  # what earlier models left behind is not this step's
    _trim_heap()
    return_freed_memory()  # as in a cell: RSS is what is live, not what glibc kept
    where = torch_device(device)
    memory, timings = PhaseMemory(where), {}
    try:
        with memory.phase("step"):
            model = build_model(config, ADAPTED[strategy]).to(where).train()
            if settings.checkpointing:  # as the trained strategies' setting does it
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
            frozen_in_compute_dtype(model, device.precision, device.mixed_dtype)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
            ids, labels = _inputs(model, settings.train_batch, settings.seq_len)
            for step in range(1 + CHECK_STEPS):
                with stopwatch(timings, step, where):
                    with _autocast(where, device.precision, device.mixed_dtype):
                        loss = model(input_ids=ids, labels=labels).loss
                    loss.backward()  # outside autocast, as PyTorch recommends
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
    finally:
        memory.close()
    record = memory.record(("step",))
    used = record["cuda_peak_allocated_bytes"] if where == "cuda" else \
        record["rss_above_baseline_bytes"]
    return min(timings[step] for step in range(1, 1 + CHECK_STEPS)), used / GIB


def frozen_in_compute_dtype(model, precision: str, mixed_dtype: str) -> None:
    """Frozen weights in the compute dtype, as the cost model assumes (a LoRA base is loaded in
    16 bits under mixed precision; trained weights stay fp32 masters)."""
    import torch

    dtype = getattr(torch, mixed_dtype) if precision == "mixed" else torch.float32
    for param in model.parameters():
        if not param.requires_grad:
            param.data = param.data.to(dtype)


def _trim_heap() -> None:
    """Hand freed heap pages back to the OS (glibc), so that RSS rises with what the next step
    allocates instead of staying flat while it reuses pages an earlier model freed."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS may under-count, the times stand
        pass


def measure_inference(config, strategy: str, settings: Settings, device: Device) -> float:
    """Seconds of the fastest inference batch after a warm-up one: the classifier, or the
    causal LM scoring each prompt's last position as label scoring does."""
    import torch

    where = torch_device(device)
    model = build_model(config, "lm" if strategy == "prompting" else "full").to(where).eval()
    if device.precision == "mixed":  # served in the compute dtype
        model = model.to(getattr(torch, device.mixed_dtype))
    ids, _ = _inputs(model, settings.infer_batch, settings.seq_len)
    keep = {"logits_to_keep": 1} if strategy == "prompting" else {}
    timings = {}
    with torch.inference_mode():
        for step in range(1 + CHECK_STEPS):
            with stopwatch(timings, step, where):
                model(input_ids=ids, **keep)
    return min(timings[step] for step in range(1, 1 + CHECK_STEPS))


def _inputs(model, batch: int, seq_len: int):
    """Random token ids (never the pad id 0) and labels on the model's device."""
    import torch

    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, model.config.vocab_size, (batch, seq_len), generator=generator)
    labels = torch.randint(0, NUM_LABELS, (batch,), generator=generator)
    return ids.to(device), labels.to(device)


def _autocast(device_type: str, precision: str, mixed_dtype: str):
    """Mixed precision as the Trainer's bf16/fp16 runs it; bfloat16 on a CPU (same bytes)."""
    import torch

    dtype = torch.bfloat16 if device_type == "cpu" else getattr(torch, mixed_dtype)
    return torch.autocast(device_type, dtype=dtype, enabled=precision == "mixed")


class _KernelCounter:
    """Counts the aten ops of a block that launch a kernel (views and allocations do not)."""

    NO_KERNEL: ClassVar[set[str]] = {
        "empty", "empty_like", "empty_strided", "_unsafe_view", "detach", "lift_fresh",
        "sym_size", "sym_stride", "sym_numel", "is_same_size"}

    def __init__(self):
        self.kernels = 0

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if not func.is_view and func.overloadpacket.__name__ not in counter.NO_KERNEL:
                    counter.kernels += 1
                return func(*args, **(kwargs or {}))

        self._mode = Mode()
        return self._mode.__enter__()

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)


def torch_device(device: Device) -> str:
    return "cpu" if device.name == "cpu" else "cuda"
