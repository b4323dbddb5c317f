"""The keys side files of a keys-only global step (``dedup.exact``), bucketed by a hash of the key.

Phase A writes, per shard, one ``[key, id, pos]`` line per kept record (``pos``: its position
among the shard's kept records) into ``shard-NNNNN.keys.jsonl``, grouped by ``bucket(key)``:
bucket 0's lines first, then bucket 1's, ... each bucket's in record order; and the byte offset
where each bucket starts (``shard-NNNNN.keys.idx``: ``BUCKETS + 1`` unsigned 64-bit integers).

Records with equal keys share a bucket, so phase B can decide any range of buckets apart from
the others by reading that byte range of every shard's file: in parallel, holding the keys of
that range only (``engine/keyed.py``).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from tuneprep.io.writers import atomic_open

BUCKETS = 1024
"""Fixed, so a shard's file does not depend on the size of the run (a resumed run reuses it)."""


def bucket(key: Any) -> int:
    """The bucket of a key: a stable hash (not Python's ``hash``, which differs per process)."""
    raw = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else orjson.dumps(key)
    return zlib.crc32(raw) % BUCKETS


class KeysWriter:
    """Collects one shard's keys (a shard's keys are a small fraction of its bytes), then writes them."""

    def __init__(self) -> None:
        self.lines: list[list[bytes]] = [[] for _ in range(BUCKETS)]
        self.pos = 0

    def add(self, keys: Iterable[Any], ids: Iterable[Any]) -> None:
        for key, rid in zip(keys, ids, strict=True):
            self.lines[bucket(key)].append(orjson.dumps([key, rid, self.pos]) + b"\n")
            self.pos += 1

    def write(self, path: Path, index_path: Path) -> None:
        offsets = array("Q", [0])
        with atomic_open(path) as fh:
            for part in self.lines:
                data = b"".join(part)
                fh.write(data)
                offsets.append(offsets[-1] + len(data))
        with atomic_open(index_path) as fh:
            fh.write(offsets.tobytes())


def read_offsets(index_path: Path) -> array:
    """A shard's bucket offsets; ValueError when the file is not an index of ``BUCKETS`` buckets."""
    offsets = array("Q")
    offsets.frombytes(index_path.read_bytes())
    if len(offsets) != BUCKETS + 1:
        raise ValueError(f"{index_path}: {len(offsets)} offsets, expected {BUCKETS + 1}")
    return offsets


def bucket_sizes(index_paths: Iterable[Path]) -> list[int]:
    """Bytes of keys per bucket over all the given shards."""
    sizes = [0] * BUCKETS
    for p in index_paths:
        off = read_offsets(p)
        for b in range(BUCKETS):
            sizes[b] += off[b + 1] - off[b]
    return sizes


def read_buckets(path: Path, index_path: Path, lo: int, hi: int) -> list[tuple[Any, Any, int]]:
    """``(key, id, pos)`` of buckets ``lo..hi-1`` of one shard's file."""
    off = read_offsets(index_path)
    with open(path, "rb") as fh:
        fh.seek(off[lo])
        data = fh.read(off[hi] - off[lo])
    return [tuple(orjson.loads(line)) for line in data.splitlines()]  # type: ignore[misc]
