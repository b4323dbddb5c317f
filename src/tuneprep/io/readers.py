"""Readers: every supported input format as a stream of ``RawRow`` (one per input row).

A row that cannot be parsed is still yielded, with ``error`` set and the raw text kept, so the
engine can write it to rejects (reason ``parse_error``): input is never silently skipped.

Formats: ``jsonl`` (also ``.gz`` / ``.zst``), ``json`` (array, or one object), ``csv`` / ``tsv``
(header row), ``parquet``, ``txt`` (one document per line) and ``txt-doc`` (one per file), and
``hf`` (a Hugging Face ``datasets`` directory written by ``save_to_disk``).
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "txt-doc", "hf")
LINE_FORMATS = ("jsonl", "txt")  # formats whose uncompressed files can be split by byte range
BOM = b"\xef\xbb\xbf"


class InputError(ValueError):
    """Input that cannot be opened at all (not a row-level problem)."""


@dataclass
class RawRow:
    """One input row. ``line`` is 1-based (file line for line formats, row index otherwise)."""

    line: int
    obj: Any = None
    raw: str | None = None
    error: str | None = None
    reason: str = "parse_error"


def detect_format(path: str | Path) -> str:
    """Format from the file name (compression suffixes ignored) or a directory layout."""
    p = Path(path)
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            return "hf"
        raise InputError(f"{path}: a directory, but not a Hugging Face datasets directory")
    name = p.name.lower()
    for comp in (".gz", ".zst", ".bz2"):
        if name.endswith(comp):
            name = name[: -len(comp)]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    mapping = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv", "tsv": "tsv",
               "parquet": "parquet", "pq": "parquet", "txt": "txt", "text": "txt", "md": "txt-doc"}
    if suffix not in mapping:
        raise InputError(f"{path}: cannot tell the format from the extension '.{suffix}'; set input.format "
                         f"(one of {', '.join(FORMATS)})")
    return mapping[suffix]


def expand_inputs(patterns: list[str] | str) -> list[str]:
    """Expand globs in order; raises InputError naming each glob that matched nothing."""
    if isinstance(patterns, str):
        patterns = [patterns]
    out: list[str] = []
    for pat in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pat), recursive=True))
        if not matches:
            raise InputError(f"input.path: '{pat}' matched no file")
        out.extend(m for m in matches if m not in out)
    return out


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently decompressing .gz, .zst and .bz2."""
    name = str(path).lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        import zstandard

        fh = open(path, "rb")  # noqa: SIM115 - closed with the reader
        return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True)  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115


def is_splittable(path: str | Path, fmt: str) -> bool:
    name = str(path).lower()
    return fmt in LINE_FORMATS and not name.endswith((".gz", ".zst", ".bz2"))


def line_number_at(path: str | Path, offset: int) -> int:
    """1-based number of the line that starts at byte ``offset`` (counts newlines before it)."""
    if offset == 0:
        return 1
    count = 0
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0:
            chunk = fh.read(min(1 << 24, remaining))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count + 1


def byte_ranges(path: str | Path, target: int) -> list[tuple[int, int]]:
    """Split a file into ~``target``-byte ranges that start and end on line boundaries."""
    size = os.path.getsize(path)
    if size <= target:
        return [(0, size)]
    bounds = [0]
    with open(path, "rb") as fh:
        pos = target
        while pos < size:
            fh.seek(pos)
            fh.readline()  # move to the start of the next line
            nxt = fh.tell()
            if nxt >= size:
                break
            if nxt > bounds[-1]:
                bounds.append(nxt)
            pos = nxt + target
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:]))


def _iter_lines(path: str | Path, start: int | None, end: int | None) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the newline) for a whole file or one byte range of it."""
    if start is None:
        with open_binary(path) as fh:
            for i, line in enumerate(fh, 1):
                yield i, line
        return
    lineno = line_number_at(path, start)
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        while pos < (end if end is not None else float("inf")):
            line = fh.readline()
            if not line:
                break
            pos += len(line)
            yield lineno, line
            lineno += 1


def _decode(line: bytes, first: bool) -> str:
    if first and line.startswith(BOM):
        line = line[3:]
    return line.rstrip(b"\r\n").decode("utf-8")


def _raw_text(line: bytes, limit: int = 100_000) -> str:
    """The raw line as text for the rejects file (invalid bytes escaped, huge lines cut)."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more chars]"


def read_jsonl(path: str | Path, start: int | None = None, end: int | None = None) -> Iterator[RawRow]:
    """JSON Lines: blank lines are ignored (they hold no record); everything else is a row."""
    for lineno, line in _iter_lines(path, start, end):
        if not line.strip():
            continue
        try:
            text = _decode(line, lineno == 1)
        except UnicodeDecodeError as e:
            yield RawRow(lineno, raw=_raw_text(line), error=f"invalid UTF-8 at byte {e.start}")
            continue
        try:
            yield RawRow(lineno, obj=orjson.loads(text))
        except orjson.JSONDecodeError as e:
            yield RawRow(lineno, raw=_raw_text(line), error=f"invalid JSON: {e}")


def read_txt(path: str | Path, start: int | None = None, end: int | None = None) -> Iterator[RawRow]:
    """Plain text, one document per non-blank line, as ``{"text": line}``."""
    for lineno, line in _iter_lines(path, start, end):
        if not line.strip():
            continue
        try:
            yield RawRow(lineno, obj={"text": _decode(line, lineno == 1)})
        except UnicodeDecodeError as e:
            yield RawRow(lineno, raw=_raw_text(line), error=f"invalid UTF-8 at byte {e.start}")


def read_txt_doc(path: str | Path) -> Iterator[RawRow]:
    """Plain text, the whole file as one document."""
    with open_binary(path) as fh:
        data = fh.read()
    if data.startswith(BOM):
        data = data[3:]
    try:
        yield RawRow(1, obj={"text": data.decode("utf-8").replace("\r\n", "\n")})
    except UnicodeDecodeError as e:
        yield RawRow(1, raw=_raw_text(data[:2000]), error=f"invalid UTF-8 at byte {e.start}")


def read_json(path: str | Path) -> Iterator[RawRow]:
    """A JSON array of rows (or a single object). Rows are numbered from 1."""
    with open_binary(path) as fh:
        data = fh.read()
    if data.startswith(BOM):
        data = data[3:]
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        yield RawRow(1, raw=_raw_text(data[:2000]), error=f"invalid JSON document: {e}")
        return
    rows = obj if isinstance(obj, list) else [obj]
    for i, row in enumerate(rows, 1):
        yield RawRow(i, obj=row)


def read_csv(path: str | Path, delimiter: str = ",") -> Iterator[RawRow]:
    """CSV/TSV with a header row. Line numbers are file lines (header = line 1)."""
    with open_binary(path) as fb:
        raw = fb.read()
    if raw.startswith(BOM):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Decode line by line so that only the bad lines are rejected.
        text = raw.decode("utf-8", errors="surrogateescape")
    # TSV files (e.g. GLUE) carry no quoting: a stray quote must not swallow the following lines.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield RawRow(reader.line_num, raw=None, error=f"CSV error: {e}")
            continue
        lineno = reader.line_num
        if not row or all(not c for c in row):
            continue
        if any("\udc80" <= ch <= "\udcff" for c in row for ch in c):
            yield RawRow(lineno, raw=delimiter.join(row).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                         error="invalid UTF-8")
            continue
        if len(row) != len(header):
            yield RawRow(lineno, raw=delimiter.join(row),
                         error=f"expected {len(header)} columns ({', '.join(header)}), got {len(row)}")
            continue
        yield RawRow(lineno, obj=dict(zip(header, row)))


def read_parquet(path: str | Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    i = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            i += 1
            yield RawRow(i, obj=row)


def read_hf(path: str | Path) -> Iterator[RawRow]:
    """A ``datasets`` directory from ``save_to_disk`` (a Dataset, or a DatasetDict: all splits)."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on extras
        raise InputError(f"{path}: reading a Hugging Face datasets directory needs `pip install tuneprep[hf]`") from e
    ds = datasets.load_from_disk(str(path))
    splits = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
    i = 0
    for split, d in splits:
        for row in d:
            i += 1
            if split is not None:
                row = {**row, "split": row.get("split", split)}
            yield RawRow(i, obj=row)


def read_rows(path: str | Path, fmt: str | None = None, start: int | None = None,
              end: int | None = None) -> Iterator[RawRow]:
    """Every row of one input (or of one byte range of a line-format file)."""
    fmt = fmt or detect_format(path)
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if fmt == "jsonl":
        return read_jsonl(path, start, end)
    if fmt == "txt":
        return read_txt(path, start, end)
    if start is not None:
        raise InputError(f"{path}: format {fmt} cannot be read by byte range")
    if fmt == "txt-doc":
        return read_txt_doc(path)
    if fmt == "json":
        return read_json(path)
    if fmt in ("csv", "tsv"):
        return read_csv(path, "\t" if fmt == "tsv" else ",")
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "hf":
        return read_hf(path)
    raise InputError(f"{path}: unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")


def load_records(path: str | Path, fmt: str | None = None, **mapping: Any) -> list[dict[str, Any]]:
    """Read a whole file into records (field mapping as in the recipe). Raises on the first bad row.

    For library users and the train/eval/annotate verbs, which need every record to be valid;
    the recipe engine instead turns bad rows into rejects.
    """
    from tuneprep.records import FieldMapping, RecordError, to_record

    fm = FieldMapping(**mapping)
    out = []
    for row in read_rows(path, fmt):
        if row.error:
            raise InputError(f"{path}:{row.line}: {row.error}")
        try:
            out.append(to_record(row.obj, fm, str(path), row.line))
        except RecordError as e:
            raise InputError(f"{path}:{row.line}: {e}") from None
    return out
