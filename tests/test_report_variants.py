"""Inference variants in a report, from synthetic records: a fitted model's own record and its
variants (one skipped) make a variants table, a plot joining them, and leaderboard rows of
their own; a report without variants is the report it was before variants existed."""

import re

import pandas as pd
import pytest
from test_report import markdown_tables, record, report, save

from harness.report.tables import latest_per_seed, leaderboard
from harness.report.variants import fitted_models
from harness.results.store import Store

OWN_KEY = "sst2__lora__seed0__own"
MIB = 2**20


def variant(name: str, prediction, **fields) -> tuple[dict, tuple]:
    """A variant record of the fitted model whose own record is OWN_KEY, with its predictions."""
    return record("lora", key=f"sst2__lora-{name}__seed0__v", inference=name,
                  inference_of=OWN_KEY, **fields), prediction


def save_fitted_model(store: Store, own_key: str = OWN_KEY, started_at: str | None = None):
    """The cell's own record (0.75 right) and its int8 (0.5 right), bf16 (as the default) and
    fp16 (skipped) variants."""
    when = {"started_at": started_at} if started_at else {}
    save(store, record("lora", key=own_key, inference="default", artifact_bytes=3 * MIB,
                       disk_bytes=103 * MIB, weight_bytes=2 * MIB, **when), (1, 0, 0, 0))
    int8 = variant("int8", (1, 0, 0, 1), accuracy=0.5, accuracy_ci_low=0.15,
                   accuracy_ci_high=0.85, prediction_agreement=0.75, accuracy_delta=-0.25,
                   accuracy_delta_ci_low=-0.7, accuracy_delta_ci_high=0.2, latency_p50_ms=2.0,
                   latency_p95_ms=3.5, throughput_eps=40.0, conversion_s=1.3,
                   disk_bytes=1.5 * MIB, weight_bytes=0.5 * MIB,
                   rss_above_baseline_bytes=12 * MIB)
    bf16 = variant("bf16", (1, 0, 0, 0), prediction_agreement=1.0, accuracy_delta=0.0,
                   accuracy_delta_ci_low=0.0, accuracy_delta_ci_high=0.0, latency_p50_ms=3.0,
                   conversion_s=0.4, disk_bytes=MIB, weight_bytes=MIB)
    for rec, prediction in (int8, bf16):
        save(store, {**rec, "key": rec["key"] + own_key[-3:], "inference_of": own_key,
                     **when}, prediction)
    store.save({"key": f"sst2__lora-fp16__seed0__v{own_key[-3:]}", "status": "skipped",
                "task": "sst2", "strategy": "lora", "model": "tiny", "seed": 0,
                "config": {"lr": 0.001}, "inference": "fp16", "inference_of": own_key,
                "error": "fp16 runs on CUDA only", **when})


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One report read by several tests (rendering plots takes a second or two)."""
    folder = tmp_path_factory.mktemp("variants")
    store = Store(folder / "results")
    store.prepare()
    save_fitted_model(store)
    save(store, record("tfidf-logreg", key="sst2__tfidf__seed0__old"))  # before variants
    markdown, page = report(store, folder / "out")
    return markdown, page, folder / "out"


def test_the_variants_table_shows_each_variant_against_its_own_predictions(written):
    markdown, _, _ = written
    assert "## Inference variants" in markdown
    assert "### lora (tiny), seed 0" in markdown
    [table] = markdown_tables(markdown, first="variant")
    table = [{header: plain(cell) for header, cell in row.items()} for row in table]
    by = {row["variant"]: row for row in table}
    assert [row["variant"] for row in table] == ["default", "bf16", "fp16", "int8"]
    # Intervals as the leaderboard computes them from the predictions (Wilson on 4 rows).
    assert by["default"]["accuracy (95% CI)"] == "0.750 [0.301, 0.954]"
    assert by["default"]["Δ accuracy (95% CI)"] == "reference"
    # What serving it ships (its adapters and the base), as for every variant
    assert by["default"]["on disk (MiB)"] == "103.0"
    assert by["default"]["weights (MiB)"] == "2.0"
    int8 = by["int8"]
    assert int8["accuracy (95% CI)"] == "0.500 [0.150, 0.850]"
    assert int8["Δ accuracy (95% CI)"] == "-0.250 [-0.700, +0.200]"
    assert int8["agreement"] == "0.750"
    assert int8["latency p50 / p95 (ms)"] == "2.0 / 3.5"
    assert int8["examples/s"] == "40.0"
    assert int8["RAM above baseline (MiB)"] == "12"
    assert (int8["weights (MiB)"], int8["on disk (MiB)"]) == ("0.5", "1.5")
    assert int8["conversion (s)"] == "1.3"
    assert by["bf16"]["agreement"] == "1.000" and by["bf16"]["conversion (s)"] == "0.40"
    assert by["fp16"]["accuracy (95% CI)"] == "skipped: fp16 runs on CUDA only"
    assert by["fp16"]["agreement"] == "-"
    assert "paired over the same rows" in markdown


def test_each_variant_is_a_leaderboard_row_of_its_own_and_the_default_keeps_its_name(written):
    markdown, _, _ = written
    *leaderboards, _resources = markdown_tables(markdown)
    names = {row["row"] for table in leaderboards for row in table}
    assert names == {"lora (tiny)", "lora · int8 (tiny)", "lora · bf16 (tiny)",
                     "tfidf-logreg (tiny)"}
    assert "fp16" not in " ".join(names)  # skipped: no numbers to show
    failed = markdown.split("## Failed cells")[1]
    assert "| lora | tiny | fp16 | 0 |" in failed and "fp16 runs on CUDA only" in failed


def test_a_variant_never_pools_with_its_default(store):
    save_fitted_model(store)
    board = leaderboard(_ok(store), store)
    own = board[board["row"] == "lora (tiny)"].iloc[0]
    assert own["keys"] == [OWN_KEY] and own["accuracy"] == 0.75
    assert board.loc[board["row"] == "lora · int8 (tiny)", "accuracy"].item() == 0.5


def test_the_plot_joins_the_variants_in_markdown_and_html(written):
    markdown, page, out = written
    assert "## Accuracy vs latency by inference variant" in markdown
    png = out / "sst2_files" / "accuracy_vs_latency_by_variant.png"
    assert f"]({png.parent.name}/{png.name})" in markdown
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "<h3>Accuracy vs latency by inference variant</h3><svg" in page
    titles = set(re.findall(r"<title>([^<]*)</title>", page))
    assert {"lora (tiny), seed 0 · default", "lora (tiny), seed 0 · int8",
            "lora (tiny), seed 0 · bf16"} <= titles
    assert "<h2 id='inference-variants'>Inference variants</h2>" in page and "fp16 runs on CUDA only" in page


def test_a_superseded_fitted_model_takes_its_variants_with_it(store):
    save_fitted_model(store, "sst2__lora__seed0__old", "2026-11-01T10:00:00+0000")
    save_fitted_model(store)
    records = _records(store)
    ok = latest_per_seed(_ok(store))
    [(name, block)] = fitted_models(records, ok, leaderboard(ok, store))
    assert name == "lora (tiny), seed 0"
    assert set(block["inference_of"].dropna()) == {OWN_KEY}


def test_a_report_without_variants_is_unchanged(store, tmp_path):
    old = [record("lora", key="sst2__lora__seed0__a"),
           record("tfidf-logreg", key="sst2__tfidf__seed1__b", seed=1)]
    for rec in old:
        save(store, rec)
    before_md, before_html = report(store, tmp_path / "before")
    for rec in old:  # the same records as the runner writes them now
        save(store, {**rec, "inference": "default", "artifact_bytes": 0})
    after_md, after_html = report(store, tmp_path / "after")
    assert "Inference variants" not in before_md + before_html
    assert not (tmp_path / "before" / "sst2_files" / "accuracy_vs_latency_by_variant.png").exists()
    assert _timeless(after_md) == _timeless(before_md)
    assert _timeless(after_html) == _timeless(before_html)


def plain(markdown_cell: str) -> str:
    """A table cell's text as shown: md_escape's backslashes removed."""
    return re.sub(r"\\(.)", r"\1", markdown_cell)


def _timeless(text: str) -> str:
    return re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d", "generated", text)


def _records(store: Store) -> pd.DataFrame:
    records = pd.DataFrame(store.records(strict=True))
    return records.assign(labels=[["neg", "pos"]] * len(records))


def _ok(store: Store):
    records = _records(store)
    return records[records["status"] == "ok"]
