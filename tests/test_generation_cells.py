"""A generation cell end to end on a tiny random decoder: what the runner measures and writes,
and the decoder writer and scorer it relies on."""

import dataclasses

import numpy as np
import pytest
import torch

from harness.metrics.lm_scoring import causal_nll
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest
from harness.execution.driver import run_cells
from harness.results.store import Store
from harness.inputs.tasks import GenerationTask
from harness.metrics.lm_generation import HfGenerator

TASK = GenerationTask(name="tiny-style", instruction="Write like a farmer.", prompt_words=3,
                      max_new_tokens=5)


@pytest.fixture(scope="module")
def decoder(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_decoder.source).eval()
    return model, AutoTokenizer.from_pretrained(tiny_decoder.source)


def test_causal_nll_is_exact_whatever_the_batch(decoder):
    model, tokenizer = decoder
    pairs = [(tokenizer("Write.").input_ids, tokenizer(" the cow", add_special_tokens=False)
              .input_ids), ([], tokenizer("a much longer text about a horse and a cart",
                                          add_special_tokens=False).input_ids), ([1, 2], [])]
    nll, tokens = causal_nll(model, pairs, pad_id=0)
    for (context, text), value, count in zip(pairs, nll, tokens):
        if not text:
            assert value == 0 and count == 0
            continue
        ids = torch.tensor([context + text])
        with torch.inference_mode():
            log_probs = torch.log_softmax(model(input_ids=ids).logits.float(), -1)[0]
        first = max(len(context), 1)  # a text without context: its first token is not scored
        expected = -sum(log_probs[p - 1, ids[0, p]].item() for p in range(first, ids.shape[1]))
        assert value == pytest.approx(expected, rel=1e-4) and count == ids.shape[1] - first


def test_the_writer_counts_tokens_of_the_text_alone_and_honours_the_limit(decoder):
    model, tokenizer = decoder
    writer = HfGenerator(model, tokenizer, dataclasses.replace(TASK, temperature=0))
    scores = writer.log_likelihood(["the cow and the horse", "bread"])
    assert scores.tokens.tolist() == [len(tokenizer(t, add_special_tokens=False).input_ids)
                                      for t in ("the cow and the horse", "bread")]
    # Demonstrations change the context, never the tokens counted.
    assert writer.log_likelihood(["bread"], ["the cow"]).tokens.tolist() == [scores.tokens[1]]
    out = writer.generate(["the cow", "a very much longer prompt of words"])
    assert len(out.texts) == 2 and (out.tokens <= TASK.max_new_tokens).all()
    assert writer.generate(["the cow"], max_new_tokens=1).tokens[0] <= 1
    # Greedy: batched and alone agree.
    assert writer.generate(["the cow"]).texts[0] == out.texts[0]


def test_training_examples_mask_the_context_and_for_instruction_tuning_the_prompt(decoder):
    _, tokenizer = decoder
    writer = HfGenerator(decoder[0], tokenizer, TASK)
    context = writer.context_ids()
    whole = writer.training_example("the cow and the horse went home", 64)
    assert whole["input_ids"][:len(context)] == context
    assert whole["labels"][:len(context)] == [-100] * len(context)
    assert whole["labels"][-1] == tokenizer.eos_token_id
    tuned = writer.training_example("the cow and the horse went home", 64, from_word=True)
    masked = sum(label == -100 for label in tuned["labels"])
    assert masked == len(context) + len(writer.text_ids("the cow and"))
    assert len(writer.training_example("word " * 100, len(context) + 20)["input_ids"]) == \
        len(context) + 20


def test_a_generation_cell_is_measured_written_and_found_finished(data_dir, tiny_decoder,
                                                                  tmp_path):
    # The style judge comes from the shared cache (tests/test_style_judge.py tests the cache).
    cells = build_cells(GridRequest(tasks=["shakespeare"], strategies="zero-shot,few-shot",
                                    models=(f"decoder={tiny_decoder.source}",), data_dir=data_dir,
                                    n_train=4, n_eval=5, config={"few-shot": {"trials": "2"}}))
    store = Store(tmp_path / "results")
    store.prepare()
    summary = run_cells(cells, store, isolate=False, echo=lambda line: None)
    assert (summary.ran, summary.failed) == (2, 0)
    records = {r["strategy"]: r for r in store.records(strict=True)}
    few = records["few-shot"]
    assert few["task_kind"] == "generation" and few["trials"] == 2
    assert few["n_predictions"] == 10 and len(few["trial_perplexities"]) == 2
    for field in ("perplexity", "style_accuracy", "fluency_perplexity", "distinct_1", "chrf",
                  "repetition_rate"):
        assert few[f"{field}_ci_low"] <= few[field] <= few[f"{field}_ci_high"], field
    assert few["perplexity"] > 1 and 0 <= few["style_accuracy"] <= 1
    assert few["ttft_ms"] > 0 and few["ms_per_token"] > 0 and few["tokens_per_s"] > 0
    assert few["latency_samples"] == 5 and few["scoring_s"] > 0
    assert few["style_judge_accuracy"] > 0.9 and "accuracy" not in few
    # The hard-negative judge: the tiny model's pastiche is noise, easy to tell from real text
    assert few["hard_judge_cv_auc"] > 0.9 and few["hard_judge_n_negative"] > 0
    assert few["hard_judge_auc_ci_low"] <= few["hard_judge_auc"] <= few["hard_judge_auc_ci_high"]
    assert few["two_sample_pairs"] == 5 and np.isnan(few["mauve"])  # MAUVE needs 10 pairs
    frame = store.predictions(few["key"])
    assert list(frame.columns[:5]) == ["index", "text", "prompt", "reference", "prediction"]
    assert {"prediction_trial1", "style_probability", "passage_nll", "fluency_tokens"} <= \
        set(frame.columns)
    assert (frame["prompt"].str.len() > 0).all()
    # Rows are the same for both strategies; zero-shot has no training rows.
    assert records["zero-shot"]["eval_fingerprint"] == few["eval_fingerprint"]
    assert records["zero-shot"]["n_train"] == 0
    again = run_cells(cells, store, isolate=False, echo=lambda line: None)
    assert (again.ran, again.skipped) == (0, 2)
    assert np.isfinite(records["zero-shot"]["perplexity"])
