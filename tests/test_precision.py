"""Precision as a measured default (Step 15): a strategy declares the number formats it is
safe in; `--precision auto` runs bf16 where it is declared and the device has native bf16
units, fp32 elsewhere; `--precision fp32` forces float32; the choice is in the key, the label
and the record, and the model really computes in it."""

import dataclasses

import pytest
import torch

from harness.api import precision as precision_module
from harness.api.precision import native_bf16, precision_for
from harness.api.strategy import Context, declaration_problems
from harness.api.testing import TINY_TASK
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest


def test_auto_takes_bf16_only_where_declared_and_native(monkeypatch):
    both, fp32 = ("fp32", "bf16"), ("fp32",)
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"amx_bf16", "sse2"}))
    assert native_bf16("cpu")
    assert precision_for("auto", both, "cpu") == "bf16"
    assert precision_for("auto", fp32, "cpu") == "fp32"
    assert precision_for("fp32", both, "cpu") == "fp32"
    assert precision_for("auto", both, "cpu", native=False) == "fp32"  # a worker said so
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"avx2"}))
    assert precision_for("auto", both, "cpu") == "fp32"
    assert precision_for("bf16", both, "cpu") == "bf16"  # asked: emulated, with a note


def test_a_declaration_without_fp32_or_with_an_unknown_format_is_refused():
    from harness.api import registry

    class Half(registry.get("tfidf-logreg")):
        precisions = ("fp16",)

    assert any("precisions must be a tuple of ('fp32', 'bf16') that includes 'fp32'" in p
               for p in declaration_problems(Half))


def test_the_plan_puts_the_precision_in_the_key_and_label(data_dir, monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    request = GridRequest(tasks=("agnews",), strategies="full-finetune,tfidf-logreg,qlora",
                          n_train=20, n_eval=8, data_dir=data_dir)
    auto = {c.strategy: c for c in build_cells(request, notes=[])}
    forced = {c.strategy: c for c in build_cells(
        dataclasses.replace(request, precision="fp32"), notes=[])}
    assert auto["full-finetune"].precision == "bf16"
    assert " · bf16 · " in auto["full-finetune"].label
    assert auto["full-finetune"].identity()["precision"] == "bf16"
    assert auto["tfidf-logreg"].precision == auto["qlora"].precision == "fp32"
    assert forced["full-finetune"].precision == "fp32"
    assert "precision" not in forced["full-finetune"].identity()  # fp32 keys are as before
    assert forced["full-finetune"].key != auto["full-finetune"].key
    assert forced["tfidf-logreg"].key == auto["tfidf-logreg"].key
    notes = []
    build_cells(dataclasses.replace(request, precision="bf16"), notes=notes)
    assert "tfidf-logreg, qlora: float32 only (bf16 not declared safe); run in fp32" in notes


def test_a_prompted_model_runs_bf16_layers_and_a_float32_head_in_a_bf16_cell(tiny_decoder,
                                                                              tmp_path):
    """Label scores are close log-probabilities: the vocabulary projection stays float32 (and
    untied from the bf16 input embedding); a model whose every weight trains stays float32."""
    from strategies.decoder import load_decoder

    ids = torch.tensor([[1, 2, 3, 4]])
    context = Context(TINY_TASK, tiny_decoder, 0, "cpu", tmp_path, precision="bf16")
    model, _ = load_decoder(context)
    head, embedding = model.get_output_embeddings(), model.get_input_embeddings()
    assert embedding.weight.dtype == torch.bfloat16 and head.weight.dtype == torch.float32
    assert model.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    with torch.inference_mode():
        assert model(input_ids=ids).logits.dtype == torch.float32
    reference, _ = load_decoder(dataclasses.replace(context, precision="fp32"))
    assert {p.dtype for p in reference.parameters()} == {torch.float32}
    assert torch.equal(head.weight, reference.get_output_embeddings().weight)  # not rounded
    trained, _ = load_decoder(context, frozen=False)
    assert {p.dtype for p in trained.parameters()} == {torch.float32}


def test_fp32_and_bf16_records_of_one_strategy_are_two_rows_never_pooled(tmp_path):
    from harness.results.store import Store
    from test_report import leaderboard_rows, record, report, save

    store = Store(tmp_path / "results")
    store.prepare()
    save(store, record("zero-shot"))
    save(store, record("zero-shot", precision="bf16", accuracy=0.5), prediction=(1, 1, 0, 0))
    markdown, _ = report(store, tmp_path / "reports")
    assert {row["row"] for row in leaderboard_rows(markdown)} == {
        "zero-shot (tiny)", "zero-shot · bf16 (tiny)"}


def test_every_strategy_that_declares_bf16_runs_a_cell_in_it(tiny_encoder, tiny_decoder,
                                                              data_dir, tmp_path):
    """End to end on tiny models, adapter dropout on (it runs its own autograd function)."""
    import json

    from click.testing import CliRunner

    from harness.api import registry
    from harness.cli.main import main

    declared = sorted(name for name, entry in registry.entries().items()
                      if entry.package == "adapt-harness"
                      and "bf16" in registry.get(name).precisions)
    assert declared == ["few-shot", "full-finetune", "instruction-tuned", "lora", "zero-shot"]
    result = CliRunner().invoke(main, [
        "run", "-s", ",".join(declared), "-t", "agnews", "--precision", "bf16",
        "--model", f"encoder={tiny_encoder.source}", "--model", f"decoder={tiny_decoder.source}",
        "--data-dir", data_dir, "--n-train", "24", "--n-eval", "8",
        "-c", "lora.dropout=0.1", "-c", "full-finetune.min_steps=2", "-c", "lora.min_steps=2",
        "-c", "instruction-tuned.max_train_rows=8", "-c", "few-shot.trials=2", "--out", str(tmp_path / "results"), "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert sorted(r["strategy"] for r in records) == declared
    assert all(r["status"] == "ok" and r["precision"] == "bf16" for r in records), [
        (r["strategy"], r.get("error")) for r in records]
