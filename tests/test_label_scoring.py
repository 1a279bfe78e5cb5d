"""The label scorer gives exactly the log-probability of each label word after the prompt."""

import numpy as np
import pytest
import torch

from strategies.label_scoring import LabelScorer


@pytest.fixture(scope="module")
def decoder(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder.source).eval()
    return model, AutoTokenizer.from_pretrained(tiny_decoder.source)


def reference_scores(model, scorer, prompt_ids):
    """One unpadded forward pass per (example, label): the obvious, slow definition."""
    scores = np.zeros((len(prompt_ids), len(scorer.label_ids)))
    with torch.inference_mode():
        for i, ids in enumerate(prompt_ids):
            for k, label in enumerate(scorer.label_ids):
                logits = model(input_ids=torch.tensor([ids + label])).logits[0]
                log_probs = torch.log_softmax(logits.float(), dim=-1)
                scores[i, k] = sum(log_probs[len(ids) - 1 + j, t].item()
                                   for j, t in enumerate(label))
    return scores


DEMOS = [("an example question", "yes"), ("another one, longer than the first", "photosynthesis")]


@pytest.mark.parametrize("chat", [True, False])
@pytest.mark.parametrize("demonstrations", [(), DEMOS], ids=["zero-shot", "few-shot"])
@pytest.mark.parametrize("reuse_prefix", [True, False])
def test_scores_match_per_label_forward_passes(decoder, chat, demonstrations, reuse_prefix):
    model, tokenizer = decoder
    # Single- and multi-token label words, prompts of different lengths (padding in a batch);
    # the demonstrations form a long shared prefix that is encoded once and reused.
    words = ["yes", "Sci/Tech unbelievably", "photosynthesis", "no"]
    scorer = LabelScorer(model, tokenizer, words, use_chat_template=chat, max_batch_tokens=256,
                         reuse_prefix=reuse_prefix)
    assert any(len(ids) > 1 for ids in scorer.label_ids) and any(
        len(ids) == 1 for ids in scorer.label_ids)
    prompts = [scorer.render(t, demonstrations) for t in
               ["short", "a somewhat longer question about things", "x " * 40,
                "mid length text here"]]
    ours = scorer.score(prompts)
    expected = reference_scores(model, scorer, [scorer.prompt_ids(p) for p in prompts])
    np.testing.assert_allclose(ours, expected, atol=2e-4)


def test_chat_template_is_used_when_present(decoder):
    model, tokenizer = decoder
    assert "<|im_start|>assistant" in LabelScorer(model, tokenizer, ["a"]).render("q")
    assert LabelScorer(model, tokenizer, ["a"], use_chat_template=False).render("q") == \
        "q\nAnswer:"


def test_a_single_prompt_is_scored_exactly_with_its_prefix_cached(decoder):
    model, tokenizer = decoder
    scorer = LabelScorer(model, tokenizer, ["yes", "photosynthesis"])
    prompt = scorer.render("only one", DEMOS)
    expected = reference_scores(model, scorer, [scorer.prompt_ids(prompt)])
    np.testing.assert_allclose(scorer.score([prompt]), expected, atol=2e-4)


def test_a_kept_prefix_is_reused_exactly_by_later_single_prompts(decoder):
    model, tokenizer = decoder
    scorer = LabelScorer(model, tokenizer, ["yes", "photosynthesis"])
    prompts = [scorer.render(t, DEMOS) for t in ["first text", "a second, longer text"]]
    batch = scorer.score(prompts)
    assert len(scorer._kept) == 1  # the demonstrations' prefix, kept for later calls
    singles = np.vstack([scorer.score([p]) for p in prompts])
    np.testing.assert_allclose(singles, batch, atol=2e-4)
    assert len(scorer._kept) == 1  # single prompts reuse it and add nothing


def test_a_shorter_kept_prefix_does_not_stand_in_for_a_longer_shared_one(decoder):
    model, tokenizer = decoder
    scorer = LabelScorer(model, tokenizer, ["yes", "no"])  # one pass per prompt
    scorer.score([scorer.render(t) for t in ["alpha", "beta"]])  # keeps the system prompt
    prompts = [scorer.render(t, DEMOS) for t in ["first text", "a second, longer text"]]
    scorer.tokens_processed = 0
    scores = scorer.score(prompts)
    shared = max(map(len, scorer._kept))  # the demonstrations' prefix, now kept too
    assert len(scorer._kept) == 2
    # The demonstrations are encoded once, not once per prompt.
    assert scorer.tokens_processed == sum(len(scorer.prompt_ids(p)) for p in prompts) - shared
    expected = reference_scores(model, scorer, [scorer.prompt_ids(p) for p in prompts])
    np.testing.assert_allclose(scores, expected, atol=2e-4)


def test_a_primed_prefix_serves_single_prompts_exactly(decoder):
    """Strategies encode their demonstrations once in prepare(); a single example scored
    afterwards (latency) encodes only its own tokens and gets the exact scores."""
    model, tokenizer = decoder
    scorer = LabelScorer(model, tokenizer, ["yes", "no"])
    scorer.keep_prefix([scorer.render(t, DEMOS) for t in ["N/A", "Example."]])
    assert len(scorer._kept) == 1
    prompt = scorer.render("an unseen text", DEMOS)
    scorer.tokens_processed = 0
    single = scorer.score([prompt])
    assert scorer.tokens_processed < len(scorer.prompt_ids(prompt)) / 2
    expected = reference_scores(model, scorer, [scorer.prompt_ids(prompt)])
    np.testing.assert_allclose(single, expected, atol=2e-4)
