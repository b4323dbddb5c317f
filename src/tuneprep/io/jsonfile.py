"""The JSON reader: an array of objects (streamed above a size), one object, or JSON Lines
misnamed ``.json``; see ``readers`` for the row contract."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from tuneprep.io.fs import getsize, open_binary
from tuneprep.io.lines import read_jsonl
from tuneprep.io.rows import BOM, COMPRESSED, RawRow, _utf8_error


def _read_all(path: str | Path) -> bytes:
    with open_binary(path) as fh:
        data = fh.read()
    return data[3:] if data.startswith(BOM) else data


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
    big = str(path).lower().endswith(COMPRESSED) or getsize(path) > stream_above
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


