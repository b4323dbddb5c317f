"""dedup.minhash and split.dedup through real recipe runs on the Rotten Tomatoes corpus."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.conftest import REPO, run_cli
from tuneprep.engine.local import run_recipe
from tuneprep.evaluate.leakage import check_leakage
from tuneprep.ops.base import Item, build_op
from tuneprep.recipe import load_recipe, parse_recipe


def _read(d: Path) -> list[dict]:
    return [orjson.loads(x) for f in sorted(d.glob("*.jsonl")) for x in f.read_bytes().splitlines()]


def _run(tmp: Path, steps: list[dict], split: dict | None = None, name: str = "out"):
    data = {"input": {"path": "dataset:rotten_tomatoes", "text_field": "text", "label_field": "label"},
            "steps": steps, "output": {"path": str(tmp / name)}}
    if split:
        data["split"] = split
    res = run_recipe(parse_recipe(data), workers=2)
    return res, tmp / name


@pytest.fixture(scope="module")
def exact_then_minhash(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nd")
    return _run(tmp, [{"op": "dedup.exact"}, {"op": "dedup.minhash", "verify": True}])


def test_minhash_removes_real_pairs_that_exact_dedup_keeps(exact_then_minhash):
    res, out = exact_then_minhash
    assert res.records_in == 13905 and res.records_in == res.kept + res.rejected  # nothing lost
    rejects = _read(out / "rejects")
    exact = {r["record"]["id"] for r in rejects if r["step"] == "dedup.exact"}
    near = {r["record"]["id"]: r for r in rejects if r["step"] == "dedup.minhash"}
    # The same RT review quoted twice: once after the movie's title, once without it.
    #   rt-01294 "About a Boy will warm your heart without making you feel guilty about it."
    #   rt-01306 "Will warm your heart without making you feel guilty about it."
    # Exact dedup keeps both; dedup.minhash rejects the later one with its survivor and similarity.
    for dup, survivor in (("rt-01306", "rt-01294"), ("rt-11781", "rt-11771"), ("rt-03535", "rt-03523")):
        assert dup not in exact
        r = near[dup]
        assert r["reason"] == "near_duplicate" and r["duplicate_of"] == survivor
        assert r["detail"]["similarity_kind"] == "exact_jaccard" and r["detail"]["similarity"] >= 0.7
        assert r["source"].endswith(f":{int(dup[3:]) + 1}")  # path:line of the input row
    kept = {r["id"]: r for r in _read(out / "data")}
    assert kept["rt-01294"]["meta"]["dedup"] == {"cluster": "rt-01294", "cluster_size": 2}
    assert "dedup" not in kept["rt-05000"].get("meta", {})
    stats = json.loads((out / "stats.json").read_text())
    assert stats["steps"][2]["dropped"] == {"near_duplicate": len(near)} and stats["invariant_ok"]


def test_keep_longest_and_highest_score(rt_path):
    rows = {r["id"]: r for r in map(orjson.loads, rt_path.read_bytes().splitlines())}
    recs = [dict(rows[i]) for i in ("rt-01306", "rt-01294", "rt-05000")]
    recs[0]["meta"] = {"q": {"score": 0.9}}
    recs[1]["meta"] = {"q": {"score": 0.2}}
    items = [Item(f"rt.jsonl:{k}", r) for k, r in enumerate(recs)]

    def outcome(keep):
        op = build_op("dedup.minhash", {"keep": keep})
        return [(it.record["id"], d.detail["duplicate_of"] if d else None)
                for it, d in op.apply_global(lambda: iter([Item(i.source, dict(i.record)) for i in items]))]

    assert outcome("first") == [("rt-01306", None), ("rt-01294", "rt-01306"), ("rt-05000", None)]
    assert outcome("longest") == [("rt-01306", "rt-01294"), ("rt-01294", None), ("rt-05000", None)]
    assert outcome("highest_score:q.score") == outcome("first")
    assert outcome("highest_score:meta.q.score") == outcome("first")
    with pytest.raises(ValueError, match="keep must be"):
        build_op("dedup.minhash", {"keep": "best"})


def test_split_dedup_leaves_no_near_duplicate_across_splits(tmp_path):
    split = {"train": 0.8, "val": 0.1, "test": 0.1, "stratify_by": "label", "seed": 0}
    plain, out_plain = _run(tmp_path, [], split, "plain")
    grouped, out_grouped = _run(tmp_path, [], {**split, "dedup": "minhash"}, "grouped")

    def leaks(out):
        train = _read(out / "train")
        held = _read(out / "val") + _read(out / "test")
        return check_leakage(held, train)

    # Without split.dedup, RT's repeated snippets straddle the splits; the eval check sees them.
    assert leaks(out_plain).count > 0
    rep = leaks(out_grouped)
    assert rep.count == 0 and rep.exact == [] and rep.near == []
    assert grouped.records_in == grouped.kept == 13905  # the split drops nothing
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(grouped.splits[name] / 13905 - frac) < 0.01
    labels = {n: {r["label"] for r in _read(out_grouped / n)} for n in ("train", "val", "test")}
    assert all(v == {"positive", "negative", "neutral"} for v in labels.values())


def test_demo_recipe_uses_a_leak_free_split():
    recipe = load_recipe(REPO / "examples" / "sentiment" / "recipe.yaml")
    assert recipe.split is not None and recipe.split.dedup == "minhash"


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=[pytest.mark.slow] if "semantic" in p.name else [])
    for p in sorted((REPO / "examples" / "dedup").glob("*.yaml"))], ids=lambda p: p.name)
def test_dedup_examples_run(path, tmp_path):
    proc = run_cli("run", str(path), "--out", str(tmp_path / "out"), "-q")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["rejected"] > 0


def test_ops_lists_the_new_operators():
    proc = run_cli("ops", "dedup.minhash")
    assert proc.returncode == 0
    for key in ("threshold", "char_ngrams", "num_perm", "bands", "verify", "keep", "short_texts"):
        assert key in proc.stdout
    assert "dedup.semantic" in run_cli("ops").stdout


def test_split_groups_join_group_by_and_duplicate_clusters(rt_path):
    from tuneprep.engine.dedup_split import with_duplicate_groups
    from tuneprep.recipe import SplitConfig

    rows = {r["id"]: r for r in map(orjson.loads, rt_path.read_bytes().splitlines())}
    # rt-01306 repeats rt-01294 (another film's page); give rt-01294 the group of rt-05000
    recs = [dict(rows["rt-01294"], g="a"), dict(rows["rt-01306"], g="b"), dict(rows["rt-05000"], g="a"),
            dict(rows["rt-05001"], g="c")]
    items = [Item(f"x:{i}", r) for i, r in enumerate(recs)]
    cfg = SplitConfig(train=0.5, test=0.5, group_by="g", dedup="minhash", dedup_threshold=0.7)
    groups = [g for _, g in with_duplicate_groups(lambda: iter(items), cfg)]
    assert groups[0] == groups[1] == groups[2] != groups[3]
    cfg = SplitConfig(train=0.5, test=0.5, dedup="exact")
    groups = [g for _, g in with_duplicate_groups(lambda: iter(items), cfg)]
    assert len(set(groups)) == 4  # not equal once normalised: exact keeps them apart
