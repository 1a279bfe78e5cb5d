"""Loading a decoder and its tokenizer for the prompting strategies."""

from __future__ import annotations

from harness.strategy import Context


def load_decoder(context: Context):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = context.model.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **context.model.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **context.model.load_kwargs())
    return model.to(context.device).eval(), tokenizer


def truncate_text(tokenizer, text: str, max_tokens: int) -> str:
    """Cut the input text, not the instruction around it, when it is too long."""
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens])
