"""Loading a decoder, its tokenizer and a label scorer on the cell's backend, for the prompting
strategies."""

from __future__ import annotations

from harness.strategy import Context, Footprint


def load_decoder(context: Context):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = context.model.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **context.model.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **context.model.load_kwargs())
    return model.to(context.device).eval(), tokenizer


def load_tokenizer(context: Context):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(context.model.local_path(), **context.model.load_kwargs())


def frozen_decoder_scorer(context: Context, label_words, **options):
    """(scorer, tokenizer, footprint) for a strategy that prompts the model as it is: the
    transformers model on the `hf` backend, a vLLM engine on `vllm`."""
    from strategies.common import torch_footprint

    if context.backend == "vllm":
        from strategies.vllm_scoring import VllmLabelScorer, open_engine

        tokenizer = load_tokenizer(context)
        engine = open_engine(context.model.local_path(), context.seed,
                             context.model.trust_remote_code)
        options.pop("max_batch_tokens", None)  # vLLM's scheduler forms its own batches
        return (VllmLabelScorer(engine, tokenizer, label_words, **options), tokenizer,
                meta_footprint(context))
    from strategies.label_scoring import LabelScorer

    model, tokenizer = load_decoder(context)
    return (LabelScorer(model, tokenizer, label_words, **options), tokenizer,
            torch_footprint(model, frozen=True))


def meta_footprint(context: Context) -> Footprint:
    """Parameter counts and weight bytes from the model's config, allocating no weights (the
    weights live inside the vLLM engine)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from strategies.common import torch_footprint
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
