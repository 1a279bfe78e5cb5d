"""Reports from synthetic records: re-pricing without re-running, cost and memory columns,
rows that must not pool, and notes when records come from different code or machines."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cost import DEFAULT_PRICES_USD_PER_HOUR
from harness.report import write_reports
from harness.report.tables import leaderboard
from harness.store import Store

LABELS = ("neg", "pos")
CODE = {"distribution": "adapt-harness", "version": "0.4.0", "sources_sha": "a" * 40}
SOURCE = "GGUF Q4_1 de-quantized to float32"


def record(strategy: str, seed: int = 0, **fields) -> dict:
    """A finished cell as the runner writes it; seconds chosen so costs are round numbers."""
    key = f"sst2__{strategy}__seed{seed}__{abs(hash(json.dumps(fields, sort_keys=True))) % 10**8}"
    return {
        "key": key, "status": "ok", "task": "sst2", "strategy": strategy, "model": "tiny",
        "model_source": SOURCE, "seed": seed, "config": {"lr": 0.001}, "n_train": 8,
        "n_eval": 4, "train_fingerprint": "t1", "eval_fingerprint": "e1",
        "accuracy": 0.75, "accuracy_ci_low": 0.5, "accuracy_ci_high": 1.0, "macro_f1": 0.7,
        "per_class_f1": {"neg": 0.7, "pos": 0.7}, "confusion_matrix": [[2, 0], [1, 1]],
        "throughput_eps": 10.0, "latency_p50_ms": 5.0, "latency_p95_ms": 9.0,
        "latency_samples": 4, "device": "cpu", "device_name": "Intel Xeon", "cpu_threads": 2,
        "host_cpu_count": 2, "setup_s": 1800.0, "load_s": 600.0, "fit_s": 3000.0,
        "predict_s": 36.0, "n_predictions": 1000, "fit_shared_by": 1,
        "rss_baseline_bytes": 500 * 2**20, "rss_peak_bytes": 520 * 2**20,
        "rss_above_baseline_bytes": 20 * 2**20, "weight_bytes": 2**20,
        "base_weight_bytes": None, "artifact_bytes": 0, "trainable_params": 10,
        "total_params": 100, "code": CODE, "packages": {"torch": "2.6.0"},
        "started_at": "2026-12-01T10:00:00+0000", **fields,
    }


def save(store: Store, rec: dict) -> None:
    predictions = pd.DataFrame({"index": range(4), "text": ["good", "bad", "fine", "awful"],
                                "label": [1, 0, 1, 0], "prediction": [1, 0, 0, 0],
                                "score_neg": [-2.0, -0.1, -0.2, -0.1],
                                "score_pos": [-0.1, -2.0, -1.0, -3.0]})
    store.save(rec, predictions)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def report(store: Store, out, *extra) -> tuple[str, str]:
    result = CliRunner().invoke(main, ["report", "--results", str(store.root), "--out", str(out),
                                       *map(str, extra)])
    assert result.exit_code == 0, result.output
    return (out / "sst2.md").read_text(), (out / "sst2.html").read_text()


def leaderboard_rows(markdown: str) -> list[dict]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| strategy |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def test_report_prices_with_a_doubled_table_doubles_every_cost(store, tmp_path):
    save(store, record("tfidf-logreg"))
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200", load_s=720.0,
                       fit_s=0.0, cuda_peak_reserved_bytes=300 * 2**20))  # $0.70 at $3.50/h
    double = tmp_path / "double.json"
    double.write_text(json.dumps({k: 2 * v for k, v in DEFAULT_PRICES_USD_PER_HOUR.items()}))
    once = leaderboard_rows(report(store, tmp_path / "once")[0])
    twice = leaderboard_rows(report(store, tmp_path / "twice", "--prices", double)[0])
    cost_headers = [h for h in once[0] if "USD" in h]
    assert cost_headers == ["set-up (USD, once)", "fit (USD)", "USD per 1k predictions"]
    for before, after in zip(once, twice):
        for header in cost_headers:
            assert float(after[header]) == pytest.approx(2 * float(before[header])), header
        assert {k: v for k, v in before.items() if k not in cost_headers} == \
               {k: v for k, v in after.items() if k not in cost_headers}
    tfidf = next(row for row in once if row["strategy"] == "tfidf-logreg")
    assert float(tfidf["fit (USD)"]) == pytest.approx(0.09)  # one hour on 2 cores at $0.045


def test_a_bad_price_file_fails_in_one_line_before_anything_runs(store, tmp_path):
    save(store, record("tfidf-logreg"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cpu_core": "cheap"}))
    result = CliRunner().invoke(main, ["report", "--results", str(store.root),
                                       "--out", str(tmp_path / "out"), "--prices", str(bad)])
    assert result.exit_code == 2 and "bad entries: cpu_core" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["run", "-s", "tfidf-logreg", "--out", str(tmp_path / "r"),
                                       "--reports", str(tmp_path / "rep"), "--prices", str(bad)])
    assert result.exit_code == 2 and "bad entries: cpu_core" in result.output
    assert not (tmp_path / "r").exists() and not (tmp_path / "rep").exists()


def test_memory_columns_and_notes(store, tmp_path):
    save(store, record("tfidf-logreg"))
    markdown, _ = report(store, tmp_path / "cpu-only")
    row = leaderboard_rows(markdown)[0]
    assert row["RAM above baseline (MiB)"] == "20" and "GPU reserved (MiB)" not in row
    assert "the baseline (interpreter and libraries" in markdown
    assert "(it was 500 MiB here)" in markdown
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200",
                       cuda_peak_reserved_bytes=300 * 2**20,
                       footprint_vllm_reserved_bytes=1024 * 2**20))
    markdown, _ = report(store, tmp_path / "with-gpu")
    rows = {r["strategy"]: r for r in leaderboard_rows(markdown)}
    assert rows["zero-shot"]["GPU reserved (MiB)"] == "300 (vLLM 1024)"
    assert rows["tfidf-logreg"]["GPU reserved (MiB)"] == "-"
    assert "GPU reserved: peak memory held by PyTorch's CUDA allocator" in markdown


def test_records_of_different_code_versions_get_a_note(store, tmp_path):
    # Each strategy's sources hash is its own: strategies differing in it is no warning.
    save(store, record("tfidf-logreg", packages={"scikit-learn": "1.6.0"}))
    save(store, record("knn", code={**CODE, "sources_sha": "b" * 40}))
    save(store, record("zero-shot", device="cuda", device_name="NVIDIA H200"))
    markdown, _ = report(store, tmp_path / "same")
    assert "code versions" not in markdown and "Package versions differ" not in markdown
    assert "different devices" not in markdown
    # A second seed of knn made by other code, other torch, on another CPU.
    save(store, record("knn", seed=1, code={**CODE, "sources_sha": "c" * 40},
                       packages={"torch": "2.5.1"}, device_name="AMD EPYC"))
    markdown, html = report(store, tmp_path / "mixed")
    note = ("Records of one strategy come from different code versions: knn (2: adapt-harness "
            "0.4.0 sources bbbbbbbbbbbb, adapt-harness 0.4.0 sources cccccccccccc); compare "
            "with care.")
    assert note in markdown and note in html
    assert "torch 2.5.1 (knn), 2.6.0 (knn, zero-shot)" in markdown
    assert "different devices of one kind: cpu: AMD EPYC (knn), Intel Xeon (knn, " in markdown


def test_records_differing_only_in_model_source_are_two_rows(store, tmp_path):
    hub = "hub HuggingFaceTB/SmolLM2-135M-Instruct@0123456789abcdef0123456789abcdef01234567"
    save(store, record("zero-shot", accuracy=0.75))
    save(store, record("zero-shot", model_source=hub, accuracy=0.5))
    ok = pd.DataFrame(store.records())
    board = leaderboard(ok, store)
    assert len(board) == 2 and (board["seeds"] == 1).all()
    rows = leaderboard_rows(report(store, tmp_path / "out")[0])
    assert [r["model source"] for r in rows] == [
        SOURCE, "hub HuggingFaceTB/SmolLM2-135M-Instruct@0123456"]


def test_seeds_pool_and_a_superseded_record_is_left_out(store, tmp_path):
    save(store, record("knn", seed=0, accuracy=0.5))
    save(store, record("knn", seed=1, accuracy=0.7))
    # The same cell recomputed after a code change: a new key, a newer record.
    save(store, record("knn", seed=1, accuracy=0.9, started_at="2026-12-02T10:00:00+0000",
                       code={**CODE, "sources_sha": "c" * 40}))
    markdown, _ = report(store, tmp_path / "out")
    [row] = leaderboard_rows(markdown)
    assert row["accuracy (95% CI)"].startswith(f"{np.mean([0.5, 0.9]):.3f} ± ")
    assert "(2 seeds)" in row["accuracy (95% CI)"]
    assert "1 older record(s) of the same cells" in markdown


def test_write_reports_takes_prices(store, tmp_path):
    save(store, record("tfidf-logreg"))
    prices = {**DEFAULT_PRICES_USD_PER_HOUR, "cpu_core": 1.0}
    write_reports(store, tmp_path / "out", prices=prices)
    row = leaderboard_rows((tmp_path / "out" / "sst2.md").read_text())[0]
    assert float(row["fit (USD)"]) == pytest.approx(2.0)  # one hour on 2 cores at $1
    assert row["device"] == "cpu, 2 threads"
