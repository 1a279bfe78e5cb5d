"""Shared fixtures: the offline data folder and tiny random models built from configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.api.testing import tiny_model_for

REPO = Path(__file__).resolve().parents[1]
# The hard-negative judge's negatives from 6 validation passages rather than 200: a tiny
# random decoder writes 400 texts in ~100 s (48 sampled tokens over a 49k vocabulary each),
# in every generation cell whose cache is fresh. Cells in child processes inherit it.
os.environ.setdefault("HARNESS_JUDGE_PASSAGES", "6")  # 5-fold CV needs 5 a class


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("HARNESS_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (path / "agnews" / "test.csv").is_file():
        pytest.skip(f"no offline data at {path} (set HARNESS_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_dir):
    return tiny_model_for("encoder", tiny_dir)


@pytest.fixture(scope="session")
def tiny_decoder(tiny_dir):
    return tiny_model_for("decoder", tiny_dir)


@pytest.fixture(scope="session")
def tiny_models(tiny_encoder, tiny_decoder) -> dict:
    return {"encoder": tiny_encoder, "decoder": tiny_decoder, None: None}


@pytest.fixture
def toys():
    """The misbehaving test strategies of toy_strategies.py, registered for one test."""
    import toy_strategies
    from harness.api import registry

    for cls in toy_strategies.ALL:
        registry.register(cls)
    yield
    for cls in toy_strategies.ALL:
        registry.unregister(cls.name)


# The example plugins' own tests run from test_plugin.py, once the plugin is installed.
collect_ignore = ["plugin", "plugin_legacy"]
