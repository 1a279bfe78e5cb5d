"""Choosing a backend: per strategy, named in the cell's identity only when not the default,
and a clear error when the backend is missing or the strategy does not have it."""

import pytest

from harness.api import backends, registry
from harness.errors import HarnessError
from harness.plan.grid import build_cells
from harness.plan.request import GridRequest


def test_a_strategy_runs_on_its_first_backend_unless_asked():
    zero_shot, tfidf = registry.get("zero-shot"), registry.get("tfidf-logreg")
    assert backends.choose("zero-shot", zero_shot, None, named=True) == "hf"
    assert backends.choose("zero-shot", zero_shot, "vllm", named=True) == "vllm"
    # Taken in by `all`: a strategy without the backend keeps its own; named, it is an error.
    assert backends.choose("tfidf-logreg", tfidf, "vllm", named=False) == "scikit-learn"
    with pytest.raises(HarnessError, match="'tfidf-logreg' has no 'vllm' backend"):
        backends.choose("tfidf-logreg", tfidf, "vllm", named=True)


def test_missing_backend_says_how_to_install_it(monkeypatch, data_dir):
    monkeypatch.setitem(backends._NEEDS, "vllm", ("no_such_module_here", "install it like so"))
    with pytest.raises(HarnessError, match="install it like so"):
        build_cells(GridRequest(tasks=["agnews"], strategies="zero-shot", n_train=8, n_eval=8,
                                data_dir=data_dir, backend="vllm"))


def test_the_backend_is_in_the_identity_and_a_non_default_one_in_the_name(monkeypatch,
                                                                          data_dir):
    monkeypatch.setitem(backends._NEEDS, "vllm", ("json", ""))  # any importable module
    common = dict(tasks=["agnews"], n_train=8, n_eval=8, data_dir=data_dir)
    plain, = build_cells(GridRequest(strategies="zero-shot", **common))
    hf, = build_cells(GridRequest(strategies="zero-shot", backend="hf", **common))
    vllm, = build_cells(GridRequest(strategies="zero-shot", backend="vllm", **common))
    assert plain.key == hf.key and hf.identity()["backend"] == "hf"
    assert vllm.key != hf.key and "__zero-shot-vllm__" in vllm.key
    assert vllm.identity()["backend"] == "vllm" and "· vllm ·" in vllm.label
    cells = build_cells(GridRequest(strategies="all", backend="vllm", **common))
    chosen = {cell.strategy: cell.backend for cell in cells}
    assert chosen["few-shot"] == chosen["instruction-tuned"] == "vllm"
    assert chosen["full-finetune"] == "hf" and chosen["tfidf-logreg"] == "scikit-learn"
