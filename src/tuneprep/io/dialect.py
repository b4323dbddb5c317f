"""Reading users' own text files: any encoding, any delimiter, headers or none, line patterns.

``ReadOptions`` carries the recipe's ``input`` keys that say how a file is written
(``encoding``, ``delimiter``, ``quotechar``, ``header``, ``columns``, ``usecols``,
``pattern``, ``max_field_lines``). ``read_with_options`` reads csv / tsv / txt / jsonl /
txt-doc / json in any encoding and the ``lines`` format (one record per line, fields from
the named groups of a regular expression). UTF-8 files with default options keep using the
fast readers of ``readers.py``; CSV always comes here, for the broken-quote check.

Nothing is lost: a line that cannot be decoded is a ``parse_error`` row with its bytes shown
as ``\\xNN``; a line a ``pattern`` does not match is a ``pattern_mismatch`` row with the raw
line; and a CSV row whose opening quote is never closed properly (it would swallow the rows
after it into one field) is a ``broken_quote`` row holding its raw line, after which the
swallowed lines are read again as the rows they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from tuneprep.io.delimited import _header_names, _row_to_obj
from tuneprep.io.encoding import decode_error, normalize, resolve_encoding
from tuneprep.io.fs import open_binary
from tuneprep.io.rows import MOJIBAKE_BOM, InputError, RawRow

# A quoted CSV field may span lines (RFC 4180); one spanning more than this many is taken to
# be an unclosed quote swallowing the rows after it.
MAX_FIELD_LINES = 100
# Rows looked at to judge whether the first row of a delimited file is a header.
SNIFF_ROWS = 50


class ReadOptions(BaseModel):
    """How a user's file is written. The recipe's ``input`` block has these keys (``InputConfig``
    inherits them); ``encoding`` here is resolved per file before reading (``auto`` → a codec)."""

    model_config = ConfigDict(extra="forbid")

    encoding: str | None = None
    """Text encoding: any Python codec (utf-8, cp1252, latin-1, utf-16…) or auto (detected per file); default utf-8."""
    delimiter: str | None = None
    """Field separator of csv/tsv ("," / tab by default; any one character, e.g. "@" or "|")."""
    quotechar: str | None = None
    """Quote character of csv (default '"'); set it for tsv to read quoted TSV."""
    header: bool | None = None
    """Whether the first row is a header (default: yes, with a warning when it looks like data)."""
    columns: list[str] | None = None
    """Column names: for a headerless file (header: false), or to rename a header's columns."""
    usecols: list[str | int] | None = None
    """Keep only these columns (names, or 0-based indexes)."""
    pattern: str | None = None
    """format lines: a regular expression with named groups, e.g. '^(?P<text>.+)@(?P<label>\\w+)$'."""
    max_field_lines: int = Field(MAX_FIELD_LINES, gt=0)
    """A quoted csv field spanning more lines than this is taken as an unclosed quote (broken_quote)."""
    extract: Literal["precision", "balanced", "recall"] = "balanced"
    """html/warc main-text extraction (trafilatura): precision, balanced or recall."""
    _regex: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is not None and v != "auto":
            normalize(v)  # raises ValueError naming the allowed values
        return v

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, v: str | None) -> str | None:
        if v is not None:
            compile_pattern(v)
        return v

    @classmethod
    def from_input(cls, cfg: Any, encoding: str | None = None) -> ReadOptions:
        """The options of an ``InputConfig`` (or any object with these attributes) for one file,
        with the file's resolved ``encoding``."""
        values = {f: getattr(cfg, f) for f in cls.model_fields if getattr(cfg, f, None) is not None}
        values["encoding"] = encoding
        return cls(**values)

    @property
    def codec(self) -> str:
        return normalize(self.encoding) if self.encoding not in (None, "auto") else "utf-8"

    def is_default(self) -> bool:
        """True when the fast UTF-8 readers of ``readers.py`` read the file exactly as asked."""
        return (self.codec == "utf-8" and self.encoding != "auto" and self.delimiter is None and self.quotechar is None
                and self.header is None and self.columns is None and self.usecols is None
                and self.pattern is None)

    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            if not self.pattern:
                raise InputError("format 'lines' needs input.pattern, a regular expression with named groups, "
                                 "e.g. '^(?P<text>.+)@(?P<label>\\w+)$'")
            self._regex = compile_pattern(self.pattern)
        return self._regex


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a ``lines`` pattern; raises ValueError unless it has at least one named group."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None
    if not rx.groupindex:
        raise ValueError(f"pattern {pattern!r} has no named group; name the fields, e.g. (?P<text>.+)")
    return rx


def printable_raw(text: str) -> str:
    """A decoded line for the rejects file: undecodable bytes (surrogate escapes) as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _strip_eol(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return text


def text_lines(path: str | Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its line end) in ``encoding``; a BOM is dropped.

    Undecodable bytes stay in the line as surrogate escapes (``decode_error`` finds them), so a
    bad byte costs its own row only.
    """
    if encoding == "utf-8":
        encoding = "utf-8-sig"  # drop a UTF-8 BOM the way readers.py does
    with open_binary(path) as raw:
        fh = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
        lineno = 0
        for line in fh:
            # newline="" splits on a lone CR too; readers.py (and most tools) split on LF only.
            if line.endswith("\r") and not line.endswith("\r\n"):
                pending = line
                for nxt in fh:
                    pending += nxt
                    if not (nxt.endswith("\r") and not nxt.endswith("\r\n")):
                        break
                line = pending
            lineno += 1
            if lineno == 1:
                line = line.lstrip("\ufeff")
            yield lineno, line


def _decoded_row(lineno: int, line: str, obj_of: Any, encoding: str) -> RawRow | None:
    body = _strip_eol(line)
    if not body.strip():
        return None
    bad = decode_error(body, encoding)
    if bad:
        return RawRow(lineno, raw=printable_raw(body), error=bad)
    return obj_of(lineno, body)


def read_text_lines(path: str | Path, fmt: str, opts: ReadOptions) -> Iterator[RawRow]:
    """``txt``, ``jsonl`` and ``lines`` in any encoding, one row per non-blank line."""
    rx = opts.regex() if fmt == "lines" else None

    def obj_of(lineno: int, body: str) -> RawRow:
        if fmt == "txt":
            return RawRow(lineno, obj={"text": body})
        if fmt == "jsonl":
            try:
                return RawRow(lineno, obj=orjson.loads(body))
            except orjson.JSONDecodeError as e:
                return RawRow(lineno, raw=body, error=f"invalid JSON: {e}")
        m = rx.match(body)  # type: ignore[union-attr]
        if m is None:
            return RawRow(lineno, raw=body, error=f"line does not match pattern {rx.pattern!r}",  # type: ignore[union-attr]
                          reason="pattern_mismatch")
        return RawRow(lineno, obj={k: v for k, v in m.groupdict().items() if v is not None})

    for lineno, line in text_lines(path, opts.codec):
        row = _decoded_row(lineno, line, obj_of, opts.codec)
        if row is not None:
            yield row


def read_whole(path: str | Path, fmt: str, opts: ReadOptions) -> Iterator[RawRow]:
    """``txt-doc`` (the file is one document) and ``json`` in any encoding."""
    enc = "utf-8-sig" if opts.codec == "utf-8" else opts.codec
    with open_binary(path) as fh:
        text = fh.read().decode(enc, errors="surrogateescape").lstrip("\ufeff")
    if not text.strip():
        return
    bad = decode_error(text, opts.codec)
    if bad:
        yield RawRow(1, raw=printable_raw(text), error=bad)
        return
    if fmt == "txt-doc":
        yield RawRow(1, obj={"text": text.replace("\r\n", "\n")})
        return
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        yield RawRow(1, raw=text, error=f"invalid JSON document: {e}")
        return
    for i, row in enumerate(obj if isinstance(obj, list) else [obj], 1):
        yield RawRow(i, obj=row)


class _LineSource:
    """Decoded lines with push-back, handing ``csv.reader`` one record's lines at a time."""

    def __init__(self, lines: Iterator[tuple[int, str]]):
        self.lines = lines
        self.back: deque[tuple[int, str]] = deque()

    def push_back(self, taken: list[tuple[int, str]]) -> None:
        self.back.extendleft(reversed(taken))


class _RecordFeed:
    """The lines fed to one ``csv.reader``, remembering those of the record being read.

    ``start()`` begins a record; a record that asks for more than ``limit`` lines (an unclosed
    quote) gets an end of input instead, which csv's strict mode reports as an error. One
    reader serves the whole file (it resets its state at each record, and reads no line ahead),
    so lines pushed back are simply read again.
    """

    def __init__(self, src: _LineSource, limit: int):
        self.src, self.limit = src, limit
        self.taken: list[tuple[int, str]] = []
        self.overflow = False

    def start(self) -> None:
        self.taken = []
        self.overflow = False

    def __iter__(self) -> _RecordFeed:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= self.limit:
            self.overflow = True
            raise StopIteration
        item = self.src.back.popleft() if self.src.back else next(self.src.lines, None)
        if item is None:
            raise StopIteration
        self.taken.append(item)
        return item[1]


def _dialect(fmt: str, opts: ReadOptions) -> dict[str, Any]:
    delimiter = opts.delimiter or ("\t" if fmt == "tsv" else ",")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if fmt == "tsv" and opts.quotechar is None:
        # IANA TSV (what GLUE writes) has no quoting: '"' is an ordinary character.
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE}
    return {"delimiter": delimiter, "quotechar": opts.quotechar or '"', "strict": True}


def _select(header: list[str], usecols: list[str | int] | None, path: str | Path) -> list[int] | None:
    if not usecols:
        return None
    idx = []
    for c in usecols:
        if isinstance(c, int):
            if not 0 <= c < len(header):
                raise InputError(f"{path}: input.usecols: column index {c} is out of range "
                                 f"(the file has {len(header)} columns: {', '.join(header)})")
            idx.append(c)
        elif c in header:
            idx.append(header.index(c))
        else:
            raise InputError(f"{path}: input.usecols: no column '{c}' (columns: {', '.join(header)})")
    return idx


def read_delimited(path: str | Path, fmt: str, opts: ReadOptions) -> Iterator[RawRow]:
    """CSV/TSV in any encoding and dialect, with or without a header row.

    ``header: false`` takes column names from ``columns`` (or ``column_1``…); with a header,
    ``columns`` renames them. ``usecols`` keeps only the columns named (or 0-based indexes).
    A quoted field that does not close cleanly (``csv`` strict mode), or spans more than
    ``max_field_lines`` lines, makes its first line a ``broken_quote`` row and the lines it
    swallowed are parsed again.
    """
    csv.field_size_limit(2**31 - 1)  # the default (128 KiB) rejects long documents
    dialect = _dialect(fmt, opts)
    src = _LineSource(text_lines(path, opts.codec))
    header: list[str] | None = None
    keep: list[int] | None = None
    if opts.header is False:
        header = list(opts.columns) if opts.columns else None
    name = "TSV" if dialect["delimiter"] == "\t" else "CSV"
    feed = _RecordFeed(src, opts.max_field_lines)
    reader = csv.reader(feed, **dialect)
    while True:
        feed.start()
        error = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            cells, error = [], str(e)
        taken = feed.taken
        if not taken:
            return
        first = taken[0][0]
        text = taken[0][1] if len(taken) == 1 else "".join(t for _, t in taken)
        if not text.strip():
            continue
        if error is not None or feed.overflow:
            if len(taken) > 1:
                why = (f"a quoted field runs over more than {opts.max_field_lines} lines" if feed.overflow
                       else f"{error}")
                src.push_back(taken[1:])
                yield RawRow(first, raw=printable_raw(_strip_eol(taken[0][1])), reason="broken_quote",
                             error=f"unclosed or broken quote starting on line {first} ({why}, at line "
                                   f"{taken[-1][0]}); lines {taken[1][0]}–{taken[-1][0]} are read again as rows")
            else:
                yield RawRow(first, raw=printable_raw(_strip_eol(text)), error=f"{name} error: {error}")
            continue
        bad = decode_error(text, opts.codec)
        if header is None:
            if bad:
                raise InputError(f"{path}:{first}: unreadable header row: {bad} (wrong input.encoding?)")
            if dialect["delimiter"] == "," and opts.delimiter is None and len(cells) == 1 and ";" in cells[0]:
                # Excel in locales with a decimal comma writes ';'-separated "CSV".
                dialect["delimiter"] = ";"
                cells = next(csv.reader([text], **dialect))
                reader = csv.reader(feed, **dialect)
            if opts.header is False:
                header = [f"column_{i + 1}" for i in range(len(cells))]
            else:
                header = _header_names(cells)
                if opts.columns:
                    if len(opts.columns) != len(header):
                        raise InputError(f"{path}: input.columns names {len(opts.columns)} columns, the header has "
                                         f"{len(header)} ({', '.join(header)})")
                    header = list(opts.columns)
                keep = _select(header, opts.usecols, path)
                continue
            keep = _select(header, opts.usecols, path)
        elif keep is None and opts.usecols and opts.header is False:
            keep = _select(header, opts.usecols, path)
        if bad:
            yield RawRow(first, raw=printable_raw(_strip_eol(text)), error=bad)
            continue
        obj = _row_to_obj(header, cells, dialect["delimiter"])
        if isinstance(obj, str):
            yield RawRow(first, raw=printable_raw(_strip_eol(text)), error=obj)
            continue
        if keep is not None:
            obj = {header[i]: obj[header[i]] for i in keep}
        yield RawRow(first, obj=obj)


def _is_number(cell: str) -> bool:
    return re.fullmatch(r"\s*[-+]?\d+([.,]\d+)?\s*", cell) is not None


def header_warning(path: str | Path, fmt: str, opts: ReadOptions) -> str | None:
    """A warning when the first row of a delimited file, about to be read as its header, looks like data.

    It does when a cell of it is a number, or repeats a value its column has below (a label),
    or is as long as the column's texts below (a header cell is a short name). Only asked when
    the recipe does not say ``header: true|false``. (``csv.Sniffer.has_header`` re-guesses the
    delimiter and is wrong on real text columns, so it is not used.)
    """
    if opts.header is not None or fmt not in ("csv", "tsv"):
        return None
    lines = []
    for _, line in text_lines(path, opts.codec):
        if line.strip():
            lines.append(line)
        if len(lines) > SNIFF_ROWS:
            break
    if len(lines) < 3:
        return None
    dialect = _dialect(fmt, opts)
    dialect.pop("strict", None)
    try:
        rows = list(csv.reader(lines, **dialect))
    except csv.Error:
        return None
    first, rest = rows[0], rows[1:]
    first = [c.lstrip("\ufeff").removeprefix(MOJIBAKE_BOM) for c in first]
    reasons = []
    numeric = [c for c in first if _is_number(c)]
    if numeric:
        reasons.append(f"it holds the number {numeric[0].strip()!r}")
    for i, c in enumerate(first):
        below = [r[i] for r in rest if len(r) > i]
        if c.strip() and c in below and len(set(below)) < len(below):
            reasons.append(f"its value {c!r} also appears in column {i + 1} below")
            break
        words = sorted(len(v.split()) for v in below)
        if len(c.split()) >= 8 and words and len(c.split()) >= words[len(words) // 4]:
            reasons.append(f"its column {i + 1} holds a {len(c.split())}-word text like the rows below")
            break
    if not reasons:
        return None
    shown = ", ".join(repr(c[:40]) for c in first[:4])
    return (f"{path}: the first row ({shown}) looks like data, not a header ({'; '.join(reasons)}); it is read "
            "as the header. If the file has no header, set input.header: false (and list input.columns)")


def read_with_options(path: str | Path, fmt: str, opts: ReadOptions) -> Iterator[RawRow]:
    """Rows of one file read as ``opts`` says (see the module docstring)."""
    if opts.encoding == "auto" and fmt not in ("html", "warc"):
        opts = opts.model_copy(update={"encoding": resolve_encoding(path, "auto").encoding})
    if fmt in ("csv", "tsv"):
        return read_delimited(path, fmt, opts)
    if fmt in ("txt", "jsonl", "lines"):
        return read_text_lines(path, fmt, opts)
    if fmt in ("txt-doc", "json"):
        return read_whole(path, fmt, opts)
    if fmt in ("html", "warc"):
        from tuneprep.io.html import read_html, read_warc

        return read_html(path, opts) if fmt == "html" else read_warc(path, opts)
    raise InputError(f"{path}: format {fmt} is read as binary; input.encoding and the CSV options do not apply")
