"""Issue 10 item 12: long class names are shown whole (wrapped, with a tooltip); `tuneprep ops`
keeps bracketed text of parameter docs; `inspect` names the `--format` option."""

from __future__ import annotations

import re

from tests.conftest import run_cli
from tuneprep.report import svg

# Clause types of real contracts (the CUAD categories a user's legal-clause file had).
CLAUSES = ["Limitation of liability", "Governing law", "Non-compete", "Uncapped liability"]


def test_confusion_matrix_and_bars_show_long_class_names_whole():
    out = svg.heatmap(CLAUSES, [[5, 1, 0, 0], [0, 7, 0, 1], [1, 0, 4, 0], [0, 0, 1, 3]], "clauses")
    assert "…" not in out
    assert out.count("<title>Limitation of liability</title>") == 2  # row and column label
    words = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", out)
    assert "Limitation of" in words and "liability" in words
    bars = svg.grouped_bars(CLAUSES, [("model", [0.8, 0.9, 0.7, 0.6])], "f1")
    assert "…" not in bars and "<title>Limitation of liability</title>" in bars


def test_ops_keeps_bracketed_text_and_inspect_names_format_option(tmp_path):
    proc = run_cli("ops", "filter.fields")
    assert proc.returncode == 0
    assert "[positive, negative, neutral]" in proc.stdout.replace("\n", "")
    p = tmp_path / "clauses.dat"
    p.write_text("a\n")
    proc = run_cli("inspect", str(p))
    assert proc.returncode != 0 and "--format" in proc.stderr
