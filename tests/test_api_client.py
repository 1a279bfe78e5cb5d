"""The api backend's client and scorer against a small local HTTP server that answers as an
OpenAI-compatible endpoint would, or fails as one does: retries with backoff on 429 and 5xx
(a Retry-After wins), a refused request failing at once with the endpoint's message, a
timeout, the response cache (a second client sends nothing; the API key is in no cache file),
and generate mode's answers parsed for a label word, a failure counted."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from harness.api.endpoint import Endpoint
from harness.errors import HarnessError
from strategies.api_client import EndpointClient, EndpointError
from strategies.api_scoring import NOT_NAMED, ApiLabelScorer


class Server:
    """Answers each POST with the next scripted reply: (status, body, headers) or a callable
    of the request body; records every request it was sent."""

    def __init__(self):
        self.script, self.requests, self.default = [], [], None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, dict(self.headers)))
                reply = server.script.pop(0) if server.script else server.default
                if callable(reply):
                    reply = reply(body)
                status, payload, headers = reply
                if status == "sleep":
                    time.sleep(payload)
                    status, payload, headers = 200, {"choices": []}, {}
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()  # its port refuses connections from now on


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def endpoint(server, **kw) -> Endpoint:
    return Endpoint(server.url, "m", **{"backoff_s": 0.01, "concurrency": 1, **kw})


OK = (200, {"choices": [{"index": 0, "text": "x"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1}}, {})


def test_429_and_5xx_are_retried_with_backoff_and_a_retry_after_is_honoured(server, tmp_path):
    server.script = [(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.3"}),
                     (503, {"error": {"message": "overloaded"}}, {}), OK]
    client = EndpointClient(endpoint(server), cache=None)
    started = time.perf_counter()
    assert client.post("/completions", {"prompt": "a"})["choices"][0]["text"] == "x"
    assert time.perf_counter() - started >= 0.3  # the Retry-After, not 0.01 s
    assert len(server.requests) == 3 and client.usage.retries == 2
    assert client.usage.fields()["api_prompt_tokens"] == 7


def test_a_refused_request_fails_at_once_with_the_endpoint_s_message(server):
    server.script = [(400, {"error": {"message": "model 'm' does not exist"}}, {})]
    client = EndpointClient(endpoint(server), cache=None)
    with pytest.raises(EndpointError, match="answered 400: model 'm' does not exist"):
        client.post("/completions", {"prompt": "a"})
    assert len(server.requests) == 1


def test_retries_run_out_on_a_timeout_with_a_one_line_reason(server):
    server.default = ("sleep", 1.0, {})
    client = EndpointClient(endpoint(server, timeout_s=0.2, retries=1), cache=None)
    with pytest.raises(EndpointError, match=r"failed after 2 attempt\(s\): .*timed out"):
        client.post("/completions", {"prompt": "a"})


def test_the_cache_answers_a_second_client_and_holds_no_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_ENV", "sk-do-not-store")
    server.default = OK
    ask = endpoint(server, key_env="SECRET_ENV", concurrency=4)
    first = EndpointClient(ask, cache=tmp_path)
    bodies = [{"prompt": f"row {i}"} for i in range(6)]
    assert len(first.post_many("/completions", bodies)) == 6
    assert server.requests[0][2]["Authorization"] == "Bearer sk-do-not-store"
    # asked again by the same client (the runner's latency rows, then its timed predictions)
    first.post("/completions", bodies[0])
    assert len(server.requests) == 7 and first.usage.cached == 0
    second = EndpointClient(ask, cache=tmp_path)
    second.post_many("/completions", bodies)
    assert len(server.requests) == 7
    assert second.usage.fields() == {"api_requests_sent": 0, "api_requests_cached": 6,
                                     "api_retries": 0, "api_prompt_tokens": 42,
                                     "api_completion_tokens": 6}
    stored = [path.read_text() for path in tmp_path.rglob("*.json")]
    assert len(stored) == 6 and not any("sk-do-not-store" in text for text in stored)
    # another model is another cache entry
    EndpointClient(Endpoint(server.url, "other", backoff_s=0.01), cache=tmp_path).post(
        "/completions", bodies[0])
    assert len(server.requests) == 8


def test_a_failure_mid_batch_keeps_the_answers_already_cached(server, tmp_path):
    def reply(body):
        return (500, {"error": {"message": "died"}}, {}) if body["prompt"] == "row 3" else OK

    server.default = reply
    client = EndpointClient(endpoint(server, retries=0), cache=tmp_path)
    with pytest.raises(EndpointError, match="answered 500|failed after 1 attempt"):
        client.post_many("/completions", [{"prompt": f"row {i}"} for i in range(6)])
    assert len(list(tmp_path.rglob("*.json"))) == 3  # rows 0-2, asked one at a time


class Words:
    """A tokenizer for LabelPrompts without a model: one id per character, no chat template."""

    chat_template = None

    def __call__(self, text, add_special_tokens=True):
        class Encoded:
            input_ids = [ord(c) % 1000 for c in text]
        return Encoded()


def test_generate_mode_parses_the_first_label_word_and_counts_failures(server):
    answers = iter(["Sports.", "I think it is business news", "no idea", "World, or Sports"])
    server.default = lambda body: (200, {"choices": [{"message": {"content": next(answers)}}],
                                         "usage": {"prompt_tokens": 20,
                                                   "completion_tokens": 3}}, {})
    scorer = ApiLabelScorer(EndpointClient(endpoint(server, mode="generate"), cache=None),
                            Words(), ["World", "Sports", "Business", "Technology"],
                            use_chat_template=False)
    prompts = [scorer.render(f"text {i}") for i in range(4)]
    scores = scorer.score(prompts)
    assert list(scores.argmax(axis=1)) == [1, 2, 0, 0]
    assert np.array_equal(scores[2], np.zeros(4)) and scores[0, 0] == NOT_NAMED
    assert not scorer.log_probabilities
    assert scorer.usage()["api_parse_failures"] == 1
    assert scorer.usage()["api_prompt_tokens_per_row"] == 20
    assert server.requests[0][1]["messages"] == [{"role": "user", "content": "text 0"}]


def test_logprobs_mode_sums_each_label_s_tokens_after_the_prompt(server):
    def echo(body):
        # every token's log-prob is -0.1 x its position: the label's are the last ones
        choices = [{"index": k, "logprobs": {"token_logprobs": [None] + [
            -0.1 * i for i in range(1, len(ids))]}} for k, ids in enumerate(body["prompt"])]
        return 200, {"choices": choices}, {}

    server.default = echo
    scorer = ApiLabelScorer(EndpointClient(endpoint(server, mode="logprobs"), cache=None),
                            Words(), ["ab", "cde"], use_chat_template=False)
    prompt = scorer.render("xy")
    n = len(scorer.prompt_ids(prompt))
    labels = [len(ids) for ids in scorer.label_ids]
    expected = [-0.1 * sum(range(n, n + length)) for length in labels]
    np.testing.assert_allclose(scorer.score([prompt])[0], expected)
    assert server.requests[0][1]["echo"] is True and server.requests[0][1]["max_tokens"] == 0


def test_auto_falls_back_to_generate_where_the_endpoint_echoes_nothing(server):
    server.script = [(400, {"error": {"message": "echo is not supported"}}, {})]
    server.default = (200, {"choices": [{"message": {"content": "cde"}}]}, {})
    scorer = ApiLabelScorer(EndpointClient(endpoint(server), cache=None), Words(),
                            ["ab", "cde"], use_chat_template=False)
    assert scorer.resolve_mode(scorer.render("probe")) == "generate"
    assert scorer.client.usage.sent == 0  # the probe is no prediction's cost
    assert scorer.score([scorer.render("q")]).argmax() == 1


@pytest.mark.parametrize("field, value, message", [
    ("base_url", "localhost:8000", "is not an http(s) URL"),
    ("mode", "chat", "--api-mode 'chat' is not one of auto, logprobs, generate"),
    ("key_env", "MY KEY", "is not an environment variable name"),
    ("concurrency", 0, "--api-concurrency must be an integer >= 1"),
    ("timeout_s", float("nan"), "--api-timeout must be a positive number")])
def test_a_bad_endpoint_setting_is_one_line(field, value, message):
    given = {"base_url": "http://h/v1", "model": "m", field: value}
    with pytest.raises(HarnessError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Endpoint(**given)
