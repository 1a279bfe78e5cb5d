"""A client for an OpenAI-compatible endpoint (harness.api.endpoint), as a long evaluation
needs one: requests in flight at once up to a limit, retries with exponential backoff on 429,
5xx, timeouts and dropped connections (a Retry-After header wins), and a response cache on disk
keyed on (endpoint, model, request), so that a resumed or repeated run never pays twice (its
times then are not the endpoint's: the record counts the requests the cache answered).

    client = EndpointClient(endpoint, cache=cache_dir() / "api")
    responses = client.post_many("/completions", bodies)   # in order; cached ones not sent
    client.usage   # requests sent and answered from the cache, tokens, retries

Standard library only: it runs in the main environment and in .venv-vllm alike. Every response
is cached as it arrives, so a run that fails part-way keeps what it was answered.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from harness.api.endpoint import Endpoint
from harness.paths import cache_dir, write_atomic

RETRIED_STATUS = (408, 409, 429, 500, 502, 503, 504)
MAX_WAIT_S = 60.0


class EndpointError(RuntimeError):
    """A request the endpoint refused, or one that failed every retry: one line, with the
    status and the endpoint's own message."""


@dataclass
class Usage:
    """What the requests cost, from the responses' `usage`: `prompt_tokens` and
    `completion_tokens` count every response the predictions needed, cached or not (what the
    predictions cost as served); `sent` and `cached` say which paid this time."""

    sent: int = 0
    cached: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, response: dict, cached: bool) -> None:
        usage = response.get("usage") or {}
        with self.lock:
            self.cached += cached
            self.sent += not cached
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)

    def fields(self) -> dict:
        return {"api_requests_sent": self.sent, "api_requests_cached": self.cached,
                "api_retries": self.retries, "api_prompt_tokens": self.prompt_tokens,
                "api_completion_tokens": self.completion_tokens}


class EndpointClient:
    def __init__(self, endpoint: Endpoint, cache: Path | None):
        self.endpoint, self.cache = endpoint, cache
        self.usage = Usage()
        # Requests this client sent: asked again, they are sent again, so that the runner's
        # latency samples and then its timed predictions of the same rows each time the
        # endpoint. The cache serves what an earlier run was answered.
        self._sent: set[Path] = set()

    def post(self, path: str, body: dict) -> dict:
        """One request's JSON response, from the cache when it was answered before."""
        body = {"model": self.endpoint.model, **body}
        stored = self._cache_path(path, body)
        if stored is not None and stored not in self._sent and stored.is_file():
            try:
                response = json.loads(stored.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # a torn or foreign file: ask again
                response = None
            if isinstance(response, dict):
                self.usage.add(response, cached=True)
                return response
        response = self._send(path, body)
        if stored is not None:
            self._sent.add(stored)
            stored.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(stored, json.dumps(response).encode())
        self.usage.add(response, cached=False)
        return response

    def post_many(self, path: str, bodies: list[dict]) -> list[dict]:
        """The responses in the bodies' order, up to `concurrency` requests at once. The first
        failure stops the rest (those answered are cached) and is raised."""
        if len(bodies) <= 1 or self.endpoint.concurrency == 1:
            return [self.post(path, body) for body in bodies]
        with ThreadPoolExecutor(self.endpoint.concurrency) as pool:
            futures = [pool.submit(self.post, path, body) for body in bodies]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                for future in pending:
                    future.cancel()
                raise failed.exception()
        return [future.result() for future in futures]

    def _cache_path(self, path: str, body: dict) -> Path | None:
        if self.cache is None:
            return None
        # The key leaves out how the client behaves (timeouts, retries) and the API key
        request = json.dumps({"base_url": self.endpoint.base_url, "path": path, "body": body},
                             sort_keys=True)
        digest = hashlib.sha256(request.encode()).hexdigest()
        return self.cache / digest[:2] / f"{digest}.json"

    def _send(self, path: str, body: dict) -> dict:
        endpoint = self.endpoint
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(endpoint.key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        last = "no attempt"
        for attempt in range(endpoint.retries + 1):
            if attempt:
                with self.usage.lock:
                    self.usage.retries += 1
            request = urllib.request.Request(endpoint.base_url + path, data=data,
                                             headers=headers, method="POST")
            wait_s = None
            try:
                with urllib.request.urlopen(request, timeout=endpoint.timeout_s) as reply:
                    text = reply.read().decode("utf-8", errors="replace")
            except urllib.error.HTTPError as err:
                message = _message(err)
                if err.code not in RETRIED_STATUS:
                    raise EndpointError(f"{endpoint.base_url}{path} answered {err.code}: "
                                        f"{message}") from None
                last, wait_s = f"{err.code}: {message}", _retry_after(err)
            except OSError as err:  # URLError, timeouts, refused and dropped connections
                reason = getattr(err, "reason", err)
                last = f"{type(reason).__name__}: {reason}"
            else:
                try:
                    response = json.loads(text)
                except ValueError:
                    raise EndpointError(f"{endpoint.base_url}{path} answered with something "
                                        f"other than JSON: {text[:120]!r}") from None
                if not isinstance(response, dict):
                    raise EndpointError(f"{endpoint.base_url}{path} answered {text[:120]!r}")
                return response
            if attempt < endpoint.retries:
                backoff = endpoint.backoff_s * 2 ** attempt * (0.5 + random.random() / 2)
                time.sleep(min(wait_s if wait_s is not None else backoff, MAX_WAIT_S))
        raise EndpointError(f"{endpoint.base_url}{path} failed after {endpoint.retries + 1} "
                            f"attempt(s): {last}")


def _message(err: urllib.error.HTTPError) -> str:
    """The endpoint's error message (OpenAI's {"error": {"message": ...}}), one line."""
    try:
        text = err.read().decode("utf-8", errors="replace")
    except OSError:
        text = ""
    try:
        detail = json.loads(text)
        detail = detail.get("error", detail) if isinstance(detail, dict) else detail
        text = detail.get("message", text) if isinstance(detail, dict) else str(detail)
    except ValueError:
        pass
    return " ".join(str(text or err.reason).split())[:300]


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date: back off as usual


API_CACHE_ENV = "HARNESS_API_CACHE"


def open_client(endpoint: Endpoint) -> EndpointClient:
    """A client whose responses are cached in $HARNESS_API_CACHE, else the harness cache's
    api/ folder."""
    return EndpointClient(endpoint, cache=Path(os.environ.get(API_CACHE_ENV)
                                               or cache_dir() / "api"))
