"""What few-shot reports of its prefix cache (prompt_tokens, prompt_tokens_run and the share
saved) is checked here against the tokens the model was really given, counted by a hook on
the model: a scorer that miscounted (or a cache that re-encoded its prefix) fails."""

import pytest
import torch


@pytest.fixture(scope="module")
def decoder(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder.source).eval()
    return model, AutoTokenizer.from_pretrained(tiny_decoder.source)


def counting(model):
    """A forward pre-hook counting the tokens each call runs (not its padding, not the cached
    positions an attention mask also covers)."""
    seen = [0]

    def hook(module, args, kwargs):
        ids, mask = kwargs["input_ids"], kwargs.get("attention_mask")
        seen[0] += int(ids.numel() if mask is None else mask[:, -ids.shape[1]:].sum())

    return seen, model.register_forward_pre_hook(hook, with_kwargs=True)


def test_the_scorers_token_counts_are_what_the_model_ran(decoder):
    from strategies.label_scoring import LabelScorer

    model, tokenizer = decoder
    words = ("animal", "vehicle", "food stuff")  # a multi-token word adds sequences
    demos = [("the cat sat", "animal"), ("a red bus", "vehicle"), ("hot soup", "food stuff")]
    questions = ["the dog ran off", "a truck", "bread and rice today", "cows"]
    seen, handle = counting(model)
    try:
        cached = LabelScorer(model, tokenizer, words, max_batch_tokens=64)
        prompts = [cached.render(q, demos) for q in questions]
        with_cache = cached.score(prompts)
        ran_cached, seen[0] = seen[0], 0
        plain = LabelScorer(model, tokenizer, words, max_batch_tokens=64, reuse_prefix=False)
        without = plain.score(prompts)
        ran_plain = seen[0]
    finally:
        handle.remove()
    assert cached.tokens_processed == ran_cached
    assert plain.tokens_processed == ran_plain == cached.prompt_tokens == plain.prompt_tokens
    share = 1 - cached.tokens_processed / cached.prompt_tokens
    assert 0.3 < share < 1  # the demonstrations, encoded once instead of for every sequence
    torch.testing.assert_close(torch.tensor(with_cache), torch.tensor(without), atol=1e-4,
                               rtol=1e-4)
