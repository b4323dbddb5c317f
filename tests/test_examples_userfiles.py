"""examples/userfiles run as documented (from the repository root, on ../shared/data)."""

from __future__ import annotations

import json

import orjson

from tests.conftest import REPO, run_cli


def _records(d):
    return [orjson.loads(line) for f in sorted(d.glob("*.jsonl")) for line in f.read_bytes().splitlines()]


def test_paraphrase_tsv_example(shared_data, tmp_path):
    proc = run_cli("run", str(REPO / "examples" / "userfiles" / "paraphrase_tsv.yaml"), "--out", str(tmp_path), "-q",
                   cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["records_in"] == 4076 == stats["kept"] + stats["rejected"] and stats["invariant_ok"]
    enc = json.loads((tmp_path / "manifest.json").read_text())["inputs"][0]["encoding"]
    assert enc["encoding"] == "utf-8" and enc["method"] == "utf-8"
    train = _records(tmp_path / "train")
    assert {r["label"] for r in train} == {"paraphrase", "different"}
    assert set(train[0]) == {"id", "text", "label", "meta"}  # usecols kept two columns
    assert train[0]["meta"]["source"].endswith("mrpc/train.txt:2")


def test_web_pages_example(shared_data, tmp_path):
    proc = run_cli("run", str(REPO / "examples" / "userfiles" / "web_pages.yaml"), "--out", str(tmp_path), "-q",
                   cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    recs = _records(tmp_path / "data")
    assert len(recs) >= 15 and all(r["meta"]["url"].startswith("https://") for r in recs)
    assert all(r["meta"]["extract"] == "precision" and r["meta"]["title"] for r in recs)
