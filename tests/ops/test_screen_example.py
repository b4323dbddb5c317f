"""examples/screen/recipe.yaml runs as written (its steps unchanged) on the first 150 conversations of its
input, and each screening step does its work: language and quality drops with reasons, PII redacted."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPO, run_cli
from tuneprep.datasets import chatterbot_english

pytestmark = pytest.mark.slow


def test_screen_example_recipe(tmp_path):
    recipe = yaml.safe_load((REPO / "examples" / "screen" / "recipe.yaml").read_text())
    src = chatterbot_english().read_text().splitlines()
    # the 300 first conversations, plus every one the full run is known to treat specially
    keep = src[:150] + [ln for ln in src[300:] if "que veut dire" in ln or "commander Data" in ln.lower()
                        or "you are immature" in ln]
    (tmp_path / "in.jsonl").write_text("\n".join(keep) + "\n")
    recipe["input"]["path"] = str(tmp_path / "in.jsonl")
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    # one worker: the NER model is loaded once
    proc = run_cli("run", str(tmp_path / "recipe.yaml"), "--out", str(tmp_path / "out"), "-q", "-w", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["records_in"] == len(keep)
    by_step = {s["step"]: s for s in stats["steps"]}
    assert by_step["3:filter.language"]["dropped"].get("language", 0) >= 1
    assert sum(by_step["4:filter.quality"]["dropped"].values()) >= 1
    rejects = [json.loads(ln) for f in (tmp_path / "out" / "rejects").glob("*.jsonl") for ln in f.open()]
    assert all(r["reason"] and r["source"] for r in rejects)
    kept = [json.loads(ln) for f in (tmp_path / "out" / "data").glob("*.jsonl") for ln in f.open()]
    redacted = [r for r in kept if r["meta"]["scores"]["clean.pii"]["count"]]
    assert redacted and all("<PERSON>" in "".join(m["content"] for m in r["messages"]) or
                            "<" in "".join(m["content"] for m in r["messages"]) for r in redacted)
    assert all(set(r["meta"]["scores"]) >= {"filter.language", "filter.quality", "clean.pii"} for r in kept)
