"""Readers: every supported input format as a stream of ``RawRow`` (one per input row).

A row that cannot be parsed is still yielded, with ``error`` set and the raw text kept, so the
engine can write it to rejects (reason ``parse_error``): input is never silently skipped. Rows
that parse but are not objects (``[1, 2]``, ``"abc"``) are yielded as they are; turning them
into rejects is ``records.to_record``'s job. Blank (whitespace-only) lines of line formats
hold no record and are passed over; so is a file that is empty or only whitespace.

Formats: ``jsonl`` (also ``.gz`` / ``.zst`` / ``.bz2``), ``json`` (array, or one object),
``csv`` / ``tsv`` (header row), ``parquet``, ``txt`` (one document per line) and ``txt-doc``
(one per file), and ``hf`` (a Hugging Face ``datasets`` directory written by ``save_to_disk``).

Text input: a UTF-8 BOM is dropped, CRLF line ends are read as LF. Byte-range reading
(``read_rows(path, fmt, start, end)``, uncompressed ``jsonl``/``txt`` only) yields exactly the
rows that *start* in ``[start, end)``, with the same line numbers as reading the whole file, so
any set of split points partitions the file.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tuneprep.io import fs
from tuneprep.io.chat import convert_input
from tuneprep.io.delimited import read_tsv
from tuneprep.io.dialect import ReadOptions, read_with_options
from tuneprep.io.fs import open_binary
from tuneprep.io.jsonfile import _read_all, read_json
from tuneprep.io.lines import byte_ranges, is_splittable, read_jsonl, read_txt
from tuneprep.io.rows import (
    BOM,
    COMPRESSED,
    FORMATS,
    LINE_FORMATS,
    MOJIBAKE_BOM,
    PARQUET_JSON_COLUMNS_KEY,
    InputError,
    RawRow,
    _utf8_error,
)
from tuneprep.records import FieldMapping, RecordError, to_record
from tuneprep.urls import is_url, source_name

__all__ = ["BOM", "COMPRESSED", "FORMATS", "LINE_FORMATS", "MOJIBAKE_BOM", "PARQUET_JSON_COLUMNS_KEY",
           "InputError", "RawRow", "open_binary", "read_tsv", "read_rows", "load_records", "detect_format",
           "expand_inputs", "byte_ranges", "is_splittable"]

def detect_format(path: str | Path) -> str:
    """Format from the file name (compression suffixes ignored) or a directory layout."""
    if fs.isdir(path):
        if _is_hf_dir(path):
            return "hf"
        raise InputError(f"{path}: a directory, but not a Hugging Face datasets directory")
    name = Path(path).name.lower()  # the last part of a URL too
    for comp in COMPRESSED:
        if name.endswith(comp):
            name = name[: -len(comp)]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    mapping = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv", "tsv": "tsv",
               "parquet": "parquet", "pq": "parquet", "txt": "txt", "text": "txt", "md": "txt-doc",
               "html": "html", "htm": "html", "warc": "warc"}
    if suffix not in mapping:
        raise InputError(f"{path}: cannot tell the format from the extension '.{suffix}'; set the format "
                         f"(input.format in a recipe, --format on the command line; one of {', '.join(FORMATS)})")
    return mapping[suffix]


def _is_hf_dir(p: str | Path) -> bool:
    # A datasets directory is read by `datasets` from a local path only.
    return not is_url(p) and any((Path(p) / f).exists() for f in ("dataset_info.json", "dataset_dict.json",
                                                                  "state.json"))


def expand_inputs(patterns: list[str] | str) -> list[str]:
    """Expand globs in order, without repeats; raises InputError naming each glob that matched nothing.

    Directories a glob matches are left out unless they are Hugging Face datasets directories
    (``data/**`` means the files below ``data``); a directory named without a glob is kept.
    """
    if isinstance(patterns, (str, Path)):
        patterns = [str(patterns)]
    out: list[str] = []
    seen: set[str] = set()
    for pat in patterns:
        pat = str(pat) if is_url(pat) else os.path.expanduser(str(pat))
        matches = fs.glob(pat)
        if glob.has_magic(pat):
            matches = [m for m in matches if not fs.isdir(m) or _is_hf_dir(m)]
        if not matches:
            raise InputError(f"input.path: '{pat}' matched no file")
        for m in matches:
            if m not in seen:
                seen.add(m)
                out.append(m)
    return out


def read_txt_doc(path: str | Path) -> Iterator[RawRow]:
    """Plain text, the whole file as one document (CRLF read as LF). An empty file gives no row."""
    data = _read_all(path)
    if not data.strip():
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        yield RawRow(1, raw=data.decode("utf-8", errors="backslashreplace"), error=_utf8_error(data))
        return
    yield RawRow(1, obj={"text": text.replace("\r\n", "\n")})


# JSON arrays bigger than this are split into elements while streaming (bounded memory) instead
# of being parsed whole; a whole parse of a big array takes several times its size in memory.
def read_parquet(path: str | Path) -> Iterator[RawRow]:
    """Parquet, streamed in batches; rows numbered from 1. Columns that tuneprep's writer stored
    as JSON text (listed in the file's metadata) are decoded back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fs.getsize(path) == 0:
        return
    # A URL is read through its fsspec file (Parquet reads the footer first: the file seeks).
    with fs.open_input(path) if is_url(path) else nullcontext(path) as src:
        try:
            pf = pq.ParquetFile(src)
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"{path}: not a readable Parquet file: {e}") from None
        meta = pf.schema_arrow.metadata or {}
        json_cols = set(orjson.loads(meta[PARQUET_JSON_COLUMNS_KEY])) if PARQUET_JSON_COLUMNS_KEY in meta else set()
        i = 0
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                i += 1
                for col in json_cols:
                    if row.get(col) is not None:
                        row[col] = orjson.loads(row[col])
                yield RawRow(i, obj=row)


def read_hf(path: str | Path) -> Iterator[RawRow]:
    """A ``datasets`` directory from ``save_to_disk``: a Dataset, or a DatasetDict (all splits
    in order, each row given a ``split`` field unless it has one)."""
    if is_url(path):
        raise InputError(f"{path}: a Hugging Face datasets directory is read from a local path only")
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on extras
        raise InputError(f"{path}: reading a Hugging Face datasets directory needs `pip install tuneprep[hf]`") from e
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise InputError(f"{path}: not a readable Hugging Face datasets directory: {e}") from None
    splits = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
    i = 0
    for split, d in splits:
        for row in d:
            i += 1
            if split is not None:
                row = {**row, "split": row.get("split", split)}
            yield RawRow(i, obj=row)


def _refuse_utf16(path: str | Path) -> None:
    """UTF-16 text (Excel's "Unicode text" export) would make every row an error: say so once."""
    if fs.isfile(path) and not str(path).lower().endswith(COMPRESSED):
        with fs.open_input(path) as fh:
            head = fh.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError(f"{path}: the file is UTF-16 (it starts with a UTF-16 byte order mark); "
                             "set input.encoding: utf-16 (or auto), or convert it, e.g. `iconv -f UTF-16 -t UTF-8`")


def read_rows(path: str | Path, fmt: str | None = None, start: int | None = None,
              end: int | None = None, options: ReadOptions | None = None) -> Iterator[RawRow]:
    """Every row of one input (or of one byte range of an uncompressed jsonl/txt file).

    ``options`` (a ``dialect.ReadOptions``: encoding, delimiter, header, pattern…) sends the
    file to ``io/dialect.py``, unless it asks for nothing the readers here do not do already.
    CSV always goes there, for its broken-quote check.
    """
    if not fs.exists(path):
        raise InputError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")
    if (start is not None or end is not None) and not is_splittable(path, fmt):
        raise InputError(f"{path}: format {fmt} cannot be read by byte range (only uncompressed jsonl/txt)")
    if fmt in ("csv", "lines", "html", "warc") or (options is not None and not options.is_default()):
        if start is not None or end is not None:
            raise InputError(f"{path}: format {fmt} with these input options cannot be read by byte range")
        return read_with_options(path, fmt, options or ReadOptions())
    if fmt not in ("parquet", "hf"):
        _refuse_utf16(path)
    if fmt == "jsonl":
        return read_jsonl(path, start, end)
    if fmt == "txt":
        return read_txt(path, start, end)
    if fmt == "txt-doc":
        return read_txt_doc(path)
    if fmt == "json":
        return read_json(path)
    if fmt == "tsv":
        return read_tsv(path)
    if fmt == "parquet":
        return read_parquet(path)
    return read_hf(path)


@dataclass(frozen=True)
class RecordSource:
    """How parsed rows become records: the recipe's ``input`` minus its paths.

    ``mapping``: which fields hold text, id, label, messages; ``label_map``: raw label values
    renamed (unmapped values kept); ``convert_from``: a chat style (or ``auto``) converted to
    ``messages`` on read.
    """

    mapping: FieldMapping = field(default_factory=FieldMapping)
    label_map: dict[str, str] | None = None
    convert_from: str | None = None


@dataclass
class Reject:
    """An input row that is no valid record: where (``path:line``), why, and what was read."""

    source: str
    line: int
    reason: str
    error: str
    field: str | None = None
    record: Any = None  # the parsed row, when it parsed
    raw: str | None = None  # the raw text, when it did not parse
    unparsed: bool = False  # the row could not be parsed (no record was mapped)


@dataclass
class SourcedRecord:
    """A valid record and where it came from (``path:line``)."""

    source: str
    record: dict[str, Any]
    line: int = 0
    row: Any = None  # the parsed input row the record was made from (label checks look at its fields)


def iter_records(path: str | Path, fmt: str | None = None, start: int | None = None, end: int | None = None,
                 source: RecordSource | None = None,
                 options: ReadOptions | None = None) -> Iterator[SourcedRecord | Reject]:
    """The record source: every row of ``path`` (or of its byte range) as a record or a reject.

    Parsing, chat conversion, field mapping and validation (``records.to_record``) and the
    label_map happen here and only here; the engine, training, evaluation, annotation and
    ``load_records`` all read through it. Nothing is skipped: a row that is no valid record is
    yielded as a Reject with its reason.
    """
    src = source or RecordSource()
    label_map = src.label_map
    name = source_name(str(path))  # a file:// URL is named as its local file, as when read by path
    for row in read_rows(path, fmt, start, end, options):
        where = f"{name}:{row.line}"
        if row.error:
            yield Reject(where, row.line, row.reason, row.error, raw=row.raw, unparsed=True)
            continue
        try:
            obj = convert_input(row.obj, src.convert_from) if src.convert_from else row.obj
            rec = to_record(obj, src.mapping, name, row.line)
        except RecordError as e:
            yield Reject(where, row.line, e.reason, str(e), e.field, record=row.obj)
            continue
        if label_map and isinstance(rec.get("label"), str):
            rec["label"] = label_map.get(rec["label"], rec["label"])
        yield SourcedRecord(where, rec, row.line, row.obj)


def load_records(path: str | Path, fmt: str | None = None, *, label_map: dict[str, str] | None = None,
                 convert_from: str | None = None, **mapping: Any) -> list[dict[str, Any]]:
    """Read a whole file into records (field mapping as in the recipe). Raises on the first bad row.

    For library users and the train/eval/annotate verbs, which need every record to be valid;
    the recipe engine instead turns bad rows into rejects (both read through ``iter_records``).
    """
    source = RecordSource(FieldMapping(**mapping), label_map, convert_from)
    out = []
    for item in iter_records(path, fmt, source=source):
        if isinstance(item, Reject):
            if item.unparsed:
                raise InputError(f"{path}:{item.line}: {item.error}")
            where = f" (field '{item.field}')" if item.field else ""
            raise InputError(f"{path}:{item.line}{where}: {item.error}")
        out.append(item.record)
    return out
