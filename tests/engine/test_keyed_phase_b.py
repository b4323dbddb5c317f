"""Phase B of a final dedup.exact in parallel (engine/keyed.py) writes the serial path's files, byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from array import array
from collections import Counter
from pathlib import Path

import pytest
import yaml

import tuneprep.engine.keyed as keyed
from tuneprep.engine import shard as shard_mod
from tuneprep.engine.local import run_recipe
from tuneprep.recipe import parse_recipe

STEPS = [{"op": "clean.unicode"}, {"op": "clean.whitespace"}, {"op": "filter.length", "min_words": 3},
         {"op": "dedup.exact"}]


def files(out: Path) -> dict[str, bytes]:
    """Every output file (data and rejects) by relative path, as bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jsonl"))}


def counts(out: Path) -> dict:
    """stats.json without its timings."""
    stats = json.loads((out / "stats.json").read_text())
    for s in stats["steps"]:
        s.pop("seconds")
    stats.pop("wall_seconds")
    return stats


@pytest.fixture(params=["rotten_tomatoes", "sst2"])
def corpus(request, rt_path, shared_data, tmp_path) -> dict:
    if request.param == "rotten_tomatoes":
        return {"path": str(rt_path)}
    # SST-2 has no exact duplicates: a third file re-sends every third row of the first (a TSV
    # file is one shard, so the phase B joins shards and drops duplicates across them). The
    # second holds its rows of fewer than 3 words: a shard that keeps nothing, in the middle.
    src = shared_data / "sst2" / "train_sample_5000.tsv"
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    short, again = tmp_path / "short.tsv", tmp_path / "again.tsv"
    short.write_text(lines[0] + "".join(x for x in lines[1:] if len(x.split("\t")[0].split()) < 3),
                     encoding="utf-8")
    again.write_text(lines[0] + "".join(lines[1::3]), encoding="utf-8")
    return {"path": [str(src), str(short), str(again)], "text_field": "sentence"}


HASH_SPLIT = {"method": "hash", "train": 0.8, "val": 0.1, "test": 0.1, "seed": 5}


@pytest.mark.parametrize("split", [None, HASH_SPLIT], ids=["data", "hash_split"])
def test_parallel_phase_b_equals_serial(tmp_path, corpus, monkeypatch, split):
    """Also under a hash split, where the workers route each kept record to its split."""
    def run(name: str) -> Path:
        # Small parts: the joined shards cross part boundaries.
        recipe = parse_recipe({"input": corpus, "steps": STEPS, "max_reject_fraction": 1.0,
                               "output": {"path": str(tmp_path / name), "part_size": 1500},
                               **({"split": split} if split else {})})
        res = run_recipe(recipe, workers=2, shard_bytes=60_000)
        assert res.shards >= 2
        return tmp_path / name

    calls = []
    real = keyed.run_keyed
    monkeypatch.setattr(keyed, "run_keyed", lambda *a, **k: calls.append(1) or real(*a, **k))
    parallel = run("parallel")
    assert calls == [1]  # the parallel path ran
    monkeypatch.setattr(keyed, "applies", lambda *a, **k: False)
    serial = run("serial")
    assert calls == [1]  # ... and here the serial one

    assert files(parallel) == files(serial)
    assert len(list((serial / ("train" if split else "data")).glob("part-*.jsonl"))) > 1
    if split:
        assert all(list((serial / name).glob("part-*.jsonl")) for name in ("val", "test"))
    assert counts(parallel) == counts(serial)
    dedup = counts(serial)["steps"][4]
    assert dedup["dropped"].get("duplicate", 0) > 0  # there were duplicates to drop
    assert (parallel / "rejects" / "4-dedup.exact.jsonl").exists()


def test_hash_split_routed_by_workers_equals_serial(tmp_path, corpus, monkeypatch):
    """No global step, a hash split: the workers route phase A's kept records (keyed.run_routed);
    the files and counts are the serial output pass's."""
    def run(name: str) -> Path:
        recipe = parse_recipe({"input": corpus, "steps": STEPS[:-1], "max_reject_fraction": 1.0, "split": HASH_SPLIT,
                               "output": {"path": str(tmp_path / name), "part_size": 1500}})
        assert run_recipe(recipe, workers=2, shard_bytes=60_000).shards >= 2
        return tmp_path / name

    calls = []
    real = keyed.run_routed
    monkeypatch.setattr(keyed, "run_routed", lambda *a, **k: calls.append(1) or real(*a, **k))
    parallel = run("parallel")
    monkeypatch.setattr(keyed, "routes", lambda *a, **k: False)
    serial = run("serial")
    assert calls == [1]  # the workers routed the first run only
    assert files(parallel) == files(serial)
    assert all(len(list((serial / name).glob("part-*.jsonl"))) >= (2 if name == "train" else 1)
               for name in ("train", "val", "test"))
    assert counts(parallel) == counts(serial)


def test_no_global_step_no_split_copied_by_workers_equals_serial(tmp_path, corpus, monkeypatch):
    """Every step done in phase A, no split: the workers copy the kept records into data/
    (keyed.run_routed without a route); the files and counts are the serial output pass's."""
    def run(name: str) -> Path:
        recipe = parse_recipe({"input": corpus, "steps": STEPS[:-1], "max_reject_fraction": 1.0,
                               "output": {"path": str(tmp_path / name), "part_size": 1500}})
        assert run_recipe(recipe, workers=2, shard_bytes=60_000).shards >= 2
        return tmp_path / name

    calls = []
    real = keyed.run_routed
    monkeypatch.setattr(keyed, "run_routed", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    parallel = run("parallel")
    monkeypatch.setattr(keyed, "routes", lambda *a, **k: False)
    serial = run("serial")
    assert calls == [None]  # the workers copied the first run's records, with no route
    assert files(parallel) == files(serial)
    assert len(list((serial / "data").glob("part-*.jsonl"))) > 1
    assert counts(parallel) == counts(serial)


def test_resume_with_parallel_phase_b_equals_serial_run(tmp_path, rt_path):
    """Killed after shard 3 (phase A on one worker), resumed on two: the parallel phase B reads the
    keys files of the shards done before the kill and writes what an uninterrupted serial run does."""
    base = {"input": {"path": str(rt_path)}, "steps": STEPS, "max_reject_fraction": 1.0}
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump({**base, "output": {"path": str(tmp_path / "ref")}}))
    cli = [sys.executable, "-m", "tuneprep.cli", "run"]
    # One worker: the serial phase B (the parallel one needs two).
    assert subprocess.run([*cli, str(ref), "-q", "-w", "1", "--shard-bytes", "300000"]).returncode == 0
    killed = tmp_path / "k.yaml"
    killed.write_text(yaml.safe_dump({**base, "output": {"path": str(tmp_path / "killed")}}))
    crash = [sys.executable, str(Path(__file__).with_name("crash_after_shard.py")), "3", "run", str(killed),
             "-q", "-w", "1", "--shard-bytes", "300000"]
    assert subprocess.run(crash, capture_output=True, start_new_session=True).returncode == -9
    assert len(list((tmp_path / "killed" / ".work").glob("shard-*.keys.jsonl"))) == 4
    proc = subprocess.run([*cli, str(killed), "-q", "-w", "2", "--shard-bytes", "300000"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "resuming: 4 of" in proc.stderr
    assert files(tmp_path / "killed") == files(tmp_path / "ref")
    got, want = counts(tmp_path / "killed"), counts(tmp_path / "ref")
    assert got["resumed_shards"] == 4
    for d in (got, want):
        d.pop("resumed_shards"), d.pop("workers")
    assert got == want


def test_repeated_id_hashes_small_and_numpy_paths_agree(tmp_path, rt_path, monkeypatch):
    """The duplicate-id check finds the same repeated hashes with a Python set (small runs) and
    with numpy (large runs): real ids, some of them repeated across runs and within one."""
    from tuneprep.io.readers import load_records

    ids = [r["id"] for r in load_records(rt_path)]
    runs, every = [], Counter()
    for i, part in enumerate((ids[:6000], ids[5000:11000] + ids[100:110], ids[10000:])):
        p = tmp_path / f"run{i}.u64"
        hashes = array("Q", (shard_mod._id_hash({"id": x}) for x in part))
        every.update(hashes)
        shard_mod.write_id_hashes(p, hashes)
        assert list(array("Q", p.read_bytes())) == sorted(hashes)
        runs.append(p)
    small = shard_mod.repeated_id_hashes(runs)
    monkeypatch.setattr(shard_mod, "SMALL_ID_RUNS", 0)
    large = shard_mod.repeated_id_hashes(runs, bucket_bytes=16_000)  # several hash buckets
    assert small == large == {h for h, n in every.items() if n > 1}
    assert len(small) >= 1000 + 1000  # at least the two overlaps between runs


def test_records_that_look_like_the_work_line_format(tmp_path, rt_path, monkeypatch):
    """The workers cut each record's JSON out of its work line without parsing it: records whose
    fields and text hold the work line's own separators (``","r":``, ``,"k":``, a field ``k``)
    come out as the serial path writes them."""
    from tuneprep.io.readers import load_records

    texts = [r["text"] for r in load_records(rt_path)[:3000]]
    rows = []
    for i, t in enumerate(texts + texts[::7]):  # every 7th text again: duplicates
        row = {"text": t, "k": ',"k":"' + str(i % 5) + '"}', "r": {"s": '","r":'}, "s": t[:10]}
        if i % 3 == 0:
            row["text"] = t + ' ","r":{"k":"x"},"k":"' + str(i % 2) + '"}'
        rows.append(json.dumps(row, ensure_ascii=i % 2 == 0))
    src = tmp_path / "tricky.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")

    def run(name: str) -> Path:
        recipe = parse_recipe({"input": {"path": str(src)}, "steps": STEPS, "max_reject_fraction": 1.0,
                               "output": {"path": str(tmp_path / name)}})
        assert run_recipe(recipe, workers=2, shard_bytes=100_000).shards > 2
        return tmp_path / name

    parallel = run("parallel")
    monkeypatch.setattr(keyed, "applies", lambda *a, **k: False)
    serial = run("serial")
    assert files(parallel) == files(serial)
    assert counts(parallel) == counts(serial)
    assert counts(serial)["steps"][4]["dropped"]["duplicate"] > 0


def test_many_key_groups_equal_serial_and_cover_every_bucket(tmp_path, corpus, monkeypatch):
    """Groups of a few kilobytes of keys (dozens of decide tasks, each holding its group's keys only):
    every bucket in exactly one group, and the files and counts are the serial path's."""
    from tuneprep.engine.keyfiles import BUCKETS, bucket_sizes

    monkeypatch.setattr(keyed, "GROUP_BYTES", 4_000)
    plans = []  # (bytes of keys per bucket, the groups), taken while the work directory exists

    def plan(shards, wd, workers):
        plans.append((bucket_sizes(wd.keys_index(s.index) for s in shards), real(shards, wd, workers)))
        return plans[-1][1]

    real = keyed.plan_groups
    monkeypatch.setattr(keyed, "plan_groups", plan)

    def run(name: str) -> Path:
        recipe = parse_recipe({"input": corpus, "steps": STEPS, "max_reject_fraction": 1.0,
                               "output": {"path": str(tmp_path / name), "part_size": 1500}})
        assert run_recipe(recipe, workers=2, shard_bytes=60_000).shards >= 2
        return tmp_path / name

    parallel = run("parallel")
    sizes, groups = plans[0]
    assert len(groups) >= sum(sizes) // 4_000 > 10
    assert groups[0][0] == 0 and groups[-1][1] == BUCKETS
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(groups, groups[1:], strict=False))
    # No group much above GROUP_BYTES: at most one bucket more than its share.
    share = sum(sizes) / len(groups)
    assert max(sum(sizes[lo:hi]) for lo, hi in groups) <= share + max(sizes)
    monkeypatch.setattr(keyed, "applies", lambda *a, **k: False)
    serial = run("serial")
    assert files(parallel) == files(serial)
    assert counts(parallel) == counts(serial)
    assert counts(serial)["steps"][4]["dropped"]["duplicate"] > 0


def test_equal_keys_share_a_bucket_in_every_process():
    """The bucket is a stable hash (Python's own str hash differs per process)."""
    from tuneprep.engine.keyfiles import BUCKETS, bucket

    code = "from tuneprep.engine.keyfiles import bucket; print([bucket(k) for k in ('a', 'b' * 40, ['x', 1])])"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert runs == {str([bucket(k) for k in ("a", "b" * 40, ["x", 1])]) + "\n"}
    assert len({bucket(f"key{i}") for i in range(5000)}) > BUCKETS * 0.9


def test_reject_lines_spliced_from_work_lines_equal_the_serialised_ones(rt_path):
    """Phase B writes a dropped record's reject line from the JSON cut out of its work line
    (``reject_bytes``); it equals, for every detail shape on real records, the JSON of the whole
    reject object (duplicate_of beside the reason, the rest of the detail under ``detail``), which
    ``_reject`` writes too; an unparsed row's line carries ``raw`` instead of ``record``."""
    import io

    import orjson

    from tuneprep.io.readers import load_records

    def whole(source: str, detail: dict | None, **body) -> bytes:
        obj = {"step": "dedup.exact", "reason": "duplicate", "source": source}
        obj.update({k: v for k, v in (detail or {}).items() if k == "duplicate_of"})
        rest = {k: v for k, v in (detail or {}).items() if k != "duplicate_of"}
        if rest:
            obj["detail"] = rest
        return orjson.dumps({**obj, **body}) + b"\n"

    details = [None, {}, {"duplicate_of": "rt-1"}, {"duplicate_of": None, "similarity": 0.93},
               {"words": 2, "min_words": 3}, {"match": "é\u2028\"\\", "nested": {"a": [1, 2.5]}}]
    for i, rec in enumerate(load_records(rt_path)[:2000]):
        rec["meta"] = {"source": f"rt.csv:{i}", "scores": {"x": i / 7}}
        source = f"/data/ré \"{i}\".csv:{i + 2}"
        line = shard_mod.kept_line(shard_mod.Item(source, rec), key=f"{i:032x}")
        parts = keyed.kept_parts(line)
        assert parts is not None
        detail = details[i % len(details)]
        want = whole(source, detail, record=rec)
        assert shard_mod.reject_bytes("dedup.exact", "duplicate", *parts, detail) == want
        written = io.BytesIO()
        shard_mod._reject(written, "dedup.exact", "duplicate", source, record=rec, detail=detail)
        assert written.getvalue() == want
        raw = io.BytesIO()
        shard_mod._reject(raw, "dedup.exact", "duplicate", source, raw=rec["text"], detail=detail)
        assert raw.getvalue() == whole(source, detail, raw=rec["text"])
        assert orjson.loads(parts[1] + b"\n") == rec


def test_dedup_decide_keys_equals_apply_global_and_the_generic_default(rt_path):
    """Phase B decides dedup.exact from (key, id) rows (``decide_keys``, no items built); the
    result equals apply_global's over the records and GlobalOp's generic decide_keys (items
    through apply_global), on real records with their duplicates."""
    from tuneprep.io.readers import load_records
    from tuneprep.ops.base import GlobalOp, Item, build_op

    op = build_op("dedup.exact", {})
    op.setup()
    records = load_records(rt_path)[:4000]
    records += [dict(r, id=f"again-{i}") for i, r in enumerate(records[::5])]
    keys = op.prepare_batch(records)
    rows = [(k, r["id"]) for k, r in zip(keys, records, strict=True)]
    fast = [(d.reason, d.detail) if d else None for d in op.decide_keys(iter(rows))]
    generic = [(d.reason, d.detail) if d else None for d in GlobalOp.decide_keys(op, iter(rows))]
    serial = [(d.reason, d.detail) if d else None
              for _, d in op.apply_global(lambda: (Item(str(i), r) for i, r in enumerate(records)))]
    assert fast == generic == serial
    assert sum(d is not None for d in fast) >= 800
