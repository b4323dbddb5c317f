"""The example recipes run as documented: examples/sft end to end (convert, clean, dedup, split,
train --task sft, eval --method generate) on the real ChatterBot corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_sft_example_end_to_end(tmp_path):
    prep, tuned, ev = tmp_path / "prep", tmp_path / "tuned", tmp_path / "eval"
    proc = run_cli("run", str(REPO / "examples" / "sft" / "recipe.yaml"), "--out", str(prep), "-q")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((prep / "stats.json").read_text())
    assert stats["records_in"] == 2026 and stats["invariant_ok"]
    train = [r for f in sorted((prep / "train").glob("*.jsonl")) for r in read_jsonl(f)]
    test = [r for f in sorted((prep / "test").glob("*.jsonl")) for r in read_jsonl(f)]
    assert train and test and all(r["messages"][0]["role"] == "user" for r in train)
    # group_by: category — no topic straddles train and test.
    assert not {r["category"] for r in train} & {r["category"] for r in test}
    proc = run_cli("train", "--task", "sft", "--data", str(prep), "--out", str(tuned), "--max-steps", "2",
                   "--batch-size", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = read_jsonl(tuned / "train_log.jsonl")
    assert [e["step"] for e in log if "loss" in e][:2] == [1, 2]
    proc = run_cli("eval", str(tuned), "--data", str(prep), "--method", "generate", "--limit", "4",
                   "--out", str(ev), "-q")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["n"] == 4
    for key in ("exact_match", "token_f1", "rouge_l"):
        assert 0.0 <= metrics[key] <= 1.0
    preds = read_jsonl(ev / "predictions.jsonl")
    assert len(preds) == 4 and all(isinstance(p["prediction"], str) for p in preds)
