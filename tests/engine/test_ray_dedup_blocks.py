"""The Ray engine's exact-dedup block step (``ray_global._duplicates``) against the local rule,
without a cluster: per key, the first item by (shard, position) survives, the rest name it."""

from __future__ import annotations

import random

import orjson
import pytest

pa = pytest.importorskip("pyarrow")

from tuneprep.engine.ray_global import _duplicates  # noqa: E402
from tuneprep.io.readers import load_records  # noqa: E402
from tuneprep.ops.base import build_op  # noqa: E402


def expected(rows: list[tuple[str, int, int, bytes]]) -> dict[tuple[int, int], bytes]:
    first: dict[str, bytes] = {}
    dups = {}
    for key, shard, pos, rid in sorted(rows, key=lambda r: (r[1], r[2])):
        if key in first:
            dups[(shard, pos)] = first[key]
        else:
            first[key] = rid
    return dups


@pytest.mark.parametrize("blocks", [1, 3])
def test_block_duplicates_match_first_seen_on_real_text(rt_path, blocks):
    """Rotten Tomatoes (its real repeats) plus every 5th record again under another id, shuffled,
    cut into key ranges as the sort's blocks are: the same duplicates and survivors as the local rule."""
    recs = load_records(rt_path)
    op = build_op("dedup.exact", {})
    rows = []
    for i, r in enumerate(recs + recs[::5]):
        rows.append((op.prepare(r), i // 1000, i % 1000, orjson.dumps(f"{r['id']}#{i}")))
    random.Random(0).shuffle(rows)
    rows.sort(key=lambda r: r[0])  # blocks hold key ranges (any order inside a block)
    want = expected(rows)
    assert len(want) > 2500
    got = {}
    cuts = [len(rows) * b // blocks for b in range(blocks + 1)]
    for j in range(1, blocks):
        while rows[cuts[j]][0] == rows[cuts[j] - 1][0]:
            cuts[j] += 1  # a key never straddles two blocks
    assert len(set(cuts)) == blocks + 1
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        part = rows[lo:hi][::-1]  # not pre-sorted by (shard, pos)
        t = pa.table({"key": [r[0] for r in part], "shard": pa.array([r[1] for r in part], pa.int64()),
                      "pos": pa.array([r[2] for r in part], pa.int64()), "rid": pa.array([r[3] for r in part], pa.binary())})
        out = _duplicates(t)
        got.update({(s, p): d for s, p, d in zip(*(out.column(c).to_pylist() for c in ("shard", "pos", "dup_of")),
                                                   strict=True)})
    assert got == want


def test_block_of_one_or_none():
    for n in (0, 1):
        t = pa.table({"key": ["a"] * n, "shard": pa.array([0] * n, pa.int64()), "pos": pa.array([0] * n, pa.int64()),
                      "rid": pa.array([b'"x"'] * n, pa.binary())})
        assert _duplicates(t).num_rows == 0
