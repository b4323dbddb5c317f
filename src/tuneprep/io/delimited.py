"""The plain TSV reader and the header/row helpers shared with ``io/dialect.py`` (which reads CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tuneprep.io.fs import open_binary
from tuneprep.io.rows import (
    BOM,
    MOJIBAKE_BOM,
    InputError,
    RawRow,
    _raw_text,
    _strip_eol,
    _utf8_error,
)


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


def read_tsv(path: str | Path) -> Iterator[RawRow]:
    """TSV with a header row, every value a string; line numbers are file lines (header = 1).

    No quoting at all (IANA TSV, as GLUE writes it): each line is one row split on tabs, and
    ``"`` is an ordinary character. A UTF-8 BOM, and the mojibake BOM ``ï»¿`` (a BOM decoded
    once as cp1252, as in MRPC), are dropped from the first header cell. Rows with invalid
    UTF-8, or with fewer columns than the header (or non-empty extra ones), are error rows;
    blank lines are passed over. CSV (quoting, broken quotes) is read by ``io/dialect.py``.
    """
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


