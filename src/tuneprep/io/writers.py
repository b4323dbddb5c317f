"""Writers: JSONL (optionally .gz/.zst), JSON array, CSV, Parquet; all written atomically."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb"):
    """Write to a temporary file beside ``path`` and rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dumps_line(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def _open_compressed(fh: IO[bytes], path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="wb", mtime=0)  # type: ignore[return-value]
    if name.endswith(".zst"):
        import zstandard

        return zstandard.ZstdCompressor().stream_writer(fh, closefd=False)  # type: ignore[return-value]
    return fh


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines (compressed by extension); returns the count."""
    path = Path(path)
    n = 0
    with atomic_open(path) as fh:
        out = _open_compressed(fh, path)
        for rec in records:
            out.write(dumps_line(rec))
            n += 1
        if out is not fh:
            out.close()
    return n


def write_json(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    rows = list(records)
    with atomic_open(path) as fh:
        fh.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return len(rows)


def write_csv(path: str | Path, records: Iterable[dict[str, Any]], delimiter: str = ",") -> int:
    """CSV with a header of all keys seen; nested values are written as JSON."""
    import csv
    import io

    rows = list(records)
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow([
            v if isinstance(v, str) else ("" if v is None else orjson.dumps(v).decode()) for v in (r.get(k) for k in keys)
        ])
    with atomic_open(path) as fh:
        fh.write(buf.getvalue().encode())
    return len(rows)


def write_parquet(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(records)
    table = pa.Table.from_pylist(rows)
    with atomic_open(path) as fh:
        pq.write_table(table, fh)
    return len(rows)


def write_records(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write by extension: .jsonl(.gz/.zst), .json, .csv, .tsv, .parquet."""
    name = str(path).lower()
    for comp in (".gz", ".zst"):
        if name.endswith(comp):
            name = name[: -len(comp)]
    if name.endswith((".jsonl", ".ndjson")):
        return write_jsonl(path, records)
    if name.endswith(".json"):
        return write_json(path, records)
    if name.endswith(".csv"):
        return write_csv(path, records)
    if name.endswith(".tsv"):
        return write_csv(path, records, "\t")
    if name.endswith(".parquet"):
        return write_parquet(path, records)
    raise ValueError(f"{path}: cannot tell the output format from the extension")
