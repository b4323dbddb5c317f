"""examples/clean runs as documented on the real Rotten Tomatoes corpus; its edits are audited,
counted in stats.json and reviewable with `tuneprep diff`; `tuneprep terms suggest` writes a
glossary that clean.terminology accepts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def test_clean_example_recipe(tmp_path, rt_path):
    out = tmp_path / "rt"
    proc = run_cli("run", str(REPO / "examples" / "clean" / "recipe.yaml"), "--out", str(out), "-q", cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == 13905 and stats["invariant_ok"]
    steps = {s["step"].split(":", 1)[1]: s for s in stats["steps"] if ":" in s["step"]}
    for op in ("clean.normalize", "clean.terminology", "clean.typos"):
        c = steps[op]["counters"]
        assert c["edits"] > 0 and c["records_edited"] > 0, op
        assert sum(v for k, v in c.items() if k.startswith("replace:")) == c["edits"], op
    assert steps["clean.normalize"]["counters"]["rule:quotes"] > 100  # the corpus has curly quotes
    records = [r for f in sorted((out / "data").glob("*.jsonl")) for r in read_jsonl(f)]
    seen = {op: 0 for op in ("clean.normalize", "clean.terminology", "clean.typos")}
    for r in records:
        for op, edits in r.get("meta", {}).get("edits", {}).items():
            seen[op] += len(edits)
            for e in edits:
                assert set(e) >= {"start", "end", "from", "to"} and e["from"] != e["to"]
                assert e["end"] - e["start"] == len(e["from"])
    for op, n in seen.items():  # what stats.json counts is what the records carry (minus dedup rejects)
        assert 0 < n <= steps[op]["counters"]["edits"], op
    # a record without recorded edits is exactly what clean.unicode made of its input: nothing unaudited
    from tuneprep.ops.base import build_op

    unicode_op = build_op("clean.unicode", {})
    unicode_op.setup()
    original = {r["id"]: r["text"] for r in read_jsonl(rt_path)}
    unedited = [r for r in records if "edits" not in r.get("meta", {})]
    assert len(unedited) > 10000
    for r in unedited[:3000]:
        assert r["text"] == unicode_op.fix(original[r["id"]])

    proc = run_cli("diff", str(out), "--show-edits", "--op", "clean.typos", "--sample", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["records_with_edits"] > 50 and len(shown["records"]) == 5
    assert all(list(r["edits"]) == ["clean.typos"] for r in shown["records"])


def test_diff_two_runs_and_terms_suggest(tmp_path, rt_path):
    rows = read_jsonl(rt_path)[:1500]
    data = tmp_path / "rt1500.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for name, steps in (("a", "  - op: clean.whitespace\n"), ("b", "  - op: clean.whitespace\n  - op: clean.normalize\n")):
        (tmp_path / f"{name}.yaml").write_text(f"input: {{path: {data}}}\nsteps:\n{steps}output: {{path: {tmp_path / name}}}\n",
                                               encoding="utf-8")
        proc = run_cli("run", str(tmp_path / f"{name}.yaml"), "-q")
        assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json", "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["common"] == 1500 and d["only_a"] == d["only_b"] == 0 and d["changed"] > 20
    ex = d["examples"][0]
    assert ex["before"] != ex["after"] and "[-" in ex["diff"] and "{+" in ex["diff"]
    assert "clean.normalize" in ex["edits"]
    assert run_cli("diff", str(tmp_path / "nope"), str(tmp_path / "b")).returncode == 2

    glossary = tmp_path / "suggested.yaml"
    proc = run_cli("terms", "suggest", str(data), "-o", str(glossary), "--min-count", "2")
    assert proc.returncode == 0, proc.stderr
    text = glossary.read_text(encoding="utf-8")
    assert "case / hyphen / space / period variants" in text
    from tuneprep.correct.terminology import load_glossary

    assert len(load_glossary(glossary).terms) >= 5  # valid, loadable, non-trivial
