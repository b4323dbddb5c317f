"""`tuneprep demo --quick`: every stage on real data; the tuned model must beat zero-shot."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_quick_demo_runs_every_stage_and_tuning_helps(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for path in ("prep/stats.json", "prep/manifest.json", "base/metrics.json", "base/predictions.jsonl",
                 "tuned/metrics.json", "tuned/predictions.jsonl", "compare.json", "report.html", "train/config.json"):
        assert (out / path).exists(), path
    stats = json.loads((out / "prep" / "stats.json").read_text())
    assert stats["records_in"] == 13_905 and stats["invariant_ok"]
    base = json.loads((out / "base" / "metrics.json").read_text())
    tuned = json.loads((out / "tuned" / "metrics.json").read_text())
    assert base["n"] == tuned["n"] == 90
    base_ids = [json.loads(line)["id"] for line in (out / "base" / "predictions.jsonl").read_text().splitlines()]
    tuned_ids = [json.loads(line)["id"] for line in (out / "tuned" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(base_ids) == sorted(tuned_ids)
    assert tuned["f1_macro"] > base["f1_macro"], (base["f1_macro"], tuned["f1_macro"])
    assert "macro-F1" in proc.stdout and "report:" in proc.stdout
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
