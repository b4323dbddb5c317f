"""Writers: JSONL, JSON array, CSV, TSV (each optionally .gz/.zst), Parquet; all atomic.

Each writer's output reads back through the matching reader in ``readers.py``. What a format
cannot hold is said here rather than lost quietly:

* CSV/TSV hold strings only: non-string values are written as JSON text (``3``, ``["a"]``) and
  read back as those strings; ``None`` and a missing key are both written as an empty cell.
* TSV has no quoting (as GLUE writes it), so a value holding a tab or a line break is an error
  naming the record and field (write .csv or .jsonl instead).
* Parquet: columns are the union of the keys of all records (a key a record lacks reads back
  as ``None``); a column Arrow cannot hold exactly (mixed types, empty objects, objects with
  differing keys) is stored as JSON text and listed in the file's metadata, so that
  ``read_parquet`` restores it exactly.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from tuneprep.io.readers import PARQUET_JSON_COLUMNS_KEY


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
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
    """One JSON Lines line (UTF-8, no spaces, trailing newline); numpy values allowed."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


@contextmanager
def _compressed(fh: IO[bytes], path: Path) -> Iterator[IO[bytes]]:
    """Wrap ``fh`` in a compressor chosen by the extension (.gz, .zst), closed on exit."""
    name = path.name.lower()
    if name.endswith(".gz"):
        # filename="" and mtime=0 keep the temporary file's name and the time out of the
        # header, so the same records always give the same bytes.
        out: IO[bytes] = gzip.GzipFile(filename="", fileobj=fh, mode="wb", mtime=0)  # type: ignore[assignment]
    elif name.endswith(".zst"):
        import zstandard

        out = zstandard.ZstdCompressor().stream_writer(fh, closefd=False)  # type: ignore[assignment]
    else:
        yield fh
        return
    try:
        yield out
    finally:
        out.close()


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines (compressed by extension), streaming; returns the count."""
    path = Path(path)
    n = 0
    with atomic_open(path) as fh, _compressed(fh, path) as out:
        for rec in records:
            out.write(dumps_line(rec))
            n += 1
    return n


def write_json(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write a JSON array, one record per line, streaming (compressed by extension)."""
    path = Path(path)
    n = 0
    with atomic_open(path) as fh, _compressed(fh, path) as out:
        out.write(b"[")
        for rec in records:
            out.write((b",\n" if n else b"\n") + orjson.dumps(rec, option=orjson.OPT_SERIALIZE_NUMPY))
            n += 1
        out.write(b"\n]\n")
    return n


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return v
    return "" if v is None else orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _all_keys(rows: list[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            keys.setdefault(k, None)
    return list(keys)


def write_csv(path: str | Path, records: Iterable[dict[str, Any]], delimiter: str = ",") -> int:
    """CSV with a header of all keys seen (first-seen order); ``delimiter="\\t"`` writes TSV."""
    import csv
    import io

    if delimiter == "\t":
        return write_tsv(path, records)
    path = Path(path)
    rows = list(records)
    keys = _all_keys(rows)
    with atomic_open(path) as fh, _compressed(fh, path) as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        w = csv.writer(text, delimiter=delimiter, lineterminator="\n")
        w.writerow(keys)
        for r in rows:
            w.writerow([_cell(r.get(k)) for k in keys])
        text.flush()
        text.detach()
    return len(rows)


def write_tsv(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """TSV without quoting (header of all keys seen); a tab or line break in a value is an error."""
    path = Path(path)
    rows = list(records)
    keys = _all_keys(rows)
    for k in keys:
        if any(c in k for c in "\t\r\n"):
            raise ValueError(f"{path}: column name {k!r} holds a tab or line break; TSV cannot hold it")
    with atomic_open(path) as fh, _compressed(fh, path) as out:
        out.write(("\t".join(keys) + "\n").encode())
        for i, r in enumerate(rows):
            cells = [_cell(r.get(k)) for k in keys]
            for k, c in zip(keys, cells, strict=True):
                if "\t" in c or "\n" in c or "\r" in c:
                    raise ValueError(
                        f"{path}: record {r.get('id', i + 1)!r} field '{k}' holds a tab or line break; "
                        "TSV has no quoting, write .csv or .jsonl instead"
                    )
            out.write(("\t".join(cells) + "\n").encode())
    return len(rows)


def write_parquet(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Parquet with one column per key seen in any record (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    rows = list(records)
    keys = _all_keys(rows)
    arrays, fields, json_cols = [], [], []
    for k in keys:
        values = [r.get(k) for r in rows]
        try:
            arr = pa.array(values)
            # Parquet cannot store a struct without fields; and Arrow merges objects with
            # different keys into one struct (absent keys read back as None): both would not
            # round-trip, so such columns are stored as JSON text instead.
            if _has_empty_struct(arr.type) or (pa.types.is_nested(arr.type) and arr.to_pylist() != values):
                raise pa.ArrowInvalid("column does not round-trip through Arrow")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            arr = pa.array([None if v is None else orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()
                            for v in values], type=pa.string())
            json_cols.append(k)
        arrays.append(arr)
        fields.append(pa.field(k, arr.type))
    meta = {PARQUET_JSON_COLUMNS_KEY: orjson.dumps(json_cols)} if json_cols else None
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))
    with atomic_open(path) as fh:
        pq.write_table(table, fh)
    return len(rows)


def _has_empty_struct(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_has_empty_struct(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_empty_struct(t.value_type)
    return False


def write_records(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write by extension: .jsonl/.ndjson, .json, .csv, .tsv (each optionally .gz/.zst), .parquet."""
    name = str(path).lower()
    compressed = name.endswith((".gz", ".zst"))
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
        return write_tsv(path, records)
    if name.endswith((".parquet", ".pq")):
        if compressed:
            raise ValueError(f"{path}: Parquet is compressed inside the file; drop the .gz/.zst suffix")
        return write_parquet(path, records)
    raise ValueError(f"{path}: cannot tell the output format from the extension "
                     "(.jsonl, .json, .csv, .tsv, .parquet, optionally .gz/.zst)")
