"""The report of a generation task from synthetic records written through the Store: rows pooled
and sorted by style accuracy, hostile continuations shown verbatim and harmless in both formats,
the prompts chosen, the plot, the judge's note, failures, and a results folder holding both
task kinds."""

import html
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from test_report import money
from test_report import record as classification_record
from test_report import save as save_classification

from harness.inputs.data import Split
from harness.report import write_reports
from harness.results.store import SCHEMA_VERSION, Store

TASK = "verse"
# Evaluation rows in file order; their indices deliberately not in order.
INDICES = [7, 3, 11, 5, 2]
PASSAGES = [f"Passage {i} begins here\nand goes on | with <b>{i}</b> & more" for i in INDICES]
HOSTILE = "</td><script>alert(1)</script> a|b\n*star* _u_ `tick` [l](http://x)\n\n& <i>end"
JUDGE = {"style_judge_key": "verse__judge__0123abcd", "style_judge_accuracy": 0.93,
         "style_judge_accuracy_ci_low": 0.9, "style_judge_accuracy_ci_high": 0.95,
         "style_judge_n_heldout": 200, "style_judge_on_reference": 0.85,
         "style_judge_on_contrast": 0.1}


def fingerprint(passages) -> str:
    return Split(tuple(passages), np.zeros(len(passages), dtype=np.int64)).fingerprint()


def interval(name: str, value: float, low: float, high: float) -> dict:
    return {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}


def generation(strategy: str, seed: int = 0, style=(0.5, 0.3, 0.7), ppl=(20.0, 18.0, 22.0),
               passages=PASSAGES, **fields) -> dict:
    """A finished generation cell as the runner writes it (the contract's fields)."""
    return {
        "key": f"{TASK}__{strategy}__seed{seed}__{fingerprint(passages)}", "status": "ok",
        "schema_version": SCHEMA_VERSION, "task": TASK, "task_kind": "generation",
        "strategy": strategy, "model": "tiny", "seed": seed, "data_seed": 0, "config": {},
        "n_train": 8, "n_eval": len(passages), "eval_fingerprint": fingerprint(passages),
        "train_fingerprint": "t1", "backend": "hf", "device": "cpu",
        "device_name": "Intel Xeon", "cpu_threads": 2, "host_cpu_count": 2,
        **interval("perplexity", *ppl), **interval("style_accuracy", *style),
        **interval("fluency_perplexity", 9.5, 8.0, 11.0), **interval("distinct_1", 0.6, 0.5, 0.7),
        **interval("distinct_2", 0.9, 0.8, 1.0), **interval("repetition_rate", 0.05, 0.0, 0.1),
        **interval("chrf", 31.0, 25.0, 37.0), "style_score": style[0],
        **interval("two_sample_accuracy", 0.81, 0.74, 0.87), "two_sample_pairs": 5,
        **interval("mauve", 0.42, 0.2, 0.7), **interval("hard_judge_auc", 0.77, 0.6, 0.9),
        **interval("hard_judge_log_odds", -1.5, -2.0, -1.0), "hard_judge_cv_auc": 0.93,
        "hard_judge_reference_log_odds": 0.8, "hard_judge_n_positive": 200,
        "hard_judge_n_negative": 400,
        "generated_tokens_mean": 40.0, "trials": 1, "trial_style_accuracies": [style[0]],
        "trial_perplexities": [ppl[0]], "tokens_per_s": 120.0, "ms_per_token": 8.0,
        "ttft_ms": 30.0, "latency_p50_ms": 320.0, "latency_p95_ms": 400.0,
        "latency_samples": 5, "load_s": 600.0, "fit_s": 3000.0, "setup_s": 0.0,
        "predict_s": 36.0, "scoring_s": 5.0, "n_predictions": 1000, "throughput_eps": 3.0,
        "rss_baseline_bytes": 500 * 2**20, "rss_above_baseline_bytes": 20 * 2**20,
        "trainable_params": 10, "total_params": 100, "weight_bytes": 2**20,
        "artifact_bytes": 0, "started_at": "2026-12-01T10:00:00+0000", **JUDGE, **fields,
    }


def predictions(continuations, passages=PASSAGES, indices=INDICES) -> pd.DataFrame:
    """One row per evaluation passage: its prompt (first line), reference and continuation."""
    prompts, references = zip(*(p.split("\n", 1) for p in passages))
    n = len(passages)
    return pd.DataFrame({
        "index": indices, "text": passages, "prompt": prompts, "reference": references,
        "prediction": list(continuations), "generated_tokens": [10] * n,
        "style_probability": [0.7] * n, "passage_nll": [30.0] * n, "passage_tokens": [10] * n,
        "fluency_nll": [20.0] * n, "fluency_tokens": [10] * n})


def continuations(name: str) -> list[str]:
    return [f"{name} continues row {i}" for i in INDICES]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results")
    s.prepare()
    return s


def save_grid(store: Store) -> None:
    """Three rows: style-lora (two seeds, one continuation hostile), style-fewshot and
    style-base, saved in an order that is not the leaderboard's."""
    store.save(generation("style-base", style=(0.2, 0.1, 0.4), ppl=(45.0, 40.0, 50.0)),
               predictions(continuations("base")))
    hostile = continuations("lora")
    hostile[INDICES.index(2)] = HOSTILE
    store.save(generation("style-lora", seed=0, style=(0.8, 0.6, 0.9), ppl=(20.0, 18.0, 22.0)),
               predictions(hostile))
    store.save(generation("style-lora", seed=1, style=(0.6, 0.4, 0.8), ppl=(24.0, 21.0, 27.0)),
               predictions(continuations("lora seed 1")))
    store.save(generation("style-fewshot", style=(0.4, 0.2, 0.6), ppl=(30.0, 27.0, 33.0),
                          device="cuda", device_name="NVIDIA H200",
                          cuda_peak_reserved_bytes=300 * 2**20),
               predictions(continuations("fewshot")))


@pytest.fixture
def written(store, tmp_path):
    save_grid(store)
    write_reports(store, tmp_path / "reports")
    out = tmp_path / "reports"
    return {"md": (out / f"{TASK}.md").read_text(), "html": (out / f"{TASK}.html").read_text(),
            "csv": pd.read_csv(out / f"{TASK}.csv"), "folder": out}


def cells(line: str) -> list[str]:
    """A Markdown table line's cells, split at unescaped pipes only."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def tables(markdown: str, first: str) -> list[list[dict]]:
    lines = markdown.splitlines()
    found = []
    for start in (i for i, line in enumerate(lines) if line.startswith(f"| {first} |")):
        header = cells(lines[start])
        rows = []
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            assert len(cells(line)) == len(header), line  # no cell broke the table
            rows.append(dict(zip(header, cells(line))))
        found.append(rows)
    return found


def test_rows_pool_their_seeds_and_rank_by_perplexity(written):
    board, resources = tables(written["md"], "row")  # the leaderboard, time and memory
    assert resources[0]["fit (s)"] == "3000.0" and "fit (s)" not in board[0]
    assert [r["row"] for r in board] == ["style-lora (tiny)", "style-fewshot (tiny)",
                                         "style-base (tiny)"]
    assert "ranked by the task's primary metric, perplexity, lowest first" in written["md"]
    lora = board[0]
    # Seeds: point estimates averaged, interval [min low, max high].
    assert lora["style accuracy (95% CI)"] == "0.700 \\[0.400, 0.900\\]"
    assert lora["perplexity (95% CI)"] == "22.0 \\[18.0, 27.0\\]"
    assert lora["fluency perplexity (95% CI)"] == "9.50 \\[8.00, 11.00\\]"
    assert "chrF (95% CI)" not in lora and "repetition" not in lora  # in the CSV
    assert lora["distinct-2"] == "0.900" and "distinct-1" not in lora  # in the CSV
    speed = resources[0]  # speed beside time and memory; quality on the leaderboard
    assert (speed["tokens/s"], speed["ms/token"], speed["TTFT (ms)"]) == ("120.0", "8.0", "30.0")
    assert lora["C2ST accuracy (95% CI)"] == "0.810 \\[0.740, 0.870\\]"
    assert lora["MAUVE (95% CI)"] == "0.420 \\[0.200, 0.700\\]"
    assert lora["judge AUC (95% CI)"] == "0.770 \\[0.600, 0.900\\]"
    assert money(lora["fit"]) == pytest.approx(0.09)  # an hour on 2 cores at $0.045
    assert money(lora["per 1M continuations"]) == pytest.approx(0.9)
    assert (resources[0]["RAM above baseline (MiB)"], resources[0]["GPU reserved (MiB)"]) == (
        "20", "-")
    assert resources[1]["GPU reserved (MiB)"] == "300"
    assert "n_train" not in lora and lora["trials × seeds"] == "1 × 2"  # alike: in the note
    assert "5 evaluation rows; ranked by" in written["md"] and "training rows: 8" in written["md"]
    assert "[min low, max high]" in written["md"]
    board = written["csv"]
    assert list(board.columns[:2]) == ["eval_set", "row"]
    assert list(board["style_accuracy"]) == pytest.approx([0.7, 0.4, 0.2])
    for column in ("perplexity", "perplexity_ci_low", "style_accuracy_ci_high", "chrf",
                   "distinct_1", "repetition_rate", "tokens_per_s", "ttft_ms", "fit_cost_usd",
                   "predict_cost_usd_per_1k", "rss_above_baseline_bytes", "n_eval", "seeds"):
        assert pd.api.types.is_numeric_dtype(board[column]), column


def test_html_table_sorts_by_numbers_with_directions(written):
    page = written["html"]
    table = page.split("<table class='sortable'>", 1)[1].split("</table>", 1)[0]
    headers = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    assert "style accuracy (95% CI) ↑" in headers and "perplexity (95% CI) ↓" in headers
    assert "distinct-2 ↑" in headers and "C2ST accuracy (95% CI) ↓" in headers
    assert "MAUVE (95% CI) ↑" in headers and "judge AUC (95% CI) ↓" in headers
    column = headers.index("perplexity (95% CI) ↓")
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    keys = [re.findall(r"<td[^>]*?(?:data-sort='([^']*)')?>", row)[column] for row in rows]
    assert [float(k) for k in keys] == [22.0, 30.0, 45.0]


class Parsed(HTMLParser):
    """Start tags, and the text of each <td>."""

    def __init__(self, page: str):
        super().__init__()
        self.tags, self.cells, self.cell = [], [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td":
            self.cells.append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_hostile_continuations_are_verbatim_and_harmless(written):
    page = Parsed(written["html"])
    assert page.tags.count("script") == 1  # the table sorter
    assert not {"b", "i", "img"} & set(page.tags)
    nav = re.search(r"<nav class='contents'>(.*?)</nav>", written["html"],
                    re.S).group(1)
    # The link to "How to read the tables", and the contents' (our headings, the CSV)
    assert page.tags.count("a") == 1 + nav.count("<a ")
    assert HOSTILE in page.cells  # line breaks kept, nothing lost
    assert PASSAGES[INDICES.index(2)].split("\n", 1)[1] in page.cells
    assert "table.texts td{white-space:pre-wrap" in written["html"]
    markdown = written["md"]
    assert "<script" not in markdown and "</td>" not in markdown and "<i>" not in markdown
    [_, lora] = [r for r in tables(markdown, "source")[0] if r["source"] in ("reference",
                                                                             "style-lora (tiny)")]
    assert lora["text"] == ("&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt; a\\|b<br>\\*star\\*"
                            " \\_u\\_ \\`tick\\` \\[l\\](http://x)<br><br>&amp; &lt;i&gt;end")


def test_the_first_three_evaluation_rows_by_index_are_continued_side_by_side(written):
    markdown = written["md"]
    section = markdown.split("## Continuations side by side\n", 1)[1]
    assert re.findall(r"^### (.*)$", section, flags=re.MULTILINE) == [
        "Evaluation row 2", "Evaluation row 3", "Evaluation row 5"]
    for index, table in zip((2, 3, 5), tables(section, "source")):
        passage = PASSAGES[INDICES.index(index)]
        assert [r["source"] for r in table] == ["prompt", "reference", "style-lora (tiny)",
                                                "style-fewshot (tiny)", "style-base (tiny)"]
        assert table[0]["text"] == f"Passage {index} begins here"
        assert table[1]["text"].startswith("and goes on \\| with &lt;b&gt;")
        assert passage.endswith("& more")
        expected = [f"{name} continues row {index}" for name in ("fewshot", "base")]
        assert [r["text"] for r in table[3:]] == expected
        if index != 2:  # the first record (seed 0) of the pooled row, trial 0
            assert table[2]["text"] == f"lora continues row {index}"


def test_the_plot_is_written_and_names_every_row(written):
    folder = written["folder"] / f"{TASK}_files"
    assert sorted(p.name for p in folder.iterdir()) == ["style_vs_perplexity.png"]
    assert (folder / "style_vs_perplexity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"![style_vs_perplexity]({TASK}_files/style_vs_perplexity.png)" in written["md"]
    titles = re.findall(r'<g id="style_vs_perplexity-point\d+"><title>([^<]*)</title>',
                        written["html"])
    assert sorted(map(html.unescape, titles)) == sorted(written["csv"]["row"])


def test_the_judge_note_says_how_far_to_trust_style_accuracy(written):
    note = next(line for line in written["md"].splitlines() if "*Style judge*" in line)
    assert "accuracy 0.930 \\[0.900, 0.950\\] on 200 held-out rows" in note
    assert "It calls 85% of the evaluation passages themselves in style and 10% of " \
           "held-out contrast rows" in note
    assert "<em>Style judge</em> verse__judge__0123abcd: accuracy 0.930 [0.900, 0.950]" in \
        written["html"]


def test_failed_cells_are_listed(store, tmp_path):
    save_grid(store)
    store.save({"key": f"{TASK}__style-broken__seed0", "status": "failed", "task": TASK,
                "task_kind": "generation", "strategy": "style-broken", "seed": 0,
                "model": "tiny", "error": "RuntimeError: out of | memory <now>"})
    write_reports(store, tmp_path / "reports")
    markdown = (tmp_path / "reports" / f"{TASK}.md").read_text()
    [failed] = tables(markdown, "strategy")
    assert failed == [{"strategy": "style-broken", "model": "tiny", "seed": "0",
                       "data_seed": "-", "error": "RuntimeError: out of \\| memory &lt;now&gt;"}]
    assert "(4 ok, 1 failed)" in markdown


def test_a_task_whose_every_cell_failed_still_gets_its_report(store, tmp_path):
    store.save({"key": f"{TASK}__style-broken__seed0", "status": "failed", "task": TASK,
                "task_kind": "generation", "strategy": "style-broken", "seed": 0,
                "model": "tiny", "error": "RuntimeError: no memory"})
    write_reports(store, tmp_path / "reports")
    markdown = (tmp_path / "reports" / f"{TASK}.md").read_text()
    assert "(1 failed)" in markdown and "RuntimeError: no memory" in markdown
    assert "## Leaderboard" not in markdown and "Continuations" not in markdown
    assert (tmp_path / "reports" / f"{TASK}.csv").read_text() == ""


def test_each_evaluation_set_has_its_table_and_its_prompts(store, tmp_path):
    save_grid(store)
    short = PASSAGES[:3]
    store.save(generation("style-lora", passages=short, n_train=16),
               predictions(["x", "y", "z"], passages=short, indices=[0, 1, 2]))
    write_reports(store, tmp_path / "reports")
    markdown = (tmp_path / "reports" / f"{TASK}.md").read_text()
    assert [len(t) for t in tables(markdown, "row")] == [3, 1, 4]  # sets 1, 2; resources
    assert "## Continuations side by side, evaluation set 2" in markdown
    second = markdown.split("## Continuations side by side, evaluation set 2\n", 1)[1]
    assert [[r["text"] for r in t][2] for t in tables(second, "source")] == ["x", "y", "z"]


def test_one_folder_with_both_task_kinds_gets_both_reports(store, tmp_path):
    save_grid(store)
    save_classification(store, classification_record("tfidf-logreg"))
    paths = write_reports(store, tmp_path / "reports")
    assert sorted(p.name for p in paths) == sorted(
        [f"{task}.{suffix}" for task in ("sst2", TASK) for suffix in ("md", "html", "csv")]
        + ["index.md", "index.html"])
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "| sst2 | classification |" in index and f"| {TASK} | generation |" in index
    sst2 = (tmp_path / "reports" / "sst2.md").read_text()
    verse = (tmp_path / "reports" / f"{TASK}.md").read_text()
    assert "accuracy (95% CI)" in sst2 and "Confusion matrices" in sst2
    assert "style accuracy" not in sst2
    # The metrics that tell strategies apart first, the saturated contrast judge after them
    assert ("| row | perplexity (95% CI) | C2ST accuracy (95% CI) | MAUVE (95% CI) | "
            "judge AUC (95% CI) | style accuracy (95% CI) |") in verse
    assert "Confusion" not in verse
    assert sorted(p.name for p in (tmp_path / "reports" / "sst2_files").iterdir()) == [
        "accuracy_vs_cost.png", "accuracy_vs_latency.png", "confusion_matrices.png"]


@pytest.mark.parametrize("primary, order", [
    (None, ["sharp", "fluent"]),  # the kind's: perplexity, lowest first
    ("style_accuracy", ["fluent", "sharp"]),
    ("hard_judge_auc", ["fluent", "sharp"])])
def test_the_task_s_primary_metric_ranks_the_board_and_the_index(store, tmp_path, primary,
                                                                 order):
    named = {} if primary is None else {"primary_metric": primary}
    store.save(generation("sharp", style=(0.3, 0.2, 0.4), ppl=(15.0, 14.0, 16.0), **named,
                          **interval("hard_judge_auc", 0.9, 0.85, 0.95)),
               predictions(continuations("sharp")))
    store.save(generation("fluent", style=(0.9, 0.8, 1.0), ppl=(40.0, 38.0, 42.0), **named),
               predictions(continuations("fluent")))
    write_reports(store, tmp_path / "out")
    board, _ = tables((tmp_path / "out" / f"{TASK}.md").read_text(), "row")
    assert [r["row"] for r in board] == [f"{name} (tiny)" for name in order]
    index = (tmp_path / "out" / "index.md").read_text()
    header = {None: "perplexity", "style_accuracy": "style accuracy",
              "hard_judge_auc": "judge AUC"}[primary]
    assert f"{order[0]} (tiny) ({header} " in index



def test_the_generation_report_is_not_clipped_at_a_laptop_s_width(written):
    from test_report_html import CHROMIUM, SCRIPT

    if CHROMIUM is None:
        pytest.skip("no Chromium installed")
    figures = SCRIPT.layout(written["folder"] / f"{TASK}.html", width=1280)
    assert any(box["tag"] == "table" for box in figures["boxes"])
    assert SCRIPT.clipped(figures) == []
