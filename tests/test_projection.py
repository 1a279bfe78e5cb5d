"""`harness project` on tiny configs: counts from the meta device equal a real model's, the cost
model orders strategies and devices as it must, scales with tokens, flags what does not fit, and
the command writes projected rows apart from measured ones."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from harness.errors import HarnessError
from harness.projection.devices import GPUS, present_cpu, resolve_devices
from harness.cli.project import project as project_command
from harness.projection.project import count_architecture, load_config
from harness.projection.measure import build_model, calibrate, reduced_config
from harness.projection.model import STRATEGIES, Settings, project_row, training_flops
from strategies.common import torch_footprint

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 512, "tie_word_embeddings": True}
TINY_BERT = {"model_type": "bert", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 300}
SETTINGS = Settings(seq_len=32, train_batch=2, infer_batch=4)


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("configs")
    paths = {}
    for name, spec in (("llama", TINY_LLAMA), ("bert", TINY_BERT)):
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(spec))
    return paths


@pytest.fixture(scope="module")
def tiny(configs):
    torch.set_num_threads(1)
    config, kind = load_config(str(configs["llama"]))
    calibration = calibrate(config, SETTINGS.seq_len, ["fp32", "mixed"], present_cpu())
    return count_architecture("tiny", config, kind), calibration


@pytest.fixture(scope="module")
def one_b(tiny):
    """Llama-3.2-1B's sizes (meta device: no weights) with the tiny model's calibration."""
    config, kind = load_config("llama-3.2-1b")
    return count_architecture("llama-3.2-1b", config, kind), tiny[1]


@pytest.mark.parametrize("name", ["llama", "bert"])
def test_parameter_counts_match_a_real_model_built_from_the_config(configs, name):
    config, kind = load_config(str(configs[name]))
    arch = count_architecture(name, config, kind)
    full, lora = torch_footprint(build_model(config, "full")), \
        torch_footprint(build_model(config, "lora"))
    assert (arch.total_params, arch.lora_trainable, arch.lora_total) == \
        (full.total_params, lora.trainable_params, lora.total_params)
    assert 0 < arch.lora_trainable < arch.total_params
    if kind == "decoder":
        lm = build_model(config, "lm")
        assert arch.lm_total_params == sum(p.numel() for p in lm.parameters())
    else:
        assert arch.lm_total_params is None
    assert (arch.kind, arch.layers) == ({"llama": "decoder", "bert": "encoder"}[name],
                                        config.num_hidden_layers)


def test_the_1b_architecture_has_its_published_size(one_b):
    arch = one_b[0]
    assert (arch.layers, arch.hidden, arch.vocab) == (16, 2048, 128256)
    assert round(arch.lm_total_params / 1e9, 3) == 1.236  # Llama-3.2-1B, tied embeddings


def test_training_flops_formula_equals_what_torch_counts(configs, tiny):
    from torch.utils.flop_counter import FlopCounterMode

    config, _ = load_config(str(configs["llama"]))
    small = reduced_config(config, 2)
    small._attn_implementation = "eager"  # counted as matmuls, as the formula has them
    model = build_model(small, "full").train()
    counter = FlopCounterMode(display=False)
    with counter:
        model(input_ids=torch.randint(1, 512, (1, 32)),
              labels=torch.zeros(1, dtype=torch.long)).loss.backward()
    arch = count_architecture("small", small, "decoder")
    assert training_flops(arch, "full-finetune", 32, 32) == counter.get_total_flops()


@pytest.mark.parametrize("device", ["h100", "t4", "cpu"])
def test_full_finetune_holds_more_than_lora_more_than_qlora(tiny, device):
    arch, calibration = tiny
    target = present_cpu() if device == "cpu" else GPUS[device]
    memory = {s: project_row(arch, calibration, target, s, SETTINGS)["train_memory_gib"]
              for s in ("full-finetune", "lora", "qlora")}
    assert memory["full-finetune"] > memory["lora"] > memory["qlora"] > 0


def test_checkpointing_keeps_layer_inputs_only_and_runs_the_forward_twice(tiny):
    """The saved activations shrink to the layers' inputs and one layer; the FLOPs grow by one
    forward pass."""
    arch, calibration = tiny
    settings = replace(SETTINGS, seq_len=256, train_batch=8)
    compute_only = replace(GPUS["h100"], op_overhead_s=0.0, bandwidth_gb_s=1e12)
    for strategy in ("full-finetune", "lora"):
        plain, kept = (project_row(arch, calibration, compute_only, strategy,
                                   replace(settings, checkpointing=on)) for on in (False, True))
        tokens, element = 8 * 256, 2  # mixed precision on an H100
        per_layer = calibration.activation_bytes[
            f"{'full' if strategy == 'full-finetune' else 'lora'}/mixed"]
        saved = per_layer.total(arch.layers) * tokens
        kept_saved = arch.layers * arch.hidden * element * tokens + (per_layer.per_layer
                                                                      + per_layer.outside) * tokens
        assert (plain["train_memory_gib"] - kept["train_memory_gib"]) * 2**30 == \
            pytest.approx(saved - kept_saved, rel=1e-9)
        assert kept["train_memory_gib"] < plain["train_memory_gib"]
        assert kept["train_tflops"] > plain["train_tflops"]


def test_time_and_flops_scale_linearly_with_tokens(tiny):
    arch, calibration = tiny
    assert training_flops(arch, "lora", 2048, 32) == 2 * training_flops(arch, "lora", 1024, 32)
    # A device bound by compute alone: no launch cost, unlimited bandwidth.
    compute_only = replace(GPUS["t4"], op_overhead_s=0.0, bandwidth_gb_s=1e12)
    small, big = (project_row(arch, calibration, compute_only, "full-finetune",
                              replace(SETTINGS, train_batch=batch)) for batch in (4, 8))
    assert big["ms_per_step"] == pytest.approx(2 * small["ms_per_step"], rel=1e-6)
    assert big["s_per_1k_predictions"] == pytest.approx(small["s_per_1k_predictions"])


def test_a_bigger_device_takes_less_time(one_b):
    # T4 -> A100 -> H100: each has more compute and more bandwidth than the one before (an L4
    # computes faster than a T4 but streams weights slower).
    arch, calibration = one_b
    settings = Settings()
    for strategy in STRATEGIES:
        key = "s_per_1k_predictions" if strategy == "prompting" else "ms_per_step"
        times = [project_row(arch, calibration, GPUS[name], strategy, settings)[key]
                 for name in ("h100", "a100", "t4")]
        assert times[0] < times[1] < times[2], (strategy, times)


def test_a_model_that_does_not_fit_is_flagged(one_b):
    arch, calibration = one_b
    on_t4 = project_row(arch, calibration, GPUS["t4"], "full-finetune", SETTINGS)
    on_h100 = project_row(arch, calibration, GPUS["h100"], "full-finetune", SETTINGS)
    assert on_t4["train_memory_gib"] > GPUS["t4"].memory_gib and on_t4["fits"] is False
    assert on_h100["fits"] is True
    assert project_row(arch, calibration, GPUS["t4"], "qlora", SETTINGS)["fits"] is True


def test_prompting_an_encoder_is_not_projected(configs):
    config, kind = load_config(str(configs["bert"]))
    arch = count_architecture("bert", config, kind)
    calibration = calibrate(config, 16, ["mixed"], present_cpu())
    assert project_row(arch, calibration, GPUS["h100"], "prompting", SETTINGS) is None
    assert project_row(arch, calibration, GPUS["h100"], "lora", SETTINGS)["projected"] is True


def test_unknown_device_and_model_are_one_line_errors(monkeypatch):
    with pytest.raises(HarnessError, match="unknown device 'h1000'.*did you mean 'h100'"):
        resolve_devices("h100,h1000")
    with pytest.raises(HarnessError, match="did you mean 'llama-3.2-1b'"):
        load_config("llama-3.2-1")
    import huggingface_hub.constants

    # Offline at once (the variable is read when huggingface_hub is imported).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HarnessError, match="cannot read the config of 'nobody/no-such-model'"):
        load_config("nobody/no-such-model")
    result = CliRunner().invoke(project_command, ["--device", "h1000", "--no-check"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "h1000" in result.output


def test_the_command_writes_projected_rows_apart_from_measured_ones(configs, tmp_path):
    out = tmp_path / "projection.json"
    result = CliRunner().invoke(project_command, [
        "--model", str(configs["llama"]), "--model", str(configs["bert"]),
        "--device", "h100,t4,cpu", "--seq-len", "32", "--batch-size", "2",
        "--check-batch-size", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    rows, checks = figures["rows"], figures["checks"]
    assert len(rows) == 3 * (4 + 3)  # devices x strategies (no prompting for the encoder)
    assert all(row["projected"] is True and row["kind"] == "projected" for row in rows)
    assert checks and all(row["projected"] is False and row["kind"] == "measured"
                          for row in checks)
    assert all(row["ratio"] > 0 and row["measured"] > 0 for row in checks)
    # A training step's memory is measured, not read as 0 (issue 27: "0/2.14")
    trained = [row for row in checks if row["figure"] == "train_step_ms"]
    assert trained and all(row["measured_memory_gib"] > 0 for row in trained)
    assert {row["usd_per_1k_predictions"] is None for row in rows} == {False}
    assert "projected" in result.output and "measured" in result.output


def test_the_check_measures_only_what_the_chosen_strategies_run(configs):
    result = CliRunner().invoke(project_command, [
        "--model", str(configs["llama"]), "--device", "cpu", "-s", "lora", "--seq-len", "32",
        "--batch-size", "2", "--check-batch-size", "2"])
    assert result.exit_code == 0, result.output
    checked = [line.split("layers)")[1].split()[:2] for line in result.output.splitlines()
               if line.rstrip().endswith(" measured")]
    assert checked == [["lora", "train_step_ms"], ["full-finetune", "s_per_1k_predictions"]]
