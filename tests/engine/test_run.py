"""`tuneprep run` end to end: real data, bad input, accounting, resume after SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from tests.conftest import run_cli
from tuneprep.engine.local import run_recipe
from tuneprep.recipe import parse_recipe


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def write_recipe(tmp: Path, recipe: dict) -> Path:
    p = tmp / "recipe.yaml"
    p.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return p


def outputs(out: Path) -> dict[str, list[dict]]:
    return {d.name: [r for f in sorted(d.glob("*.jsonl")) for r in read_jsonl(f)]
            for d in sorted(out.iterdir()) if d.is_dir() and not d.name.startswith(".")}


RT_STEPS = [{"op": "clean.unicode"}, {"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 3},
            {"op": "dedup.exact"}]


def test_real_corpus_split_and_accounting(tmp_path, rt_path):
    recipe = parse_recipe({
        "input": {"path": str(rt_path), "label_field": "label"},
        "steps": RT_STEPS,
        "split": {"train": 0.8, "val": 0.1, "test": 0.1, "stratify_by": "label", "seed": 0},
        "output": {"path": str(tmp_path / "out")},
    })
    res = run_recipe(recipe, workers=2, shard_bytes=400_000)
    assert res.shards > 1
    assert res.records_in == 13_905
    assert res.records_in == res.kept + res.rejected
    out = outputs(tmp_path / "out")
    train, val, test = out["train"], out["val"], out["test"]
    ids = [r["id"] for r in train + val + test]
    assert len(ids) == len(set(ids)) == res.kept
    # Exact duplicates (normalised) were removed: every kept text is unique after normalisation.
    from tuneprep.ops.text import normalize_for_dedup

    norm = [normalize_for_dedup(r["text"]) for r in train + val + test]
    assert len(set(norm)) == len(norm)
    # Stratified: each split's label ratio is within 1 point of the whole.
    from collections import Counter

    whole = Counter(r["label"] for r in train + val + test)
    for split in (train, val, test):
        c = Counter(r["label"] for r in split)
        for lab in whole:
            assert abs(c[lab] / len(split) - whole[lab] / res.kept) < 0.01
    assert abs(len(test) / res.kept - 0.1) < 0.002
    # Rejects say why and where; duplicates name their survivor, which was kept.
    rejects = [r for f in (tmp_path / "out" / "rejects").glob("*.jsonl") for r in read_jsonl(f)]
    assert len(rejects) == res.rejected
    dups = [r for r in rejects if r["reason"] == "duplicate"]
    assert dups and all(r["duplicate_of"] in set(ids) for r in dups)
    assert all(r["source"].startswith(str(rt_path) + ":") for r in rejects)
    short = [r for r in rejects if r["step"] == "filter.length"]
    assert short and all(len(r["record"]["text"].split()) < 3 for r in short)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["records_in"] == 13_905
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"][0]["sha256"] and manifest["recipe_hash"] == recipe.hash()


def test_same_output_whatever_the_workers(tmp_path, rt_path):
    base = {"input": {"path": str(rt_path)}, "steps": RT_STEPS,
            "split": {"train": 0.9, "test": 0.1, "stratify_by": "label"}}
    a = parse_recipe({**base, "output": {"path": str(tmp_path / "a")}})
    b = parse_recipe({**base, "output": {"path": str(tmp_path / "b")}})
    run_recipe(a, workers=1)
    run_recipe(b, workers=2, shard_bytes=300_000)
    assert outputs(tmp_path / "a") == outputs(tmp_path / "b")


BAD_LINES = [
    b'{"id": "a", "text": "a perfectly fine first record here"}',
    b'{"id": "b", "text": "broken json here',  # malformed JSON
    b'{"id": "c", "text": "bad utf8 \xff\xfe here"}',  # invalid UTF-8
    b'["not", "an", "object"]',  # not an object
    b'{"id": "d", "txt": "missing the text field"}',  # missing field
    b'{"id": "e", "text": 42}',  # non-string text
    b'{"id": "a", "text": "same id as the first record, other text"}',  # duplicate id
    b"",  # blank line: holds no record
    b'{"id": "f", "text": "caf\xc3\xa9 with a crlf line ending"}\r',
]


def make_bad_corpus(tmp: Path) -> Path:
    d = tmp / "bad"
    d.mkdir()
    (d / "mixed.jsonl").write_bytes(b"\n".join(BAD_LINES) + b"\n")
    (d / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "g", "text": "starts with a byte order mark"}\r\n')
    (d / "empty.jsonl").write_bytes(b"")
    big = "word " * (2_000_000)
    (d / "huge.jsonl").write_bytes(orjson.dumps({"id": "h", "text": big}) + b"\n")
    return d


def test_bad_input_is_rejected_with_reasons_never_lost(tmp_path):
    d = make_bad_corpus(tmp_path)
    recipe = parse_recipe({"input": {"path": str(d / "*.jsonl")},
                           "steps": [{"op": "filter.length", "max_words": 1_000_000}],
                           "output": {"path": str(tmp_path / "out")}})
    res = run_recipe(recipe, workers=2)
    assert res.records_in == 10  # 8 non-blank lines of mixed.jsonl + bom + huge (the empty file has none)
    assert res.records_in == res.kept + res.rejected
    kept = {r["id"]: r for r in outputs(tmp_path / "out")["data"]}
    assert set(kept) == {"a", "f", "g"}
    assert kept["f"]["text"] == "café with a crlf line ending"
    assert kept["g"]["text"] == "starts with a byte order mark"
    rejects = {(r["source"].rsplit("/", 1)[1]): r for f in (tmp_path / "out" / "rejects").glob("*.jsonl")
               for r in read_jsonl(f)}
    assert rejects["mixed.jsonl:2"]["reason"] == "parse_error" and "raw" in rejects["mixed.jsonl:2"]
    assert rejects["mixed.jsonl:3"]["reason"] == "parse_error"
    assert "UTF-8" in rejects["mixed.jsonl:3"]["detail"]["error"]
    assert rejects["mixed.jsonl:4"]["reason"] == "not_an_object"
    assert rejects["mixed.jsonl:5"]["reason"] == "missing_field"
    assert rejects["mixed.jsonl:5"]["detail"]["field"] == "text"
    assert rejects["mixed.jsonl:6"]["reason"] == "bad_type"
    assert rejects["mixed.jsonl:7"]["reason"] == "duplicate_id"
    assert rejects["mixed.jsonl:7"]["duplicate_of"] == "a"
    assert rejects["huge.jsonl:1"]["reason"] == "too_many_words"
    assert rejects["huge.jsonl:1"]["detail"]["words"] == 2_000_000


def test_cli_run_prints_invariant_and_exits_zero(tmp_path, rt_path):
    recipe = write_recipe(tmp_path, {"input": {"path": str(rt_path)}, "steps": RT_STEPS[:3],
                                     "output": {"path": str(tmp_path / "out")}})
    proc = run_cli("run", str(recipe), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "records in 13,905 = kept" in proc.stdout


def test_kill_and_resume_gives_the_same_output(tmp_path, rt_path):
    base = {"input": {"path": str(rt_path)}, "steps": RT_STEPS,
            "split": {"train": 0.8, "test": 0.2, "stratify_by": "label"}}
    ref = write_recipe(tmp_path, {**base, "output": {"path": str(tmp_path / "ref")}})
    assert run_cli("run", str(ref), "-q", "-w", "2", "--shard-bytes", "300000").returncode == 0
    killed = tmp_path / "k.yaml"
    killed.write_text(yaml.safe_dump({**base, "output": {"path": str(tmp_path / "killed")}}))
    args = [sys.executable, "-m", "tuneprep.cli", "run", str(killed), "-q", "-w", "1", "--shard-bytes", "300000"]
    # The wrapper SIGKILLs the whole process group right after shard 3 is recorded as done.
    crash = [sys.executable, str(Path(__file__).with_name("crash_after_shard.py")), "3", *args[3:]]
    proc = subprocess.run(crash, capture_output=True, text=True, start_new_session=True)
    assert proc.returncode == -9
    work = tmp_path / "killed" / ".work"
    assert len(list(work.glob("shard-*.done.json"))) == 4
    assert not (tmp_path / "killed" / "stats.json").exists()
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "resuming: 4 of" in proc.stderr
    assert outputs(tmp_path / "killed") == outputs(tmp_path / "ref")
    s1 = json.loads((tmp_path / "ref" / "stats.json").read_text())
    s2 = json.loads((tmp_path / "killed" / "stats.json").read_text())
    assert [(s["step"], s["in"], s["out"], s["dropped"]) for s in s1["steps"]] == \
        [(s["step"], s["in"], s["out"], s["dropped"]) for s in s2["steps"]]
    assert s2["resumed_shards"] == 4


def test_select_sample_and_group_split(tmp_path, rt_path):
    recipe = parse_recipe({
        "input": {"path": str(rt_path)},
        "steps": [{"op": "select.sample", "n": 2000, "seed": 7}],
        "split": {"train": 0.7, "val": 0.15, "test": 0.15, "group_by": "movie_name", "seed": 1},
        "output": {"path": str(tmp_path / "out")},
    })
    res = run_recipe(recipe, workers=2)
    assert res.kept == 2000 and res.rejected == 13_905 - 2000
    out = outputs(tmp_path / "out")
    movies = {name: {r["movie_name"] for r in rows} for name, rows in out.items() if name != "rejects"}
    assert not movies["train"] & movies["test"] and not movies["train"] & movies["val"]
    assert not movies["val"] & movies["test"]
    assert 0.6 < len(out["train"]) / 2000 < 0.8
    # Same seed, same sample.
    res2 = run_recipe(recipe.model_copy(update={"output": recipe.output.model_copy(
        update={"path": str(tmp_path / "again")})}), workers=1)
    assert res2.kept == 2000
    assert outputs(tmp_path / "again")["train"] == out["train"]


@pytest.mark.parametrize("fmt", ["tsv"])
def test_real_tsv_with_label_map(tmp_path, shared_data, fmt):
    recipe = parse_recipe({
        "input": {"path": str(shared_data / "sst2" / "test.tsv"), "text_field": "sentence",
                  "label_field": "label", "label_map": {0: "negative", 1: "positive"}},
        "steps": [{"op": "clean.whitespace"}],
        "output": {"path": str(tmp_path / "out")},
    })
    res = run_recipe(recipe, workers=1)
    assert res.records_in == 872 and res.kept == 872
    from collections import Counter

    labels = Counter(r["label"] for r in outputs(tmp_path / "out")["data"])
    assert labels == {"positive": 444, "negative": 428}


def test_per_record_step_after_a_global_step_is_set_up(tmp_path, rt_path):
    """A per-record op placed after dedup runs in the driver (phase B): it must be set up there too."""
    from tuneprep.ops.base import _REGISTRY, RecordOp, register

    @register
    class NeedsSetup(RecordOp):
        name = "testonly.needs_setup"

        def setup(self) -> None:
            self.suffix = " [set up]"

        def apply(self, record):
            return {**record, "text": record["text"] + self.suffix}  # AttributeError without setup()

    recipe = parse_recipe({"input": {"path": str(rt_path)},
                           "steps": [{"op": "dedup.exact"}, {"op": "testonly.needs_setup"}],
                           "output": {"path": str(tmp_path / "out")}})
    try:
        res = run_recipe(recipe, workers=1)
    finally:
        _REGISTRY.pop(NeedsSetup.name)  # other tests list every registered operator
    kept = outputs(tmp_path / "out")["data"]
    assert len(kept) == res.kept > 13_000
    assert all(r["text"].endswith(" [set up]") for r in kept)
