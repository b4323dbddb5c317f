"""Byte-range reading gives exactly the rows and line numbers of whole-file reading, for any splits."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tuneprep.io import lines
from tuneprep.io.readers import byte_ranges, is_splittable, read_rows

PIECES = [
    b'{"text": "plain"}',
    b'{"text": "caf\xc3\xa9 \xe2\x98\x95"}',  # multi-byte UTF-8: a split may fall inside a character
    b'{"text": broken',
    b'{"text": "bad \xff"}',
    b"[1, 2]",
    b"",  # blank line
    b"   ",
    b"just words",
    b'{"text": "' + b"long " * 300 + b'"}',
]


def random_file(rng: random.Random, path: Path, bom: bool) -> bytes:
    eol = rng.choice([b"\n", b"\r\n", None])
    lines = [rng.choice(PIECES) for _ in range(rng.randint(0, 40))]
    parts = [line + (eol if eol else rng.choice([b"\n", b"\r\n"])) for line in lines]
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(parts)
    if lines and rng.random() < 0.5:
        data = data.rstrip(b"\r\n")  # no trailing newline
    path.write_bytes(data)
    return data


def key(rows):
    return [(r.line, r.obj, r.raw, r.error) for r in rows]


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_any_split_points_partition_the_file(tmp_path: Path, fmt: str) -> None:
    rng = random.Random(1234 if fmt == "jsonl" else 99)
    for trial in range(300):
        path = tmp_path / f"x{trial}.{fmt}"  # a new file each time: line numbers are memoised per file
        data = random_file(rng, path, bom=trial % 7 == 0)
        whole = key(read_rows(path, fmt))
        size = len(data)
        cuts = sorted(rng.randint(0, size) for _ in range(rng.randint(0, 12)))
        bounds = [0, *cuts, size]
        parts = []
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            parts.extend(key(read_rows(path, fmt, start, end)))
        assert parts == whole, (trial, cuts, data)
        # Ranges read in any order (workers finish in any order) number their lines the same.
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        rng.shuffle(spans)
        lines._LINE_CHECKPOINTS.clear()
        shuffled = sorted(row for s, e in spans for row in key(read_rows(path, fmt, s, e)))
        assert shuffled == sorted(whole)


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_byte_ranges_cover_the_file_on_line_starts(tmp_path: Path, fmt: str) -> None:
    rng = random.Random(7)
    for trial in range(200):
        path = tmp_path / f"x{trial}.{fmt}"
        data = random_file(rng, path, bom=False)
        target = rng.randint(1, max(1, len(data)))
        ranges = byte_ranges(path, target)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
        assert all(s == 0 or data[s - 1:s] == b"\n" for s, _ in ranges)
        assert all(s < e for s, e in ranges) or len(data) == 0
        parts = [row for s, e in ranges for row in key(read_rows(path, fmt, s, e))]
        assert parts == key(read_rows(path, fmt))


def test_only_uncompressed_line_formats_split(tmp_path: Path) -> None:
    assert is_splittable("a.jsonl", "jsonl") and is_splittable("a.txt", "txt")
    assert not is_splittable("a.jsonl.gz", "jsonl") and not is_splittable("a.csv", "csv")
    with pytest.raises(ValueError, match="positive"):
        byte_ranges(__file__, 0)
