"""The README's generated blocks are what the artifacts under bench/results/ give: a figure
edited by hand, or an artifact regenerated without --write, fails here (and in make test)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import readme_figures  # noqa: E402


def test_the_readmes_figures_are_the_artifacts():
    problem = readme_figures.difference(readme_figures.README.read_text(),
                                        readme_figures.blocks())
    assert problem is None, problem


def test_a_hand_edited_figure_is_found_with_its_line_in_every_block():
    readme = readme_figures.README.read_text()
    texts = readme_figures.blocks()
    assert len(texts) >= 2  # the tables, and the figures quoted in the text
    for name in texts:
        head, block, tail = readme_figures._split_readme(readme, name)
        lines = block.splitlines()
        at = next(i for i, line in enumerate(lines) if any(c.isdigit() for c in line))
        digit = next(i for i, c in enumerate(lines[at]) if c.isdigit())
        changed = "1" if lines[at][digit] != "1" else "2"
        lines[at] = lines[at][:digit] + changed + lines[at][digit + 1:]
        edited = readme_figures.with_blocks(readme, {name: "\n".join(lines)})
        problem = readme_figures.difference(edited, texts)
        assert problem is not None, name
        assert f"line {head.count(chr(10)) + 2 + at}, column {digit + 1}," in problem, problem
        longer = readme_figures.with_blocks(readme, {name: texts[name] + "\nan extra line"})
        assert "lines" in readme_figures.difference(longer, texts)
