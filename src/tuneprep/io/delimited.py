"""CSV and TSV readers (header row), as ``RawRow`` streams; see ``readers`` for the contract."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tuneprep.io.rows import (
    BOM,
    MOJIBAKE_BOM,
    InputError,
    RawRow,
    _raw_text,
    _strip_eol,
    _utf8_error,
    open_binary,
)


class _LineFeed:
    """Feeds text lines to ``csv.reader`` and remembers the bytes each record was made of.

    Decoding happens per line, so a line with invalid UTF-8 rejects only the record it belongs
    to (its bytes are kept via surrogateescape until the record is known).
    """

    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.lineno = 0
        self.parts: list[bytes] = []
        self.bad: str | None = None

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.fh.readline()
        if not line:
            raise StopIteration
        self.lineno += 1
        if self.lineno == 1 and line.startswith(BOM):
            line = line[3:]
        self.parts.append(line)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            if self.bad is None:
                self.bad = f"invalid UTF-8 on line {self.lineno}: {_utf8_error(line)}"
            return line.decode("utf-8", errors="surrogateescape")

    def take(self) -> tuple[int, bytes, str | None]:
        """(first line of the record just read, its bytes, UTF-8 error) and start a new record."""
        first = self.lineno - len(self.parts) + 1
        raw, bad = b"".join(self.parts), self.bad
        self.parts, self.bad = [], None
        return first, raw, bad


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
    with open_binary(path) as fh:
        if delimiter == "\t":
            yield from _read_tsv(fh, path)
            return
        csv.field_size_limit(2**31 - 1)  # the default (128 KiB) rejects long documents
        feed = _LineFeed(fh)
        reader = csv.reader(feed, delimiter=delimiter)
        header: list[str] | None = None
        while True:
            try:
                cells = next(reader)
                error = None
            except StopIteration:
                return
            except csv.Error as e:
                cells, error = [], f"CSV error: {e}"
            first, raw, bad = feed.take()
            if not raw.strip():  # a blank line; `,` or `""` is a row of empty values
                continue
            if header is None:
                if error or bad:
                    raise InputError(f"{path}:{first}: unreadable header row: {error or bad}")
                if delimiter == "," and len(cells) == 1 and ";" in cells[0]:
                    # Excel in locales with a decimal comma writes ';'-separated "CSV".
                    delimiter = ";"
                    cells = next(csv.reader([raw.decode("utf-8").lstrip("\ufeff")], delimiter=delimiter))
                    reader = csv.reader(feed, delimiter=delimiter)
                header = _header_names(cells)
                continue
            if error or bad:
                yield RawRow(first, raw=_raw_text(raw), error=error or bad)
                continue
            obj = _row_to_obj(header, cells, delimiter)
            if isinstance(obj, str):
                yield RawRow(first, raw=_raw_text(raw), error=obj)
            else:
                yield RawRow(first, obj=obj)


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


