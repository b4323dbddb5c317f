"""examples/multilingual/recipe.yaml runs on real multilingual text and cleans it exactly as ftfy would."""

from __future__ import annotations

import json

import ftfy
import yaml

from tests.conftest import REPO, run_cli
from tuneprep.ops.clean import CleanWhitespace
from tuneprep.textsamples import chatterbot_texts, ftfy_test_cases


def test_multilingual_example_recipe(tmp_path):
    # ChatterBot in 28 languages plus ftfy's own mojibake cases: real text, several scripts.
    texts = [t for _, t in chatterbot_texts()] + [t for _, t in ftfy_test_cases()]
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "part-0.jsonl", "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": f"t{i}", "text": t}, ensure_ascii=False) + "\n")
    recipe = yaml.safe_load((REPO / "examples" / "multilingual" / "recipe.yaml").read_text())
    recipe["input"]["path"] = str(data / "*.jsonl")
    recipe["output"]["path"] = str(tmp_path / "prep")
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))

    proc = run_cli("run", str(tmp_path / "recipe.yaml"), "-w", "2", "-q")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads((tmp_path / "prep" / "stats.json").read_text())
    assert stats["records_in"] == len(texts) and stats["invariant_ok"]
    kept = [json.loads(line) for f in sorted((tmp_path / "prep" / "data").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines()]
    assert len(kept) > 5000
    # Every kept text is what plain ftfy (the op's configuration) and the whitespace step make of it.
    config = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False)
    ws = CleanWhitespace()
    by_id = {f"t{i}": t for i, t in enumerate(texts)}
    changed = 0
    for r in kept:
        expected = ws._clean(ftfy.fix_text(by_id[r["id"]], config))
        assert r["text"] == expected, r["id"]
        changed += ftfy.fix_text(by_id[r["id"]], config) != by_id[r["id"]]
    assert changed > 100  # mojibake cases and full-width CJK punctuation
