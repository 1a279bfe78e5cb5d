"""The causal LM's training loss from the answer positions in chunks (strategies/sft.py) is the
model's own loss, with the same gradients, on a plain and on a LoRA-wrapped decoder."""

import pytest
import torch

from harness.api.testing import build_tiny_decoder
from strategies.sft import answer_loss


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    folder = build_tiny_decoder(tmp_path_factory.mktemp("decoder") / "tiny")
    return AutoModelForCausalLM.from_pretrained(folder)


def batch(vocab: int, seed: int = 0):
    """Two rows, right-padded, prompt positions labelled -100, the second row shorter."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (2, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    labels = ids.clone()
    labels[:, :4] = -100
    labels[mask == 0] = -100
    return ids, mask, labels


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk", [3, 1024])
def test_answer_loss_is_the_models_loss_with_its_gradients(decoder, chunk):
    ids, mask, labels = batch(decoder.config.vocab_size)
    decoder.zero_grad()
    own = decoder(input_ids=ids, attention_mask=mask, labels=labels).loss
    own.backward()
    expected = grads(decoder)
    decoder.zero_grad()
    ours = answer_loss(decoder, ids, mask, labels, chunk_tokens=chunk)
    ours.backward()
    assert ours.item() == pytest.approx(own.item(), rel=1e-6)
    got = grads(decoder)
    assert got.keys() == expected.keys() and len(got) > 5
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)


def test_answer_loss_trains_lora_adapters_only(decoder):
    from peft import LoraConfig, get_peft_model

    decoder.zero_grad()  # the fixture's earlier tests left gradients on the base
    model = get_peft_model(decoder, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                               task_type="CAUSAL_LM"))
    try:
        ids, mask, labels = batch(decoder.config.vocab_size, seed=1)
        own = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        own.backward()
        expected = grads(model)
        model.zero_grad()
        answer_loss(model, ids, mask, labels, chunk_tokens=5).backward()
        got = grads(model)
        assert got.keys() == expected.keys() and all("lora_" in n for n in got)
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)
    finally:
        model.unload()


def test_no_answer_token_is_a_zero_loss(decoder):
    ids, mask, labels = batch(decoder.config.vocab_size)
    labels[:] = -100
    assert answer_loss(decoder, ids, mask, labels).item() == 0.0
