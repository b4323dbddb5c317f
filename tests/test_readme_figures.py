"""Every figure in the README's marked blocks comes from a committed result file (benchmarks/figures.py)."""

from __future__ import annotations

import json

import pytest

from benchmarks import figures


@pytest.mark.parametrize("name", sorted(figures.block_names()))
def test_readme_block_is_rendered_from_result_files(name):
    blocks = figures.readme_blocks(figures.README.read_text())
    assert name in blocks, f"README.md has no <!-- figures:{name} --> block"
    try:
        expected = figures.render_block(name)
    except figures.MissingResult as e:
        pytest.fail(f"a README figure has no result file: {e}")
    assert blocks[name] == expected, (
        "README figures differ from the result files; run `.venv/bin/python benchmarks/figures.py --write` "
        "after re-running the benchmark")


def test_result_files_say_how_and_where_they_were_measured():
    files = sorted(figures.RESULTS.glob("*.json"))
    assert files, "no committed result files"
    for path in files:
        doc = json.loads(path.read_text())
        for key in ("name", "figures", "command", "started", "finished", "git_commit", "machine", "versions"):
            assert key in doc, f"{path.name}: no {key!r}"
        assert doc["name"] == path.stem
        assert {"cores", "memory_gib", "load_avg_before", "load_avg_after"} <= set(doc["machine"]), path.name


def test_a_changed_figure_is_caught(tmp_path):
    """The check can fail: a README whose number differs from its result file is detected."""
    name = sorted(figures.BLOCKS)[0]
    rendered = figures.render_block(name)
    digits = [i for i, ch in enumerate(rendered) if ch.isdigit()]
    i = digits[len(digits) // 2]
    tampered = rendered[:i] + str((int(rendered[i]) + 1) % 10) + rendered[i + 1:]
    text = f"x\n<!-- figures:{name} -->\n{tampered}<!-- /figures:{name} -->\n"
    assert figures.readme_blocks(text)[name] != rendered


def test_performance_section_quotes_no_figure_outside_its_block():
    """The Performance section reads as a table: a measured value typed into its prose (a ratio, a
    time, a rate, a size) would be a second, unchecked source of truth."""
    import re

    text = figures.README.read_text()
    section = text[text.index("## Performance"):]
    section = section[:section.index("\n## ", 1)]
    prose = re.sub(r"<!-- figures:(\w+) -->.*?<!-- /figures:\1 -->", "", section, flags=re.S)
    measured = re.findall(r"\d[\d,.]*\s*(?:×|x\b|ms\b|s\b|min\b|MB\b|GB\b|%|docs|records/s|tokens/s|req/s)", prose)
    assert not measured, f"figures typed into the Performance prose (put them in a result file): {measured}"
