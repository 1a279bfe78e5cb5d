"""The Markdown report makes no element out of data: texts of misclassified rows, error
messages and strategy or model names are escaped, and a table row keeps its cells. Rendered
with markdown-it-py with raw HTML on, as a permissive viewer would."""

import pandas as pd
import pytest
from test_report import record

from harness.report import write_reports
from harness.report.render import md_escape
from harness.results.store import Store

markdown_it = pytest.importorskip("markdown_it")

STRATEGIES = ["zero-shot", "<b>bold</b>|x", "[s](javascript:alert(1))"]
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</td></tr></table>",
           "a\\|b", "a|b", "x & y &amp; <b>", "**bold** [link](http://x) ![i](http://x/p.png)",
           "`code` ~~gone~~ _em_ \\", "end with backslash \\"]


def predictions(texts: list[str]) -> pd.DataFrame:
    """Every row wrong, so every text is shown among the confidently wrong examples."""
    n = len(texts)
    return pd.DataFrame({"index": range(n), "text": texts, "label": [0] * n,
                         "prediction": [1] * n, "score_neg": [-2.0] * n,
                         "score_pos": [-0.1 * (i + 1) for i in range(n)]})


@pytest.fixture
def markdown(tmp_path) -> str:
    store = Store(tmp_path / "results")
    store.prepare()
    for i in range(0, len(HOSTILE), 3):  # three examples are shown per strategy
        name = STRATEGIES[i // 3]
        store.save(record(name, key=f"sst2__s{i}", model="<i>m</i>|\\", n_eval=3,
                          accuracy=0.5),
                   predictions(HOSTILE[i:i + 3]))
    store.save(record("knn", key="sst2__failed", status="failed",
                      error="ValueError: <script>x</script> | a\\|b"))
    write_reports(store, tmp_path / "reports")
    return (tmp_path / "reports" / "sst2.md").read_text()


def parse(markdown: str):
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").parse(markdown)


def test_no_element_comes_from_data(markdown):
    tokens = parse(markdown)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    inline = [child for t in tokens if t.type == "inline" for child in t.children]
    assert not [c for c in inline if c.type == "html_inline"]
    made = {c.type for c in inline} - {"text", "softbreak"}
    # Our own markup only: the notes' emphasis and code, the plots' images, the contents' links
    # (to our own headings and files, never to a text from data)
    assert made <= {"em_open", "em_close", "strong_open", "strong_close", "code_inline", "image",
                    "link_open", "link_close"}
    links = [c.attrs["href"] for c in inline if c.type == "link_open"]
    assert links and all(href.startswith("#") or href.startswith("sst2") for href in links)
    images = [c.attrs["src"] for c in inline if c.type == "image"]
    assert images and all(src.startswith("sst2_files/") for src in images)


def table_rows(tokens) -> list[list[str]]:
    """Rows of every table as the text of their cells."""
    rows, cells, in_cell = [], None, False
    for token in tokens:
        if token.type == "tr_open":
            cells = []
        elif token.type in ("td_open", "th_open"):
            in_cell = True
        elif token.type == "inline" and in_cell:
            assert {c.type for c in token.children} <= {"text"}, token.content
            cells.append("".join(c.content for c in token.children))
            in_cell = False
        elif token.type in ("td_close", "th_close") and in_cell:  # an empty cell
            cells.append("")
            in_cell = False
        elif token.type == "tr_close":
            rows.append(cells)
    return rows


def test_every_text_shows_verbatim_in_its_own_cell(markdown):
    rows = table_rows(parse(markdown))
    shown = {cell for row in rows for cell in row}
    for text in HOSTILE:
        assert text.strip() in shown, text
    assert "ValueError: <script>x</script> | a\\|b" in shown
    # Strategy and model names live in the rows' names.
    names = {f"{name} (<i>m</i>|\\)" for name in STRATEGIES}
    assert names <= shown


def test_every_row_section_is_headed_by_its_name_verbatim(markdown):
    tokens = parse(markdown)
    headings = ["".join(c.content for c in tokens[i + 1].children)
                for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    assert sorted(headings) == sorted(f"{name} (<i>m</i>|\\)" for name in STRATEGIES)


def test_table_rows_keep_their_number_of_cells(markdown):
    lines = markdown.splitlines()
    for start in (i for i, line in enumerate(lines) if line.startswith("|---")):
        width = lines[start].count("|") - 1
        body = []
        for line in lines[start + 1:]:
            if not line.startswith("|"):
                break
            body.append(line)
        rendered = table_rows(parse("\n".join([lines[start - 1], lines[start], *body])))
        assert [len(row) for row in rendered] == [width] * (1 + len(body))


@pytest.mark.parametrize("text", HOSTILE)
def test_md_escape_round_trips_through_a_renderer(text):
    [row] = table_rows(parse(f"| a |\n|---|\n| {md_escape(text)} |"))[1:]
    assert row == [text.strip()]


def test_underscores_inside_names_stay_readable():
    assert md_escape("GGUF Q4_1 n_train") == "GGUF Q4_1 n_train"
    assert md_escape("_em_") == "\\_em\\_"


def test_long_values_are_cut_and_control_characters_shown_escaped():
    """Issue 27: a 1 MB text became a 1,050,033-character Markdown line; NUL was copied raw."""
    from harness.report.escape import MAX_CHARS, inline_html, md_escape

    long = md_escape("word " * 200_000)
    assert len(long) == MAX_CHARS and long.endswith("…")
    shown = md_escape("a\x00b\x1bc\x7fd\x9fe")
    assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in shown)
    assert inline_html(shown) == "a\\x00b\\x1bc\\x7fd\\x9fe"
