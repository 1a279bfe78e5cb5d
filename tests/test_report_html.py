"""The HTML report as a browser shows it: real HTML (no Markdown syntax), no element made from
data, a leaderboard that sorts numbers as numbers, plot points naming their row on hover, and
a screenshot by headless Chromium that is not blank (skipped without Chromium)."""

import html
import importlib.util
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report import TRUTH, feelings, save_rows

from harness.report import write_reports
from harness.results.store import Store

REPO = Path(__file__).resolve().parents[1]
HOSTILE = "<img src=x onerror=alert(1)> *star* `tick` [l](http://x) \\ & <b>b</b>"


def load_script():
    spec = importlib.util.spec_from_file_location(
        "screenshot_report", REPO / "scripts" / "screenshot_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = load_script()
CHROMIUM = SCRIPT.find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """feelings.html with three rows, one named with markup, and a failed cell."""
    root = tmp_path_factory.mktemp("html")
    store = Store(root / "results")
    store.prepare()
    save_rows(store, feelings("tfidf-logreg", throughput_eps=900.0), TRUTH)
    save_rows(store, feelings("zero-shot", throughput_eps=25.0), [2] * 12)
    save_rows(store, feelings(HOSTILE, key="feelings__hostile", throughput_eps=100.0),
              [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0])
    store.save(feelings("knn", key="feelings__knn__failed", status="failed",
                        error=f"ValueError: {HOSTILE}"))
    write_reports(store, root / "reports")
    return root / "reports" / "feelings.html"


class Elements(HTMLParser):
    """Start tags and the text outside <script>, <style>, <code> and <svg>."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self.skipping = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("script", "style", "code", "svg"):
            self.skipping.append(tag)

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping:
            self.text.append(data)


def parsed(page: Path) -> Elements:
    elements = Elements()
    elements.feed(page.read_text())
    return elements


def test_no_markdown_syntax_and_notes_become_elements(report):
    page = report.read_text()
    text = " ".join(parsed(report).text).replace(HOSTILE, "")
    assert "*" not in text and "`" not in text and "\\" not in text
    assert "<em>Accuracy</em>" in page
    assert "<code>harness.results.frames.load_results</code>" in page
    assert "<strong>⚠ it predicts anger for 100% of its evaluation rows</strong>" in page


def test_no_element_comes_from_data(report):
    elements = parsed(report)
    assert elements.tags.count("script") == 1  # the table sorter
    nav = re.search(r"<nav class='contents'>(.*?)</nav>", report.read_text(), re.S).group(1)
    # The link to "How to read the tables", and the contents' (our headings, the CSV)
    assert elements.tags.count("a") == 1 + nav.count("<a ")
    assert not {"img", "b", "i", "iframe"} & set(elements.tags)
    text = " ".join(elements.text)
    assert text.count(HOSTILE) >= 3  # its row in two tables and its section, verbatim
    assert f"ValueError: {HOSTILE}" in text


def test_plot_points_name_their_row_on_hover(report):
    page = report.read_text()
    board = pd.read_csv(report.with_suffix(".csv"))
    titles = re.findall(r'<g id="accuracy_vs_cost-point\d+"><title>([^<]*)</title>', page)
    assert sorted(map(html.unescape, titles)) == sorted(board["row"])
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the inline SVGs share one page


def leaderboard_cells(page: str) -> tuple[list[str], list[list[tuple[str, str | None]]]]:
    """Headers and (text, data-sort) cells of the first sortable table."""
    table = re.split(r"<table class=['\"]sortable['\"]>", page, maxsplit=1)[1].split(
        "</table>", 1)[0]  # a browser's DOM quotes attributes with "
    headers = [html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
               for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    rows = []
    for body in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1]):
        rows.append([(html.unescape(cell["text"]), cell["sort"] if cell["numeric"] else None)
                     for cell in re.finditer(r"<td(?P<numeric> class=.n. data-sort=."
                                             r"(?P<sort>[^'\"]*).)?>(?P<text>.*?)</td>", body)])
    return headers, rows


def test_numeric_cells_sort_by_their_number(report):
    headers, rows = leaderboard_cells(report.read_text())
    board = pd.read_csv(report.with_suffix(".csv"))
    assert headers[0] == "row" and "accuracy (95% CI) ↑" in headers and "ECE ↓" in headers
    accuracy = headers.index("accuracy (95% CI) ↑")
    assert [float(row[accuracy][1]) for row in rows] == pytest.approx(list(board["accuracy"]))
    assert [row[0][1] for row in rows] == [None] * len(rows)  # names sort as text


@needs_chromium
def test_clicking_a_header_sorts_numerically_in_a_browser(report, tmp_path):
    """examples/s holds 900, 25 and 100: as text '25' < '100' would fail."""
    page = report.read_text()
    sorter = ("<script>var th = [...document.querySelectorAll('table.sortable')[1]"
              ".querySelectorAll('th')].find(h => h.textContent.startsWith('examples/s'));"
              "th.click();</script></body>")
    clicked = tmp_path / "clicked.html"
    clicked.write_text(page.replace("</body>", sorter))
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          clicked.as_uri()], capture_output=True, text=True, timeout=120).stdout
    resources = dom.split(">Time, memory and size</h2>", 1)[1]
    headers, rows = leaderboard_cells(resources)
    column = next(i for i, h in enumerate(headers) if h.startswith("examples/s"))
    assert [row[column][0] for row in rows] == ["25.0", "100.0", "900.0"]


@needs_chromium
def test_a_screenshot_of_the_report_is_not_blank(report, tmp_path):
    png = SCRIPT.screenshot(report, tmp_path / "shot.png", width=1200, height=1600)
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    ink = (pixels.min(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    assert 0.02 < ink < 0.9, ink
    assert len(np.unique((pixels * 255).astype(int).reshape(-1, 3), axis=0)) > 50


@needs_chromium
@pytest.mark.parametrize("page", ["feelings.html", "index.html", "feelings_disagreements.html"])
def test_nothing_is_clipped_at_a_laptop_s_width(report, page):
    """At 1,280 px the page does not scroll sideways and no table, plot or verdict is wider
    than its box: a leaderboard whose cells are all alike in a column says it in its note,
    and a number breaks before its interval."""
    figures = SCRIPT.layout(report.parent / page, width=1280)
    assert figures["viewport"] == 1280
    assert any(box["tag"] == "table" for box in figures["boxes"]), figures
    assert SCRIPT.clipped(figures) == []
    assert not list(report.parent.glob(".layout-*"))  # the measured copy is gone


@needs_chromium
def test_a_dozen_strategies_disagreeing_fit_a_laptop_s_width(tmp_path):
    """The disagreement page has a column per leaderboard row: twelve long-named ones fit."""
    store = Store(tmp_path / "results")
    store.prepare()
    rng = np.random.default_rng(0)
    for i in range(12):
        save_rows(store, feelings(f"instruction-tuned-variant-{i}", key=f"feelings__s{i}",
                                  model="smollm2-135m-instruct"),
                  list(rng.integers(0, 3, size=len(TRUTH))))
    write_reports(store, tmp_path / "reports")
    page = tmp_path / "reports" / "feelings_disagreements.html"
    assert page.read_text().count("<th>instruction-tuned-variant-") == 12
    assert SCRIPT.clipped(SCRIPT.layout(page, width=1280)) == []


def test_the_script_fails_in_one_line_without_a_page(tmp_path, capsys):
    with pytest.raises(SystemExit):
        SCRIPT.main([str(tmp_path / "absent.html"), str(tmp_path / "shot.png")])
    assert "no such page" in capsys.readouterr().err
