"""The cost model of `harness project`: FLOPs, bytes held and bytes moved by one training step and
by one inference batch, per strategy, and the roofline that turns them into seconds. Arithmetic
only, on an Architecture (parameters counted on a meta-device model) and a Calibration
(activations and kernels measured on a reduced-depth copy); docs/projection.md derives each
formula.

    row = project_row(architecture, calibration, device, "lora", Settings())
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.projection.devices import GIB, Device

STRATEGIES = ("full-finetune", "lora", "qlora", "prompting")
# Whose measured activations and kernels a strategy's training step has: QLoRA's are LoRA's,
# its dequantized weights are transient and never saved for backward.
ADAPTED = {"full-finetune": "full", "lora": "lora", "qlora": "lora", "prompting": "full"}

# Bytes per parameter held during a training step.
ADAMW_BYTES = 16  # fp32 weight (the master copy under mixed precision), fp32 grad, 2 fp32 moments
# Autocast's 16-bit copy of a trainable weight, kept for backward.
CAST_BYTES = {"fp32": 0, "mixed": 2}
ELEMENT_BYTES = {"fp32": 4, "mixed": 2}  # a frozen weight, or an activation, in the compute dtype
# NF4 with double quantization (the harness's default): a 4-bit code per weight, an 8-bit
# absmax per block of 64 and an fp32 constant per 256 blocks (QLoRA paper, 4.127 bits/weight).
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# Weights QLoRA leaves unquantized: prepare_model_for_kbit_training makes them fp32.
UPCAST_BYTES = 4
# Bytes moved.
ADAMW_TRAFFIC_BYTES = 28  # per trainable parameter: read weight, grad, 2 moments; write 3 back
ACTIVATION_TRAFFIC = 4  # saved activations written and read once, and as much again by temporaries
BACKWARD_KERNELS = 2  # kernels launched by backward per forward kernel (grad of input and weight)
# Elements per token an inference layer holds at once (nothing is saved): hidden-sized states
# (residual, normed input, attention output, ...) and the MLP's intermediate ones.
INFER_WORKING = (4, 3)  # 4 x hidden + 3 x intermediate
# The a-priori count of elements a training layer saves per token, which calibration corrects:
# each linear layer's input and each element-wise op's input (docs/projection.md).
SAVED_FORMULA = (8, 4)  # 8 x hidden + 4 x intermediate


@dataclass(frozen=True)
class Settings:
    seq_len: int = 128  # tokens per example (AG News articles fit; prompts are scored whole)
    train_batch: int = 16  # examples per training step: the trained strategies' default
    infer_batch: int = 32  # examples per inference batch
    flops_util: float | None = None  # share of the matmul peak; None: the device's own
    bw_util: float | None = None  # share of the memory bandwidth; None: the device's own
    # Training keeps each layer's input only and recomputes the layer in the backward pass
    # (the trained strategies' `gradient_checkpointing`, on for a causal LM)
    checkpointing: bool = False


@dataclass(frozen=True)
class Architecture:
    """Sizes of one model, its parameters counted on meta-device builds (no weights)."""

    name: str
    kind: str  # "encoder" or "decoder"
    layers: int
    hidden: int
    attention_dim: int  # heads x head dim: the width of QK^T and AV
    intermediate: int
    vocab: int
    total_params: int  # the sequence-classification model full-finetune trains
    matmul_params: int  # its linear layers' weights: 2 FLOPs per weight per token forward
    lora_trainable: int  # the adapters and the new head
    lora_total: int
    quantized_params: int  # linear weights bitsandbytes packs in 4 bits (the head is kept)
    quantized_linears: int  # how many such layers: each is dequantized once per pass
    largest_linear: int  # weights of the largest: its dequantized copy is held while it runs
    lm_total_params: int | None = None  # the causal LM prompting scores with; None: encoder
    lm_matmul_params: int | None = None  # its linear weights but the LM head (one position)


@dataclass(frozen=True)
class PerToken:
    """A measured quantity as a part per layer and a part outside the layers."""

    per_layer: float
    outside: float

    def total(self, layers: int) -> float:
        return layers * self.per_layer + self.outside


@dataclass(frozen=True)
class Calibration:
    """Measured on a reduced-depth copy of the architecture, keyed "full/fp32", "lora/mixed":
    bytes saved for backward per token, and kernels launched by one forward pass."""

    seq_len: int
    activation_bytes: dict[str, PerToken]
    forward_kernels: dict[str, PerToken]


def training_flops(arch: Architecture, strategy: str, tokens: int, seq_len: int) -> float:
    """Matmul FLOPs of one step. Attention (QK^T, AV) is 4·L·d per token and layer forward and
    twice that backward; a frozen weight costs forward (2N) and its input's gradient (2N),
    a trained one also its own gradient (2N more)."""
    attention = 12 * arch.layers * seq_len * arch.attention_dim * tokens
    if strategy == "full-finetune":
        return 6 * arch.matmul_params * tokens + attention
    return (4 * arch.matmul_params + 6 * arch.lora_trainable) * tokens + attention


def inference_flops(arch: Architecture, strategy: str, tokens: int, seq_len: int,
                    examples: int) -> float:
    attention = 4 * arch.layers * seq_len * arch.attention_dim * tokens
    if strategy == "prompting":  # the LM head runs for each prompt's last position only
        return 2 * arch.lm_matmul_params * tokens + attention + 2 * arch.hidden * arch.vocab * \
            examples
    adapters = 0 if strategy == "full-finetune" else 2 * arch.lora_trainable * tokens
    return 2 * arch.matmul_params * tokens + adapters + attention


def weight_bytes(arch: Architecture, strategy: str, precision: str, training: bool) -> float:
    """Bytes of weights (and, training, gradients and AdamW moments) held."""
    element = ELEMENT_BYTES[precision]
    if strategy == "prompting":
        return element * arch.lm_total_params
    if strategy == "full-finetune":
        if not training:
            return element * arch.total_params
        return ADAMW_BYTES * arch.total_params + CAST_BYTES[precision] * arch.matmul_params
    trained = (ADAMW_BYTES + CAST_BYTES[precision] if training else element) * arch.lora_trainable
    frozen = arch.lora_total - arch.lora_trainable
    if strategy == "lora":
        return trained + element * frozen
    return (trained + NF4_BYTES * arch.quantized_params + element * arch.largest_linear
            + UPCAST_BYTES * (frozen - arch.quantized_params))


def saved_activation_bytes(arch: Architecture, calibration: Calibration, strategy: str,
                           precision: str, tokens: int) -> float:
    return calibration.activation_bytes[f"{ADAPTED[strategy]}/{precision}"].total(arch.layers) \
        * tokens


def working_activation_bytes(arch: Architecture, precision: str, tokens: int) -> float:
    per_token = INFER_WORKING[0] * arch.hidden + INFER_WORKING[1] * arch.intermediate
    return per_token * ELEMENT_BYTES[precision] * tokens


def weight_traffic(arch: Architecture, strategy: str, precision: str, passes: int) -> float:
    """Bytes of weights the matmuls read in `passes` passes (forward; forward and backward), in
    the compute dtype: a 4-bit weight is read as its dequantized copy."""
    matmul = arch.lm_matmul_params if strategy == "prompting" else arch.matmul_params
    return passes * ELEMENT_BYTES[precision] * matmul


def streamed_bytes(arch: Architecture, strategy: str, precision: str, training: bool) -> float:
    """Bytes moved by the kernels that stream over weights beside the matmuls, whose time adds
    to theirs: AdamW's update, autocast's 16-bit copies of trained weights, and the
    dequantization of each 4-bit weight at each use (read packed, write 16-bit)."""
    element = ELEMENT_BYTES[precision]
    total = 0.0
    if training:
        trained = arch.total_params if strategy == "full-finetune" else arch.lora_trainable
        total += ADAMW_TRAFFIC_BYTES * trained
        if precision == "mixed":
            cast = arch.matmul_params if strategy == "full-finetune" else arch.lora_trainable
            total += (4 + element) * cast
    if strategy == "qlora":
        total += (2 if training else 1) * (NF4_BYTES + element) * arch.quantized_params
    return total


def kernels(arch: Architecture, calibration: Calibration, strategy: str, precision: str,
            training: bool) -> float:
    forward = calibration.forward_kernels[f"{ADAPTED[strategy]}/{precision}"].total(arch.layers)
    passes = 1 + BACKWARD_KERNELS if training else 1
    dequantize = arch.quantized_linears * (2 if training else 1) if strategy == "qlora" else 0
    return forward * passes + dequantize


def roofline(flops: float, traffic: float, kernel_count: float, device: Device,
             settings: Settings) -> tuple[float, str]:
    """(seconds, what bounds them): the slowest of the matmuls at the device's reachable peak,
    the bytes at its reachable bandwidth, and the host launching the kernels; on a CPU, which
    launches its own work, the launching adds to the slower of the other two."""
    flops_util = settings.flops_util or device.flops_util
    seconds = {"compute": flops / (device.peak_flops(device.precision) * flops_util),
               "memory": traffic / (device.bandwidth_bytes_s * _bw_util(device, settings)),
               "launch": kernel_count * device.op_overhead_s}
    if not device.asynchronous:
        launch = seconds.pop("launch")
        bound = max(seconds, key=seconds.get)
        return seconds[bound] + launch, bound
    bound = max(seconds, key=seconds.get)
    return seconds[bound], bound


def _bw_util(device: Device, settings: Settings) -> float:
    return settings.bw_util or device.bw_util


def _streaming_s(arch, strategy, precision, training, device, settings) -> float:
    return streamed_bytes(arch, strategy, precision, training) / (
        device.bandwidth_bytes_s * _bw_util(device, settings))


def training_step(arch, calibration, device, strategy, settings) -> dict:
    """Memory, FLOPs and time of one training step of `settings.train_batch` examples."""
    precision, tokens = device.precision, settings.train_batch * settings.seq_len
    layer = calibration.activation_bytes[f"{ADAPTED[strategy]}/{precision}"].per_layer * tokens
    if settings.checkpointing:
        # Every layer's input is kept, one layer's saved activations exist at a time (the
        # one being recomputed), and the forward runs twice
        activations = (arch.layers * arch.hidden * ELEMENT_BYTES[precision] * tokens + layer
                       + calibration.activation_bytes[f"{ADAPTED[strategy]}/{precision}"]
                       .outside * tokens)
    else:
        activations = saved_activation_bytes(arch, calibration, strategy, precision, tokens)
    # While backward runs through a layer, the gradients of its activations are held beside
    # what is still saved: about one layer's saved bytes more.
    memory = weight_bytes(arch, strategy, precision, training=True) + activations + layer
    flops = training_flops(arch, strategy, tokens, settings.seq_len)
    if settings.checkpointing:
        flops += inference_flops(arch, "full-finetune", tokens, settings.seq_len, 0)
    traffic = weight_traffic(arch, strategy, precision, 2) + ACTIVATION_TRAFFIC * activations
    seconds, bound = roofline(flops, traffic, kernels(arch, calibration, strategy, precision,
                                                      True), device, settings)
    seconds += _streaming_s(arch, strategy, precision, True, device, settings)
    return {"train_memory_gib": memory / GIB, "train_tflops": flops / 1e12,
            "ms_per_step": seconds * 1000, "step_bound": bound}


def inference_batch(arch, calibration, device, strategy, settings) -> dict:
    """Memory of one inference batch of `settings.infer_batch` examples, and the time of
    1,000 predictions at that batch size."""
    precision, examples = device.precision, settings.infer_batch
    tokens = examples * settings.seq_len
    working = working_activation_bytes(arch, precision, tokens)
    memory = weight_bytes(arch, strategy, precision, training=False) + working
    flops = inference_flops(arch, strategy, tokens, settings.seq_len, examples)
    traffic = weight_traffic(arch, strategy, precision, 1) + 2 * working
    seconds, bound = roofline(flops, traffic, kernels(arch, calibration, strategy, precision,
                                                      False), device, settings)
    seconds += _streaming_s(arch, strategy, precision, False, device, settings)
    per_1k_s = seconds * 1000 / examples
    price = device.price()
    return {"infer_memory_gib": memory / GIB, "s_per_1k_predictions": per_1k_s,
            "predict_bound": bound,
            "usd_per_1k_predictions": per_1k_s * price / 3600 if price is not None else None}


def project_row(arch: Architecture, calibration: Calibration, device: Device, strategy: str,
                settings: Settings) -> dict | None:
    """One projected row; None where the strategy does not apply (prompting an encoder)."""
    if strategy == "prompting" and arch.lm_total_params is None:
        return None
    trains = strategy != "prompting"
    row = {"model": arch.name, "device": device.name, "device_label": device.label,
           "strategy": strategy, "kind": "projected", "projected": True,
           "precision": "fp32" if device.precision == "fp32" else f"{device.mixed_dtype} mixed",
           "seq_len": settings.seq_len, "train_batch": settings.train_batch if trains else None,
           "infer_batch": settings.infer_batch,
           "trainable_params": _trainable(arch, strategy),
           "total_params": _total(arch, strategy)}
    if trains:
        row.update(training_step(arch, calibration, device, strategy, settings))
    else:
        row.update(train_memory_gib=None, train_tflops=None, ms_per_step=None, step_bound=None)
    row.update(inference_batch(arch, calibration, device, strategy, settings))
    needed = row["train_memory_gib"] if trains else row["infer_memory_gib"]
    row["fits"] = bool(needed * GIB <= device.memory_bytes)
    row["usd_per_hour"] = device.price()
    return row


def _trainable(arch: Architecture, strategy: str) -> int:
    return {"full-finetune": arch.total_params, "prompting": 0}.get(strategy, arch.lora_trainable)


def _total(arch: Architecture, strategy: str) -> int:
    return {"full-finetune": arch.total_params,
            "prompting": arch.lm_total_params}.get(strategy, arch.lora_total)


def saved_formula_bytes(arch: Architecture, precision: str) -> float:
    """The a-priori bytes a layer saves per token; measured / this is the calibrated
    activation coefficient."""
    return (SAVED_FORMULA[0] * arch.hidden + SAVED_FORMULA[1] * arch.intermediate) \
        * ELEMENT_BYTES[precision]
