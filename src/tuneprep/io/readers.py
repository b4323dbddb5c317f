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

import bz2
import glob
import gzip
import io
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "txt-doc", "hf", "lines", "html", "warc")
LINE_FORMATS = ("jsonl", "txt")  # formats whose uncompressed files can be split by byte range
COMPRESSED = (".gz", ".zst", ".bz2")
BOM = b"\xef\xbb\xbf"
# The UTF-8 BOM decoded as cp1252/latin-1 and re-encoded as UTF-8 ("ï»¿"): a file that went
# through a wrong decode once. Found at the start of MRPC's header row.
MOJIBAKE_BOM = "\u00ef\u00bb\u00bf"
# Parquet files written by tuneprep name the columns stored as JSON text (see writers.py).
PARQUET_JSON_COLUMNS_KEY = b"tuneprep.json_columns"


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
        if _is_hf_dir(p):
            return "hf"
        raise InputError(f"{path}: a directory, but not a Hugging Face datasets directory")
    name = p.name.lower()
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


def _is_hf_dir(p: Path) -> bool:
    return any((p / f).exists() for f in ("dataset_info.json", "dataset_dict.json", "state.json"))


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
        pat = os.path.expanduser(str(pat))
        matches = sorted(glob.glob(pat, recursive=True))
        if glob.has_magic(pat):
            matches = [m for m in matches if not os.path.isdir(m) or _is_hf_dir(Path(m))]
        if not matches:
            raise InputError(f"input.path: '{pat}' matched no file")
        for m in matches:
            if m not in seen:
                seen.add(m)
                out.append(m)
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
        # The zstd reader has no readline(); BufferedReader adds it. Files written by
        # concatenating frames (zstd's own CLI does this) need read_across_frames.
        raw = zstandard.ZstdDecompressor().stream_reader(fh, closefd=True, read_across_frames=True)
        return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type]
    return open(path, "rb")  # noqa: SIM115


def is_splittable(path: str | Path, fmt: str) -> bool:
    """True when ``read_rows`` can read the file by byte range (uncompressed jsonl/txt)."""
    return fmt in LINE_FORMATS and not str(path).lower().endswith(COMPRESSED)


# Line numbers already counted, per file version: {(path, inode, size, mtime, ctime): {offset: line}}.
# A worker that reads the shards of one file in order then counts each byte once, not once per shard.
_LINE_CHECKPOINTS: dict[tuple[str, int, int, int, int], dict[int, int]] = {}


def line_number_at(path: str | Path, offset: int) -> int:
    """1-based number of the line that starts at byte ``offset`` (counts newlines before it)."""
    if offset <= 0:
        return 1
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    marks = _LINE_CHECKPOINTS.setdefault(key, {0: 1})
    if offset in marks:
        return marks[offset]
    base = max(o for o in marks if o <= offset)
    count, remaining = marks[base], offset - base
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(base)
        while remaining > 0:
            n = fh.readinto(view[: min(len(buf), remaining)])
            if not n:
                break
            count += buf.count(b"\n", 0, n)
            remaining -= n
    if len(_LINE_CHECKPOINTS) > 64:  # bound the memo; old files are rarely read again
        _LINE_CHECKPOINTS.pop(next(iter(_LINE_CHECKPOINTS)))
    if len(marks) < 100_000:
        marks[offset] = count
    return count


def _next_line_start(fh: IO[bytes], offset: int) -> int:
    """The first line start at or after ``offset`` (``offset`` itself if a line starts there)."""
    if offset <= 0:
        return 0
    fh.seek(offset - 1)
    if fh.read(1) == b"\n":
        return offset
    fh.readline()
    return fh.tell()


def byte_ranges(path: str | Path, target: int) -> list[tuple[int, int]]:
    """Split a file into ~``target``-byte ranges that start and end on line boundaries.

    The ranges cover the file exactly, in order, with no gaps; a line longer than ``target``
    makes its range longer. An empty file gives ``[(0, 0)]``.
    """
    if target <= 0:
        raise ValueError(f"byte_ranges: target must be positive, got {target}")
    size = os.path.getsize(path)
    if size <= target:
        return [(0, size)]
    bounds = [0]
    with open(path, "rb") as fh:
        pos = target
        while pos < size:
            nxt = _next_line_start(fh, pos)
            if nxt >= size:
                break
            if nxt > bounds[-1]:
                bounds.append(nxt)
            pos = nxt + target
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _iter_lines(path: str | Path, start: int | None, end: int | None) -> Iterator[tuple[int, bytes]]:
    """(line number, line bytes with its newline) for a whole file or one byte range of it.

    A range owns the lines that start inside it: a range starting mid-line skips to the next
    line, and the line that straddles ``end`` is read to its end.
    """
    if start is None and end is None:
        with open_binary(path) as fh:
            yield from enumerate(fh, 1)
        return
    with open(path, "rb") as fh:
        pos = _next_line_start(fh, start or 0)
        stop = end if end is not None else os.path.getsize(path)
        if pos >= stop:
            return
        lineno = line_number_at(path, pos)
        fh.seek(pos)
        while pos < stop:
            line = fh.readline()
            if not line:
                break
            pos += len(line)
            yield lineno, line
            lineno += 1


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
    elif line.endswith(b"\r"):  # a last line cut after CR
        line = line[:-1]
    return line


def _raw_text(line: bytes) -> str:
    """The raw line as text for the rejects file: invalid bytes escaped (``\\xff``), never cut."""
    return _strip_eol(line).decode("utf-8", errors="backslashreplace")


def _utf8_error(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"invalid UTF-8 at byte {e.start}: {data[e.start:e.start + 4]!r}"
    return None


def read_jsonl(path: str | Path, start: int | None = None, end: int | None = None) -> Iterator[RawRow]:
    """JSON Lines: blank lines are passed over (they hold no record); everything else is a row."""
    for lineno, line in _iter_lines(path, start, end):
        if lineno == 1 and line.startswith(BOM):
            line = line[3:]
        if not line.strip():
            continue
        try:
            yield RawRow(lineno, obj=orjson.loads(line))  # orjson ignores surrounding whitespace, \r
        except orjson.JSONDecodeError as e:
            err = _utf8_error(line)
            yield RawRow(lineno, raw=_raw_text(line), error=err or f"invalid JSON: {e}")


def read_txt(path: str | Path, start: int | None = None, end: int | None = None) -> Iterator[RawRow]:
    """Plain text, one document per non-blank line, as ``{"text": line}`` (line end removed)."""
    for lineno, line in _iter_lines(path, start, end):
        if lineno == 1 and line.startswith(BOM):
            line = line[3:]
        if not line.strip():
            continue
        body = _strip_eol(line)
        try:
            yield RawRow(lineno, obj={"text": body.decode("utf-8")})
        except UnicodeDecodeError:
            yield RawRow(lineno, raw=_raw_text(line), error=_utf8_error(body))


def _read_all(path: str | Path) -> bytes:
    with open_binary(path) as fh:
        data = fh.read()
    return data[3:] if data.startswith(BOM) else data


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
JSON_STREAM_ABOVE = 16 << 20


def read_json(path: str | Path, stream_above: int = JSON_STREAM_ABOVE) -> Iterator[RawRow]:
    """A JSON array of rows (or a single object). Rows are numbered from 1.

    An array over ``stream_above`` bytes (or compressed) is read element by element in bounded
    memory; so is an array that does not parse whole, so that one broken element becomes one
    error row and the others are kept. A truncated array ends with an error row holding the
    cut element. A ``.json`` file that is really JSON Lines (many are) is read as JSON Lines,
    with file line numbers. Any other broken document is one error row holding the whole text.
    """
    with open_binary(path) as fh:
        head = fh.read(1 << 16)
    if head.startswith(BOM):
        head = head[3:]
    first = head.lstrip()[:1]
    big = str(path).lower().endswith(COMPRESSED) or os.path.getsize(path) > stream_above
    if first == b"[" and big:
        yield from _read_json_array(path)
        return
    if first == b"{" and _looks_like_jsonl(head):
        yield from read_jsonl(path)
        return
    data = _read_all(path)
    if not data.strip():
        return
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if first == b"[":
            del data
            yield from _read_json_array(path)
            return
        if first == b"{" and _looks_like_jsonl(data):
            yield from read_jsonl(path)
            return
        err = _utf8_error(data)
        yield RawRow(1, raw=data.decode("utf-8", errors="backslashreplace"),
                     error=err or f"invalid JSON document (no row could be read): {e}")
        return
    rows = obj if isinstance(obj, list) else [obj]
    for i, row in enumerate(rows, 1):
        yield RawRow(i, obj=row)


def _read_json_array(path: str | Path, chunk_size: int = 1 << 20) -> Iterator[RawRow]:
    with open_binary(path) as fh:
        for i, (raw, err) in enumerate(_json_array_elements(fh, chunk_size), 1):
            if err is None:
                try:
                    yield RawRow(i, obj=orjson.loads(raw))
                    continue
                except orjson.JSONDecodeError as e:
                    err = _utf8_error(raw) or f"invalid JSON in array element {i}: {e}"
            yield RawRow(i, raw=raw.decode("utf-8", errors="backslashreplace"), error=err)


# A JSON string (group 1 is its closing quote: absent when the buffer cuts the string), or one
# structural character. Commas and brackets inside strings are thereby skipped.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(")?|[\[\]{},]', re.S)
# A whole object or array with nothing nested inside: one regex call instead of one per string,
# which makes streaming ~2x faster on the usual flat rows. Possessive quantifiers (Python 3.11+)
# keep a failed match (a row cut by the buffer end, or nested) linear.
_FLAT_JSON = (re.compile(rb'[\[{](?:[^"{}\[\]]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+[\]}]', re.S)
              if sys.version_info >= (3, 11) else None)


def _json_array_elements(fh: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[tuple[bytes, str | None]]:
    """The raw bytes of each element of the top-level JSON array in ``fh``, read in chunks.

    Yields ``(raw, None)`` per element (not parsed; whitespace trimmed) or ``(raw, error)`` for
    an empty element, a truncated last element, or data after the closing bracket. Only
    nesting depth is tracked, so a malformed element is caught when it is parsed.
    """
    buf = b""

    def fill() -> bool:
        nonlocal buf
        data = fh.read(max(chunk_size, len(buf)))  # grow geometrically: long elements copy O(n)
        buf += data
        return bool(data)

    while len(buf) < 3 and fill():
        pass
    if buf.startswith(BOM):
        buf = buf[3:]
    while not buf.strip() and fill():
        pass
    pos = buf.index(b"[") + 1  # the caller saw '[' first
    depth, start, count = 1, pos, 0
    while True:
        m = _JSON_TOKEN.search(buf, pos)
        if m is None or (buf[m.start()] == 0x22 and m.group(1) is None):
            resume = len(buf) if m is None else m.start()
            if not fill():
                rest = buf[start:].strip()
                yield rest, "the document ends inside the array (truncated file?)"
                return
            pos = resume
            continue
        pos = m.end()
        c = buf[m.start()]
        if c == 0x22:  # a whole string
            continue
        if c in (0x5B, 0x7B):  # [ {
            flat = _FLAT_JSON.match(buf, m.start()) if depth == 1 and _FLAT_JSON is not None else None
            if flat is not None:
                pos = flat.end()
            else:
                depth += 1
        elif c in (0x5D, 0x7D):  # ] }
            depth -= 1
            if depth == 0:
                raw = buf[start:m.start()].strip()
                if raw or count:
                    yield raw, None if raw else "empty array element (a comma before ']')"
                tail = buf[pos:]
                while not tail.strip() and fill():
                    tail = buf[pos:]
                if tail.strip():
                    while fill():
                        pass
                    yield buf[pos:].strip(), "data after the closing ']' of the array"
                return
        elif depth == 1:  # a comma between elements
            raw = buf[start:m.start()].strip()
            yield raw, None if raw else "empty array element (two commas in a row)"
            count += 1
            start = pos
            if start > chunk_size and start > len(buf) // 2:
                buf = buf[start:]
                pos -= start
                start = 0


def _looks_like_jsonl(data: bytes) -> bool:
    """True when the first non-blank line is a whole JSON object by itself."""
    for line in data.split(b"\n", 50)[:50]:
        if line.strip():
            try:
                return isinstance(orjson.loads(line), dict)
            except orjson.JSONDecodeError:
                return False
    return False


def _header_names(cells: list[str]) -> list[str]:
    """Column names: whitespace trimmed, a (mojibake) BOM dropped from the first cell, empty
    names made ``column_<n>`` and repeated names ``<name>_<k>``, so that no column is lost."""
    names: list[str] = []
    for i, cell in enumerate(cells):
        name = cell
        if i == 0:
            name = name.lstrip("\ufeff")
            if name.startswith(MOJIBAKE_BOM):
                name = name[len(MOJIBAKE_BOM):]
        name = name.strip() or f"column_{i + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _row_to_obj(header: list[str], cells: list[str], delimiter: str) -> dict[str, str] | str:
    """The row as an object, or an error message. Extra columns are allowed only when empty
    (a trailing delimiter), since dropping them then loses nothing."""
    if len(cells) < len(header) or (len(cells) > len(header) and any(c.strip() for c in cells[len(header):])):
        name = "TSV" if delimiter == "\t" else "CSV"
        return f"{name} row has {len(cells)} columns, the header has {len(header)} ({', '.join(header)})"
    return dict(zip(header, cells, strict=False))


def read_csv(path: str | Path, delimiter: str = ",") -> Iterator[RawRow]:
    """CSV/TSV with a header row, every value a string. Line numbers are file lines (header = 1);
    a quoted CSV value spanning lines gets the number of its first line.

    CSV follows RFC 4180 quoting (``csv`` module, no field size limit); a header that holds no
    comma but a semicolon means a ``;``-separated file (Excel's CSV in many locales). TSV has
    no quoting at all (IANA TSV, as GLUE writes it): each line is one row split on tabs, and
    ``"`` is an ordinary character. A UTF-8 BOM, and the mojibake BOM ``ï»¿`` (a BOM decoded
    once as cp1252, as in MRPC), are dropped from the first header cell. Rows with invalid
    UTF-8, or with fewer columns than the header (or non-empty extra ones), are error rows;
    blank lines are passed over.
    """
    if delimiter != "\t":
        from tuneprep.io.dialect import ReadOptions, read_delimited

        yield from read_delimited(path, "csv", ReadOptions(delimiter=None if delimiter == "," else delimiter))
        return
    with open_binary(path) as fh:
        yield from _read_tsv(fh, path)


def _read_tsv(fh: IO[bytes], path: str | Path) -> Iterator[RawRow]:
    header: list[str] | None = None
    for lineno, line in enumerate(fh, 1):
        if lineno == 1 and line.startswith(BOM):
            line = line[3:]
        body = _strip_eol(line)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            if header is None:
                raise InputError(f"{path}:{lineno}: unreadable TSV header: {_utf8_error(body)}") from None
            yield RawRow(lineno, raw=_raw_text(line), error=_utf8_error(body))
            continue
        if "\t" not in text and not text.strip():  # a blank line; a lone tab is two empty values
            continue
        cells = text.split("\t")
        if header is None:
            header = _header_names(cells)
            continue
        obj = _row_to_obj(header, cells, "\t")
        if isinstance(obj, str):
            yield RawRow(lineno, raw=text, error=obj)
        else:
            yield RawRow(lineno, obj=obj)


def read_parquet(path: str | Path) -> Iterator[RawRow]:
    """Parquet, streamed in batches; rows numbered from 1. Columns that tuneprep's writer stored
    as JSON text (listed in the file's metadata) are decoded back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.getsize(path) == 0:
        return
    try:
        pf = pq.ParquetFile(path)
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
    if Path(path).is_file() and not str(path).lower().endswith(COMPRESSED):
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError(f"{path}: the file is UTF-16 (it starts with a UTF-16 byte order mark); "
                             "set input.encoding: utf-16 (or auto), or convert it, e.g. `iconv -f UTF-16 -t UTF-8`")


def read_rows(path: str | Path, fmt: str | None = None, start: int | None = None,
              end: int | None = None, options: Any = None) -> Iterator[RawRow]:
    """Every row of one input (or of one byte range of an uncompressed jsonl/txt file).

    ``options`` (a ``dialect.ReadOptions``: encoding, delimiter, header, pattern…) sends the
    file to ``io/dialect.py``, unless it asks for nothing the readers here do not do already.
    CSV always goes there, for its broken-quote check.
    """
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")
    if (start is not None or end is not None) and not is_splittable(path, fmt):
        raise InputError(f"{path}: format {fmt} cannot be read by byte range (only uncompressed jsonl/txt)")
    if fmt in ("csv", "lines", "html", "warc") or (options is not None and not options.is_default()):
        from tuneprep.io.dialect import ReadOptions, read_with_options

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
    if fmt in ("csv", "tsv"):
        return read_csv(path, "\t" if fmt == "tsv" else ",")
    if fmt == "parquet":
        return read_parquet(path)
    return read_hf(path)


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
            where = f" (field '{e.field}')" if e.field else ""
            raise InputError(f"{path}:{row.line}{where}: {e}") from None
    return out

