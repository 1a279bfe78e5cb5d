"""Loading a decoder, its tokenizer and a label scorer on the cell's backend, for the prompting
strategies."""

from __future__ import annotations

import dataclasses

from harness.api.strategy import Context, Footprint
from strategies.common import torch_footprint
from strategies.api_client import open_client
from strategies.api_generation import ApiGenerator
from harness.metrics.lm_generation import HfGenerator
from strategies.scoring import ScoringSettings
from strategies.vllm_generation import VllmGenerator


def load_decoder(context: Context, frozen: bool = True):
    """(model, tokenizer) on the cell's device. A frozen model (prompted, or the base under
    adapters) runs in the cell's precision; one whose every weight trains stays float32, the
    master weights bf16 autocast trains."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = context.model.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **context.model.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **context.model.load_kwargs())
    if context.precision == "bf16" and frozen:
        model = bf16_body_fp32_head(model)
    return model.to(context.device).eval(), tokenizer


def bf16_body_fp32_head(model):
    """The decoder's layers in bf16, its vocabulary projection in float32 on float32 inputs.
    Label scores are differences of log-probabilities a few hundredths apart, and a bf16
    logit near 20 is only resolved to 1/8: with the head in bf16 zero-shot lost 0.015 accuracy
    on the quick profile, with it in float32 the two agree (bench/results/precision_compare.json).
    The head is one matrix product per scored position, so this costs little time; a head tied
    to the input embedding is untied (a float32 copy) so the embedding stays bf16."""
    import torch

    head = model.get_output_embeddings()
    weight = head.weight.detach().clone().float()
    model = model.to(torch.bfloat16)
    head.weight = torch.nn.Parameter(weight, requires_grad=False)
    head.register_forward_pre_hook(lambda module, args: (args[0].to(module.weight.dtype),
                                                         *args[1:]))
    return model


def load_language_model(context: Context, **kwargs):
    """(causal LM, tokenizer) to train on a generation task; `kwargs` go to from_pretrained
    (quantization). The tokenizer pads with its end token when it has no pad token."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(context)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(context.model.local_path(), dtype="auto",
                                                 **context.model.load_kwargs(), **kwargs)
    return model, tokenizer


def load_tokenizer(context: Context):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(context.model.local_path(), **context.model.load_kwargs())


def load_frozen_decoder(context: Context):
    """(model, tokenizer) of a strategy that prompts the model as it is; on the `vllm` backend
    the model is None: the engine that holds the weights starts in `open_scorer`; on the `api`
    backend the weights are the endpoint's, and the tokenizer renders the same prompts."""
    if context.backend in ("vllm", "api"):
        return None, load_tokenizer(context)
    return load_decoder(context)


def open_scorer(context: Context, model, tokenizer, config: ScoringSettings):
    """The label scorer of the task's label words on the cell's backend, with a prompting
    strategy's shared settings. Starting a vLLM engine is one-off work, so strategies call this
    from `prepare`."""
    words = context.task.label_words
    if context.backend == "api":
        from strategies.api_scoring import ApiLabelScorer

        scorer = ApiLabelScorer(open_client(context.endpoint), tokenizer, words,
                                config.use_chat_template)
        # Before calibration scores anything: it rescales log-probabilities only
        scorer.resolve_mode(scorer.render(context.task.prompt("N/A")))
        return scorer
    if context.backend == "vllm":
        from strategies.vllm_scoring import VllmLabelScorer

        # vLLM's scheduler forms its own batches: max_batch_tokens does not apply.
        return VllmLabelScorer(_engine(context, config), tokenizer, words,
                               config.use_chat_template)
    from strategies.label_scoring import LabelScorer

    return LabelScorer(model, tokenizer, words, config.use_chat_template,
                       max_batch_tokens=config.max_batch_tokens)


def frozen_footprint(context: Context, model, memory_share: float, asked=None) -> Footprint:
    """The prompted model's footprint; on the api backend, no weights here, and what the
    endpoint was asked (`asked`: its label scorer or generator, whose `usage()` gives the mode,
    requests and tokens per row, for the price table)."""
    if context.backend == "api":
        counts = meta_footprint(context)
        return Footprint(0, counts.total_params, 0, extra=asked.usage() if asked else {})
    if model is not None:  # all of it is the base a deployment loads as published
        footprint = torch_footprint(model, frozen=True)
        return dataclasses.replace(footprint, base_weight_bytes=footprint.weight_bytes)
    footprint = meta_footprint(context)
    return Footprint(footprint.trainable_params, footprint.total_params,
                     footprint.weight_bytes, extra=vllm_reservation(context, memory_share))


def vllm_reservation(context: Context, memory_share: float) -> dict:
    """What vLLM takes up front: its share of the GPU's memory, or of RAM with the CPU build."""
    if context.device == "cuda":
        import torch

        total = torch.cuda.get_device_properties(0).total_memory
    else:
        import psutil

        total = psutil.virtual_memory().total
    return {"vllm_memory_share": memory_share, "vllm_reserved_bytes": int(total * memory_share)}


def meta_footprint(context: Context) -> Footprint:
    """Parameter counts and weight bytes from the model's config, allocating no weights (the
    weights live inside the vLLM engine)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from strategies.vllm_scoring import config_dtype

    path = context.model.local_path()
    config = AutoConfig.from_pretrained(path, **context.model.load_kwargs())
    dtype = config_dtype(config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(
            config, dtype=getattr(torch, dtype) if dtype != "auto" else None,
            **context.model.load_kwargs())
    return torch_footprint(model, frozen=True)


def truncate_text(tokenizer, text: str, max_tokens: int) -> str:
    """Cut the input text, not the instruction around it, when it is too long."""
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens])


def open_generator(context: Context, model, tokenizer, config: ScoringSettings):
    """The continuation writer of a generation task on the cell's backend, with a prompting
    strategy's shared settings (a vLLM engine is started here: strategies call this from
    `prepare`)."""
    if context.backend == "api":
        return ApiGenerator(open_client(context.endpoint), tokenizer, context.task,
                            config.use_chat_template)
    if context.backend == "vllm":
        return VllmGenerator(_engine(context, config), tokenizer, context.task,
                             config.use_chat_template)

    return HfGenerator(model, tokenizer, context.task, config.use_chat_template)


def _engine(context: Context, config: ScoringSettings):
    """A vLLM engine on the cell's model, seed, memory share and precision."""
    from strategies.vllm_scoring import open_engine

    return open_engine(context.model.local_path(), context.seed, config.vllm_memory_share,
                       context.model.trust_remote_code, precision=context.precision)
