"""The reports folder as a site: a verdict on top of each report, a line of contents whose
links resolve, an index of every task's report, and the page of rows where strategies
disagree (escaped, filterable by true label)."""

import re
from pathlib import Path

from test_cli import harness
from test_runs_as_data import GRID_ARGS, run_args


def made(data_dir, tmp_path) -> Path:
    done = harness(*run_args(data_dir, tmp_path, *GRID_ARGS))
    assert done.exit_code == 0, done.output
    assert "report: " + str(tmp_path / "reports" / "index.html") in done.output
    return tmp_path / "reports"


def test_a_report_opens_on_its_verdict_and_its_links_resolve(data_dir, tmp_path):
    reports = made(data_dir, tmp_path)
    markdown = (reports / "agnews.md").read_text()
    verdict = markdown.split("## Verdict", 1)[1].split("\n\n", 2)[1]
    assert verdict.startswith("- **Recommended: ")
    assert "under its default constraints (none: the most accurate option)" in verdict
    assert "Pareto front of accuracy against the price of a prediction" in verdict
    assert "per million predictions" in verdict and "e-0" not in verdict
    page = (reports / "agnews.html").read_text()
    assert page.index("<h2 id='verdict'>") < page.index("<h2 id='leaderboard'>")
    nav = re.search(r"<nav class='contents'>(.*?)</nav>", page).group(1)
    for target in re.findall(r"href='([^']+)'", nav):
        if target.startswith("#"):
            assert f"id='{target[1:]}'" in page, target
        else:
            assert (reports / target).is_file(), target
    for target in re.findall(r"\]\(([^)#]+)\)", markdown.split("\n")[2]):
        assert (reports / target).is_file(), target


def test_the_index_lists_every_report_with_its_best_row(data_dir, tmp_path):
    reports = made(data_dir, tmp_path)
    index = (reports / "index.md").read_text()
    assert "| agnews | classification | 2 |" in index
    assert "(accuracy 0." in index
    assert "[disagreements](agnews_disagreements.html)" in index
    page = (reports / "index.html").read_text()
    targets = re.findall(r"href='([^']+)'", page)
    assert "agnews_disagreements.html" in targets
    for target in targets:
        assert (reports / target).is_file(), target


def test_the_disagreement_page_shows_each_rows_answer_escaped_and_filterable(data_dir,
                                                                           tmp_path):
    reports = made(data_dir, tmp_path)
    page = (reports / "agnews_disagreements.html").read_text()
    assert "<select id='true'>" in page and "<th>tfidf-logreg" in page
    rows = re.findall(r"<tr data-true='([^']*)'>", page)
    assert rows and set(rows) <= {"World", "Sports", "Business", "Sci/Tech"}
    assert page.count("class='wrong'") >= len(rows)  # every listed row: someone is wrong
    markdown = (reports / "agnews_disagreements.md").read_text()
    assert markdown.count("\n| ") == len(rows) + 1 and "✗" in markdown
