"""`harness run --backend api` end to end against a local OpenAI-compatible server (the tests
in test_vllm_api.py use a real `vllm serve`): the endpoint is in the cell's identity and the
record, the API key nowhere; a re-run is answered by the cache (the server sees nothing) and
the report says its times are not the endpoint's; the price file prices its tokens; a dead
endpoint fails the cell in one line; the grid file carries the endpoint."""

import json

import pytest
from test_api_client import Server
from test_cli import harness
from test_runs_as_data import run_args

from harness.results.store import Store


def echo(body):
    """Echoed prompts with a log-prob per token that depends on the token: labels differ; a
    chat request is answered with a label word."""
    if "messages" in body:
        return 200, {"choices": [{"message": {"content": "Sports, I would say."}}],
                     "usage": {"prompt_tokens": 50, "completion_tokens": 5}}, {}
    if not body.get("echo"):  # a continuation to write
        return 200, {"choices": [{"index": 0, "text": " and thus the night did end."}],
                     "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 7}}, {}
    if body["prompt"] and isinstance(body["prompt"][0], int):  # one prompt, not a list of them
        body = {**body, "prompt": [body["prompt"]]}
    choices = [{"index": k, "logprobs": {"token_logprobs": [None] + [
        -((t * 7919) % 13) / 10 for t in ids[1:]]}} for k, ids in enumerate(body["prompt"])]
    return 200, {"choices": choices, "usage": {"prompt_tokens": sum(map(len, body["prompt"])),
                                               "completion_tokens": len(body["prompt"])}}, {}


@pytest.fixture
def server():
    running = Server()
    running.default = echo
    yield running
    running.close()


def api_run(server, tiny_decoder, data_dir, out, *more):
    return harness(*run_args(data_dir, out, "-s", "zero-shot", "-t", "agnews", "--n-eval", 12,
                             "--model", f"decoder={tiny_decoder.source}", "--backend", "api",
                             "--api-base", server.url, "--api-model", "served-name",
                             "--api-key-env", "MY_API_KEY", *more))


def test_a_run_on_an_endpoint_is_recorded_repeated_from_the_cache_and_priced(
        server, tiny_decoder, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MY_API_KEY", "sk-secret-value")
    done = api_run(server, tiny_decoder, data_dir, tmp_path)
    assert done.exit_code == 0, done.output
    [record] = Store(tmp_path / "results").records()
    assert record["status"] == "ok" and record["backend"] == "api"
    assert record["endpoint"] == {"base_url": server.url, "model": "served-name",
                                  "mode": "auto"}
    assert record["footprint_api_mode"] == "logprobs"
    assert record["footprint_api_requests_cached"] == 0 and record["footprint_api_rows"] >= 12
    assert record.get("precision", "fp32") == "fp32" and record["weight_bytes"] == 0
    sent = len(server.requests)
    assert all(path == "/v1/completions" for path, _, _ in server.requests)
    assert all(body["model"] == "served-name" for _, body, _ in server.requests)
    # again, forced: every answer from the cache, and the report says what that means
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"api_tokens_usd_per_million": {
        "served-name": {"input": 1.0, "output": 2.0}}}))
    again = api_run(server, tiny_decoder, data_dir, tmp_path, "--force", "--prices", prices)
    assert again.exit_code == 0, again.output
    assert len(server.requests) == sent
    records = Store(tmp_path / "results").records()
    latest = max(records, key=lambda r: r["started_at"])
    assert latest["footprint_api_requests_sent"] == 0
    # one request per row scored, every one answered by the cache (the first run's count is no
    # yardstick: the runner samples latency until its median settles, a run-dependent number
    # of rows, and the cached answers come back faster)
    assert latest["footprint_api_requests_cached"] == latest["footprint_api_rows"] > 12
    assert record["footprint_api_requests_sent"] == record["footprint_api_rows"]
    assert latest["key"] == record["key"]  # the same cell
    report = (tmp_path / "reports" / "agnews.md").read_text()
    assert "prompted through " + server.url in report
    assert "requests were answered from the response cache**" in report
    per_row = (latest["footprint_api_prompt_tokens_per_row"]
               + 2 * latest["footprint_api_completion_tokens_per_row"]) / 1e6
    board = (tmp_path / "reports" / "agnews.csv").read_text()
    assert f"{per_row * 1000:.6g}"[:5] in board.replace(",", " ")  # USD per 1k predictions
    # another mode of the same endpoint is another row, named by what it read
    generated = api_run(server, tiny_decoder, data_dir, tmp_path, "--api-mode", "generate")
    assert generated.exit_code == 0, generated.output
    report = (tmp_path / "reports" / "agnews.md").read_text()
    assert "| zero-shot on api: served-name, logprobs (" in report
    assert "| zero-shot on api: served-name, generate (" in report
    advice = harness("recommend", "-t", "agnews", "--results", tmp_path / "results",
                     "--max-latency-ms", "100000")
    assert advice.exit_code == 0, advice.output
    assert "zero-shot on api: served-name, logprobs (" in advice.output
    assert "zero-shot on api: served-name, generate (" in advice.output
    everything = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert not any("sk-secret-value" in text for text in everything)


def test_a_generation_task_is_written_and_scored_through_the_endpoint(
        server, tiny_decoder, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    done = harness(*run_args(data_dir, tmp_path, "-s", "zero-shot", "-t", "shakespeare",
                             "--n-eval", 6, "--model", f"decoder={tiny_decoder.source}",
                             "--backend", "api", "--api-base", server.url,
                             "--api-model", "served-name"))
    assert done.exit_code == 0, done.output
    [record] = Store(tmp_path / "results").records()
    assert record["status"] == "ok" and record["footprint_api_mode"] == "completions"
    assert record["perplexity"] > 1 and record["generated_tokens_mean"] == 7
    assert record["footprint_api_completion_tokens_per_row"] == 7
    frame = Store(tmp_path / "results").predictions(record["key"])
    assert set(frame["prediction"]) == {"and thus the night did end."}
    sampled = [body for path, body, _ in server.requests if not body.get("echo")]
    assert all(body["temperature"] == 0.8 and "seed" in body for body in sampled)
    assert len({body["seed"] for body in sampled}) > 1  # a draw per row


def test_few_shot_sends_its_demonstrations_through_the_endpoint(server, tiny_decoder, data_dir,
                                                                 tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    done = harness(*run_args(data_dir, tmp_path, "-s", "few-shot", "-t", "agnews",
                             "--n-train", 16, "--n-eval", 6, "-c", "few-shot.trials=2",
                             "--model", f"decoder={tiny_decoder.source}", "--backend", "api",
                             "--api-base", server.url, "--api-model", "served-name"))
    assert done.exit_code == 0, done.output
    [record] = Store(tmp_path / "results").records()
    assert record["status"] == "ok" and record["footprint_api_mode"] == "logprobs"
    assert record["trials"] == 2
    frame = Store(tmp_path / "results").predictions(record["key"])
    # the prompt kept per row holds its demonstrations, as the local backends' do
    assert (frame["prompt"].str.len() > frame["text"].str.len() + 200).all()
    sent = [body for path, body, _ in server.requests if path == "/v1/completions"]
    assert max(len(ids) for body in sent for ids in body["prompt"]) > 200  # shots included


def test_a_dead_endpoint_fails_the_cell_in_one_line(tiny_decoder, data_dir, tmp_path,
                                                    monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    dead = Server()
    dead.close()  # its port now refuses connections
    done = harness(*run_args(data_dir, tmp_path, "-s", "zero-shot", "-t", "agnews",
                             "--n-eval", 12, "--model", f"decoder={tiny_decoder.source}",
                             "--backend", "api", "--api-base", dead.url, "--api-model", "m",
                             "--api-mode", "logprobs", "--api-retries", "0"))
    [record] = Store(tmp_path / "results").records()
    assert record["status"] == "failed"
    assert record["error"].startswith(f"EndpointError: {dead.url}/completions failed after 1 "
                                      f"attempt(s): ConnectionRefusedError")
    assert "1 failed" in done.output


@pytest.mark.parametrize("args, message", [
    (["--backend", "api"], "--backend api prompts an OpenAI-compatible endpoint: give its URL "
                           "with --api-base"),
    (["--backend", "api", "--api-base", "http://127.0.0.1:9/v1"], "--api-base needs "
                                                                  "--api-model"),
    (["--api-model", "m"], "--api-model names the model of an endpoint"),
    (["--backend", "api", "--api-base", "ftp://x", "--api-model", "m"],
     "is not an http(s) URL")])
def test_an_incomplete_endpoint_is_one_line_before_anything_runs(data_dir, tmp_path, args,
                                                                 message):
    done = harness(*run_args(data_dir, tmp_path, "-s", "zero-shot", "-t", "agnews", *args))
    assert done.exit_code != 0 and message in done.output
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("*.json"))


def test_the_grid_file_carries_the_endpoint_and_not_its_client_settings(data_dir, tmp_path):
    dumped = harness("run", "-s", "zero-shot", "-t", "agnews", "--backend", "api",
                     "--api-base", "http://127.0.0.1:8000/v1", "--api-model", "m",
                     "--api-concurrency", "3", "--dump-grid")
    assert dumped.exit_code == 0, dumped.output
    assert "api_base: http://127.0.0.1:8000/v1\napi_model: m\napi_mode: auto\n" in dumped.output
    assert "concurrency" not in dumped.output
    plain = harness("run", "-s", "zero-shot", "-t", "agnews", "--dump-grid")
    assert "api_" not in plain.output
