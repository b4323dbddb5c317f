"""``split: {method: hash}`` on real data: each record's split is a pure function of (seed, its group
or id), so it is the same on every run and worker count, keeps groups whole, lands within the
binomial bound of the fractions, moves with the seed, and is independent of ``select.sample``'s
draw with the same seed. The Ray engine's identical outputs: tests/engine/test_ray_engine.py."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import pytest
import xxhash
import yaml

from tests.conftest import REPO, run_cli
from tests.engine.test_run import outputs
from tuneprep.engine.local import run_recipe
from tuneprep.recipe import RecipeError, load_recipe, parse_recipe

SPLITS = ("train", "val", "test")


def two_sigma(f: float, n: int) -> float:
    return 2 * math.sqrt(f * (1 - f) / n)


def split_of_ids(out: Path) -> dict[str, str]:
    return {r["id"]: name for name, rows in outputs(out).items() if name in SPLITS for r in rows}


def same_files(a: Path, b: Path) -> None:
    for name in SPLITS:
        pa, pb = sorted((a / name).glob("*.jsonl")), sorted((b / name).glob("*.jsonl"))
        assert [p.name for p in pa] == [p.name for p in pb]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(pa, pb, strict=True)), name


def split_of_texts(out: Path) -> dict[str, str]:
    return {r["text"]: name for name, rows in outputs(out).items() if name in SPLITS for r in rows}


def test_example_on_sst2_is_the_documented_hash_within_the_bound(shared_data, tmp_path):
    """examples/split/hash.yaml from the CLI (group_by: text): every record sits where xxh3-64 of
    ``seed NUL split NUL g NUL text``, over 2**64, falls among the cumulative fractions; stats.json
    reports the realised shares, each within 2 sigma of its fraction for the 4,155 records kept;
    the same file elsewhere (other derived ids) gives every text the same split."""
    out = tmp_path / "out"
    proc = run_cli("run", str(REPO / "examples" / "split" / "hash.yaml"), "--out", str(out), "-q", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == 5000 and stats["invariant_ok"]
    where = split_of_texts(out)
    n = len(where)
    assert n == stats["kept"] > 3000
    for text, name in where.items():
        u = xxhash.xxh3_64_intdigest(f"0\x00split\x00g\x00{text}".encode()) / 2**64
        assert name == ("train" if u < 0.8 else "val" if u < 0.9 else "test"), text
    moved = load_recipe(REPO / "examples" / "split" / "hash.yaml")
    (tmp_path / "moved").mkdir()
    moved.input.path = shutil.copy(shared_data / "sst2" / "train_sample_5000.tsv", tmp_path / "moved")
    moved.output.path = str(tmp_path / "moved_out")
    run_recipe(moved, workers=1)
    assert split_of_texts(tmp_path / "moved_out") == where
    assert not set(split_of_ids(tmp_path / "moved_out")) & set(split_of_ids(out))  # other ids, same split
    counts = Counter(where.values())
    assert stats["split"]["method"] == "hash" and stats["split"]["records"] == n
    for name, f in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        got = stats["split"]["splits"][name]
        assert got["expected"] == f and got["realised"] == round(counts[name] / n, 6)
        assert got["two_sigma"] == round(two_sigma(f, n), 6)
        assert abs(counts[name] / n - f) <= two_sigma(f, n), (name, counts[name] / n)
    assert "hash split, realised shares: train" in proc.stdout


def _rt_recipe(rt_path: Path, out: Path, **split) -> object:
    return parse_recipe({
        "input": {"path": str(rt_path), "label_field": "label"},
        "steps": split.pop("steps", [{"op": "filter.length", "min_words": 3}]),
        "split": {"method": "hash", "train": 0.7, "val": 0.15, "test": 0.15, "seed": 0, **split},
        "output": {"path": str(out)},
    })


def test_groups_whole_and_same_on_any_worker_count(tmp_path, rt_path):
    """RT grouped by movie (1,449 movies): no movie in two splits; one worker and one shard give
    the same bytes as two workers over many shards; the share of movies per split is within
    the binomial bound over movies (the draws are per group)."""
    one = _rt_recipe(rt_path, tmp_path / "one", group_by="movie_name")
    res1 = run_recipe(one, workers=1, shard_bytes=64 << 20)
    many = _rt_recipe(rt_path, tmp_path / "many", group_by="movie_name")
    res2 = run_recipe(many, workers=2, shard_bytes=400_000)
    assert res1.shards == 1 and res2.shards > 4
    same_files(tmp_path / "one", tmp_path / "many")
    out = outputs(tmp_path / "many")
    movies = {name: {r["movie_name"] for r in out[name]} for name in SPLITS}
    assert all(movies[a].isdisjoint(movies[b]) for a in SPLITS for b in SPLITS if a < b)
    n_movies = sum(len(m) for m in movies.values())
    assert n_movies > 1000
    for name, f in (("train", 0.7), ("val", 0.15), ("test", 0.15)):
        assert abs(len(movies[name]) / n_movies - f) <= two_sigma(f, n_movies), name


def test_seed_moves_records_and_sampling_does_not_bias_the_split(tmp_path, rt_path):
    """A record changes split with the seed as often as two independent draws disagree
    (1 - sum f^2 = 0.465 for 70/15/15); and after select.sample(fraction 0.5, seed 0), whose
    draw keeps the records of low hash, the split with seed 0 still gives val and test their
    shares (the split's hash input is tagged apart from the sample's)."""
    sample = [{"op": "select.sample", "fraction": 0.5, "seed": 0}]
    res0 = run_recipe(_rt_recipe(rt_path, tmp_path / "s0", steps=sample), workers=1)
    res1 = run_recipe(_rt_recipe(rt_path, tmp_path / "s1", steps=sample, seed=1), workers=1)
    assert res0.kept == res1.kept > 6000
    a, b = split_of_ids(tmp_path / "s0"), split_of_ids(tmp_path / "s1")
    assert a.keys() == b.keys()
    moved = sum(a[k] != b[k] for k in a) / len(a)
    expected = 1 - (0.7**2 + 0.15**2 + 0.15**2)
    assert abs(moved - expected) <= two_sigma(expected, len(a)), moved
    n = res0.kept
    for name, f in (("train", 0.7), ("val", 0.15), ("test", 0.15)):
        assert abs(res0.splits[name] / n - f) <= two_sigma(f, n), (name, res0.splits[name] / n)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("stratify_by", "label", "cannot stratify"),
    ("dedup", "minhash", "cannot keep duplicate clusters whole"),
])
def test_recipe_rejects_what_a_hash_cannot_keep(tmp_path, key, value, says):
    recipe = {"input": {"path": "x.jsonl"}, "split": {"train": 0.8, "test": 0.2, "method": "hash", key: value},
              "output": {"path": "out"}}
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    line = next(i for i, s in enumerate(p.read_text().splitlines(), 1) if s.strip().startswith(f"{key}:"))
    assert f"r.yaml:{line}: split.{key}:" in str(e.value) and says in str(e.value)
    assert "method: exact" in str(e.value)


def test_default_method_is_exact_and_leaves_the_recipe_hash_alone():
    """Recipes written before ``method`` existed keep their hash and manifest (ablation caches
    and resumed runs key on them); naming the default changes nothing, naming hash does."""
    base = load_recipe(REPO / "examples" / "sentiment" / "recipe.yaml")
    assert base.split is not None and base.split.method == "exact"
    assert "method" not in base.model_dump(mode="json")["split"]
    data = base.model_dump(mode="json")
    assert parse_recipe({**data, "split": {**data["split"], "method": "exact"}}).hash() == base.hash()
    hashed = {k: v for k, v in data["split"].items() if k not in ("stratify_by", "dedup")}
    assert parse_recipe({**data, "split": {**hashed, "method": "hash"}}).hash() != base.hash()
