"""lora: low-rank adapters (peft) on a sequence-classification model; the base weights stay
frozen, the adapters and the new classification head are trained with the transformers Trainer.
qlora is the same recipe on a 4-bit base (see strategies/qlora.py): a configuration, not a copy.

    harness run --strategies lora --task agnews -c lora.r=16
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.api.search import Choice, LogUniform, Uniform
from harness.api.resources import Resources
from harness.api.settings import at_least
from harness.api.strategy import Context, Footprint
from strategies.adapters import add_lora, base_weight_bytes, check_adapter_settings
from strategies.common import torch_footprint
from strategies.training import ClassifierTraining, TrainedModel, load_for_task


@dataclass
class LoraConfig(ClassifierTraining):
    r: int = field(default=16, metadata={"help": "rank of each adapter's update"})
    alpha: int = field(default=32, metadata={
        "help": "scaling numerator: the update is scaled by alpha / r"})
    dropout: float = field(default=0.0, metadata={"help": (
        "dropout on the adapter's input (peft's default, 0). Drawing its masks is most of what "
        "a LoRA step costs beyond the matmuls on a CPU: at 0.1, 1.06x a full fine-tuning step "
        "against 0.78x at 0 (bench/results/step_profile_1thread.json), for no accuracy that 3 "
        "draws of 512 AG News rows resolve: 0.856 at 0.1, 0.860 at 0 "
        "(bench/results/lora_dropout.json)")})
    target_modules: str = field(default="auto", metadata={
        "help": '"auto" (per architecture), "all-linear" or "name,name,..."'})
    learning_rate: float = field(default=1e-3, metadata={
        "help": "adapters need a higher rate than full fine-tuning"})
    load_in_4bit: bool = field(default=False, metadata={
        "help": "the QLoRA variant: an NF4-quantized, frozen base"})
    double_quant: bool = field(default=True, metadata={
        "help": "with 4 bits: quantize the quantization constants too"})
    max_gen_length: int = field(default=256, metadata={
        "help": "Generation tasks: tokens per training example (instruction context + passage)"})

    def __post_init__(self):  # qlora inherits these checks
        super().__post_init__()
        check_adapter_settings(self)
        at_least(self, 1, "max_gen_length")


class Lora(TrainedModel):
    name = "lora"
    description = "LoRA adapters (peft) on a frozen base: a classifier, or a decoder's style."
    config_class = LoraConfig
    # qlora inherits it: the same search for the same recipe on a 4-bit base
    search_space = {"learning_rate": LogUniform(1e-4, 5e-3), "epochs": Uniform(1.0, 10.0),
                    "batch_size": Choice(8, 16, 32), "r": Choice(4, 8, 16, 32),
                    "alpha": Choice(8, 16, 32, 64)}
    # The frozen base and its activations; adapters and their optimizer state are small.
    resources = Resources(gpus=1, cpus=1, memory_gib=2, model_memory_multiple=1.5)
    # The base reloaded with the exported adapters kept apart or merged (strategies/inference.py)
    inference_variants = ("fp32", "bf16", "fp16", "int8", "nf4", "merged")

    def __init__(self, config: LoraConfig, context: Context):
        self.config, self.context = config, context
        quantized = quantization_settings(config, context)
        base, self.tokenizer = load_for_task(context, **quantized)
        self.base_bytes = base_weight_bytes(base)
        generation = context.task.kind == "generation"
        self.model = add_lora(base, config, task_type="CAUSAL_LM" if generation else "SEQ_CLS")
        if not config.load_in_4bit:
            self.model.to(context.device)

    @classmethod
    def load_inference(cls, config: LoraConfig, context: Context, folder, variant: str):
        """The base with the exported adapters, in the variant, ready to predict."""
        from peft import PeftModel

        from strategies.encoder import load_tokenizer

        loaded = cls.__new__(cls)
        loaded.config, loaded.context = config, context
        loaded.model = load_adapter_variant(context, folder, variant,
                                            quantization_settings(config, context))
        loaded.tokenizer = load_tokenizer(context)
        kept_apart = isinstance(loaded.model, PeftModel)
        loaded.base_bytes = (base_weight_bytes(loaded.model.get_base_model()) if kept_apart
                             else None)
        return loaded

    def footprint(self) -> Footprint:
        counts = torch_footprint(self.model)
        # Merged (a merged or CPU int8 variant), nothing is left of the base to ship apart
        adapters = "apart" if self.base_bytes is not None else "merged"
        return Footprint(counts.trainable_params, counts.total_params, counts.weight_bytes,
                         base_weight_bytes=self.base_bytes,
                         extra={"adapters": adapters, **self.training_footprint()})


def quantization_settings(config: LoraConfig, context: Context) -> dict:
    if not config.load_in_4bit:
        return {}
    import torch
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=config.double_quant,
        bnb_4bit_compute_dtype=torch.bfloat16 if context.device == "cuda" else torch.float32,
        # The new classification head (and BERT's pooler feeding it) is trained in full
        # precision; quantizing a randomly initialized head would only add noise.
        # A causal LM's output layer stays in full precision too (tied to the embeddings in
        # small decoders).
        llm_int8_skip_modules=["classifier", "pre_classifier", "score", "pooler", "lm_head"]),
        "device_map": {"": context.device if context.device == "cpu" else 0}}


def load_adapter_variant(context: Context, folder, variant: str, base_kwargs: dict):
    """A base classifier with the LoRA adapters (and head) exported to `folder`: kept apart in
    fp32, bf16 and nf4 (and CUDA int8, on the quantized base), merged into the base for
    `merged` and for CPU int8 (dynamic quantization needs plain Linear layers). `base_kwargs`:
    how the base was loaded to train (a 4-bit one for QLoRA), used by its own variant."""
    from peft import PeftModel

    from strategies.encoder import load_classifier
    from strategies.inference import check_variant, load_kwargs, quantize_linear_int8

    check_variant(variant, context)
    merge = variant == "merged" or (variant == "int8" and context.device == "cpu")
    kwargs = base_kwargs if base_kwargs and variant == "nf4" else load_kwargs(
        "fp32" if merge else variant, context.device)
    base, _ = load_classifier(context, **kwargs)
    if "device_map" not in kwargs:
        base = base.to(context.device)
    # Adapters in the base's precision: a bf16 variant is bf16 throughout
    model = PeftModel.from_pretrained(base, folder, autocast_adapter_dtype=variant != "bf16")
    if merge:
        model = model.merge_and_unload()
    if variant == "int8" and context.device == "cpu":
        model = quantize_linear_int8(model)
    return model.eval()
