"""Every class of recipe mistake exits with status 2 and a message naming key, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

GOOD = """\
input:
  path: {path}
  text_field: text
steps:
  - op: clean.unicode
  - op: filter.length
    min_words: 3
split:
  train: 0.8
  test: 0.2
output:
  path: {out}
"""


def run_with(tmp_path: Path, text: str, rt_path: Path):
    p = tmp_path / "recipe.yaml"
    p.write_text(text.format(path=rt_path, out=tmp_path / "out"))
    return run_cli("run", str(p), "-q")


CASES = [
    # (mutation of GOOD, expected fragments of the error)
    (("  text_field: text\n", "  text_feld: text\n"), [":3:", "input.text_feld", "did you mean 'text_field'"]),
    (("  - op: clean.unicode\n", "  - op: clean.unicod\n"), [":5:", "unknown operator 'clean.unicod'", "clean.unicode"]),
    (("    min_words: 3\n", "    min_wrds: 3\n"), [":7:", "steps[1].min_wrds", "did you mean 'min_words'", "allowed:"]),
    (("    min_words: 3\n", "    min_words: many\n"), [":7:", "steps[1].min_words", "integer"]),
    (("  test: 0.2\n", "  test: 0.3\n"), [":8:", "split", "sum to 1"]),
    (("output:\n", "outptu:\n"), ["outptu", "did you mean 'output'"]),
    (("input:\n", "input:\n  format: jsnl\n"), [":2:", "input.format", "jsonl"]),
    (("  - op: clean.unicode\n", "  - op: clean.unicode\n  oops: [\n"), ["not valid YAML"]),
]


@pytest.mark.parametrize("mutation,fragments", CASES)
def test_recipe_mistakes_exit_2_with_location(tmp_path, rt_path, mutation, fragments):
    old, new = mutation
    assert old in GOOD
    proc = run_with(tmp_path, GOOD.replace(old, new, 1), rt_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    msg = " ".join(proc.stderr.split())
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


def test_glob_matching_nothing_is_named(tmp_path, rt_path):
    text = GOOD.replace("path: {path}", "path: {path}/../nothing-*.jsonl")
    proc = run_with(tmp_path, text, rt_path)
    assert proc.returncode == 2
    assert "nothing-*.jsonl' matched no file" in " ".join(proc.stderr.split())


def test_good_recipe_runs(tmp_path, rt_path):
    proc = run_with(tmp_path, GOOD, rt_path)
    assert proc.returncode == 0, proc.stderr


def test_ops_lists_every_operator_with_defaults():
    proc = run_cli("ops", "--json")
    assert proc.returncode == 0
    import json

    ops = json.loads(proc.stdout)
    for name in ("clean.unicode", "clean.whitespace", "clean.strip_html", "filter.length", "filter.fields",
                 "dedup.exact", "select.sample"):
        assert name in ops
    params = {p["name"]: p for p in ops["clean.unicode"]["params"]}
    assert params["normalization"]["default"] == "NFC"
    assert ops["dedup.exact"]["kind"] == "global"
