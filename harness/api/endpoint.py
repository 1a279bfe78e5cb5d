"""An OpenAI-compatible endpoint that a prompting strategy's `api` backend sends its prompts to
(`harness run --backend api --api-base URL`): a hosted provider (OpenAI, Together, ...) or a
server of your own (`vllm serve`, llama.cpp's server).

    endpoint = Endpoint("http://127.0.0.1:8000/v1", model="smollm2")
    endpoint.identity()   # what the cell's key holds: base URL, model, mode (never the key)

Which of its fields change the numbers (base URL, model, mode) are in the cell's identity; how
the client behaves (requests at once, timeout, retries) is not. The API key is read from the
environment variable `key_env` when a request is sent, and is never stored in a record, a
cache file or a report.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from harness.errors import HarnessError

# How label scores are read from the endpoint:
# logprobs: the completions API with the prompt echoed and its log-probabilities returned
#   (`echo`, `logprobs`): each label word's tokens after the prompt, summed -- exact, the same
#   numbers an in-process model gives. vLLM, llama.cpp and legacy OpenAI completions models.
# generate: a chat completion at temperature 0, its answer parsed for a label word (the label
#   words are listed in the prompt); an answer naming none is a counted parse failure.
# auto: logprobs where the endpoint returns prompt log-probabilities, else generate.
MODES = ("auto", "logprobs", "generate")
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # up to and including /v1
    model: str  # the model name the endpoint serves
    mode: str = "auto"
    key_env: str = DEFAULT_KEY_ENV  # the environment variable holding the API key, if any
    concurrency: int = 8  # requests in flight at once
    timeout_s: float = 120.0  # per request
    retries: int = 5  # after the first try, on 429, 5xx, timeouts and dropped connections
    backoff_s: float = 1.0  # the first retry's wait; doubled each time (a Retry-After wins)

    def __post_init__(self):
        if not isinstance(self.base_url, str) or not _URL.fullmatch(self.base_url.strip()):
            raise HarnessError(f"--api-base {self.base_url!r} is not an http(s) URL, e.g. "
                               f"http://127.0.0.1:8000/v1")
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        if not isinstance(self.model, str) or not self.model.strip():
            raise HarnessError("--api-model: the endpoint's model name is empty")
        if self.mode not in MODES:
            raise HarnessError(f"--api-mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not isinstance(self.key_env, str) or not _ENV.fullmatch(self.key_env):
            raise HarnessError(f"--api-key-env {self.key_env!r} is not an environment variable "
                               f"name")
        for name, low in (("concurrency", 1), ("retries", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise HarnessError(f"--api-{name} must be an integer >= {low}, got {value!r}")
        for name in ("timeout_s", "backoff_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (name == "timeout_s"
                                                                 and value == 0):
                raise HarnessError(f"--api-{name.removesuffix('_s')} must be a positive number "
                                   f"of seconds, got {value!r}")

    def identity(self) -> dict:
        """What changes the numbers a cell on this endpoint gives."""
        return {"base_url": self.base_url, "model": self.model, "mode": self.mode}
