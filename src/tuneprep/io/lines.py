"""Line formats (``jsonl``, ``txt``): reading whole files or byte ranges with exact line numbers.

Byte-range reading yields exactly the rows that *start* in ``[start, end)``, with the same line
numbers as reading the whole file, so any set of split points partitions the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from tuneprep.io import fs
from tuneprep.io.rows import (
    BOM,
    COMPRESSED,
    LINE_FORMATS,
    RawRow,
    _raw_text,
    _strip_eol,
    _utf8_error,
)
from tuneprep.urls import is_url


def is_splittable(path: str | Path, fmt: str) -> bool:
    """True when ``read_rows`` can read the file by byte range (uncompressed jsonl/txt)."""
    return fmt in LINE_FORMATS and not str(path).lower().endswith(COMPRESSED)


# Line numbers already counted, per file version: {(path, inode, size, mtime, ctime): {offset: line}}
# ({(url, size, version)} for a URL). A worker that reads the shards of one file in order then
# counts each byte once, not once per shard.
_LINE_CHECKPOINTS: dict[tuple[object, ...], dict[int, int]] = {}


def _file_version(path: str | Path) -> tuple[object, ...]:
    if is_url(path):
        return (path, fs.getsize(path), fs.version(path))
    st = os.stat(path)
    return (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def line_number_at(path: str | Path, offset: int) -> int:
    """1-based number of the line that starts at byte ``offset`` (counts newlines before it)."""
    if offset <= 0:
        return 1
    key = _file_version(path)
    marks = _LINE_CHECKPOINTS.setdefault(key, {0: 1})
    if offset in marks:
        return marks[offset]
    base = max(o for o in marks if o <= offset)
    count, remaining = marks[base], offset - base
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with fs.open_input(path) as fh:
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
    size = fs.getsize(path)
    if size <= target:
        return [(0, size)]
    bounds = [0]
    with fs.open_input(path) as fh:
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
        with fs.open_binary(path) as fh:
            yield from enumerate(fh, 1)
        return
    with fs.open_input(path) as fh:
        pos = _next_line_start(fh, start or 0)
        stop = end if end is not None else fs.getsize(path)
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


