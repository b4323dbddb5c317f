"""Writers: every writer's output reads back through the matching reader; atomic, deterministic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuneprep.datasets import shared_data_dir
from tuneprep.io.readers import read_rows
from tuneprep.io.writers import atomic_open, dumps_line, write_records

# Typed values, nested objects with differing keys, empty objects, non-ASCII, quotes, CR/LF.
RICH = [
    {"id": "a", "text": 'He said "hi",\r\nthen left.\ttab', "label": ["x", "y"], "meta": {},
     "n": 1, "score": 0.25, "ok": True},
    {"id": "b", "text": "naïve café ☕ 𝔘", "label": "z", "meta": {"scores": {"len": 3}}, "n": None,
     "score": 1.5, "ok": False},
    {"id": "c", "text": "", "label": None, "meta": {"scores": {"other": [1, 2]}, "src": "s"}, "n": 7,
     "score": None, "ok": None},
]
# What CSV/TSV can hold: string values, the same keys in every record, no tab/newline for TSV.
FLAT = [
    {"id": "1", "text": 'a "quoted", comma', "label": "pos"},
    {"id": "2", "text": "naïve café ☕", "label": ""},
    {"id": "3", "text": " leading and trailing spaces ", "label": "neg"},
    {"id": "", "text": "", "label": ""},  # all empty: a row, not a blank line
]


def back(path: Path) -> list:
    rows = list(read_rows(path))
    assert not any(r.error for r in rows)
    return [r.obj for r in rows]


@pytest.mark.parametrize("name", ["o.jsonl", "o.ndjson", "o.jsonl.gz", "o.jsonl.zst", "o.json", "o.json.gz",
                                  "o.json.zst", "o.parquet"])
def test_typed_formats_round_trip_exactly(tmp_path: Path, name: str) -> None:
    assert write_records(tmp_path / name, RICH) == 3
    assert back(tmp_path / name) == RICH
    assert write_records(tmp_path / name, iter([])) == 0
    assert back(tmp_path / name) == []


@pytest.mark.parametrize("name", ["o.csv", "o.csv.gz", "o.tsv", "o.tsv.zst"])
def test_text_tables_round_trip_strings(tmp_path: Path, name: str) -> None:
    assert write_records(tmp_path / name, FLAT) == 4
    assert back(tmp_path / name) == FLAT


def test_csv_holds_line_breaks_and_writes_other_types_as_json(tmp_path: Path) -> None:
    p = tmp_path / "o.csv"
    write_records(p, RICH)
    got = back(p)
    assert got[0]["text"] == RICH[0]["text"]
    assert got[0]["label"] == '["x","y"]' and got[0]["n"] == "1" and got[1]["n"] == ""
    assert got[2]["meta"] == '{"scores":{"other":[1,2]},"src":"s"}'


def test_tsv_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    p = tmp_path / "o.tsv"
    with pytest.raises(ValueError, match=r"record 'a' field 'text' holds a tab or line break"):
        write_records(p, RICH)
    assert not p.exists() and os.listdir(tmp_path) == []  # nothing half-written


def test_atomic_open_leaves_old_file_on_error(tmp_path: Path) -> None:
    p = tmp_path / "out.jsonl"
    write_records(p, FLAT)

    def boom():
        yield FLAT[0]
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_records(p, boom())
    assert back(p) == FLAT and sorted(os.listdir(tmp_path)) == ["out.jsonl"]
    with atomic_open(tmp_path / "sub" / "x.bin") as fh:
        fh.write(b"ok")
    assert (tmp_path / "sub" / "x.bin").read_bytes() == b"ok"


@pytest.mark.parametrize("name", ["a.jsonl.gz", "a.jsonl.zst", "a.parquet", "a.csv.gz"])
def test_same_records_same_bytes(tmp_path: Path, name: str) -> None:
    write_records(tmp_path / name, RICH)
    first = (tmp_path / name).read_bytes()
    write_records(tmp_path / name, RICH)
    assert (tmp_path / name).read_bytes() == first


def test_unknown_extension_and_compressed_parquet(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot tell the output format"):
        write_records(tmp_path / "x.xml", FLAT)
    with pytest.raises(ValueError, match="Parquet is compressed inside"):
        write_records(tmp_path / "x.parquet.gz", FLAT)


def test_dumps_line() -> None:
    import numpy as np

    assert dumps_line({"a": "é", "n": np.int64(3)}) == '{"a":"é","n":3}\n'.encode()


def test_real_alpaca_round_trips_through_every_writer(tmp_path: Path) -> None:
    root = shared_data_dir()
    if root is None or not (root / "alpaca_cleaned_1000.json").exists():
        pytest.skip("shared data absent: alpaca_cleaned_1000.json")
    rows = back(root / "alpaca_cleaned_1000.json")
    for name in ("a.jsonl", "a.jsonl.zst", "a.json", "a.csv", "a.parquet"):
        write_records(tmp_path / name, rows)
        assert back(tmp_path / name) == rows, name
