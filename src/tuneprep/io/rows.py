"""The row level of io: ``RawRow``, ``InputError``, the format list and byte-level helpers.

A leaf under ``readers`` and the per-format reader modules (``delimited``), so that they can
share these without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuneprep.errors import EXIT_USAGE, TuneprepError

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "txt-doc", "hf", "lines", "html", "warc")
LINE_FORMATS = ("jsonl", "txt")  # formats whose uncompressed files can be split by byte range
COMPRESSED = (".gz", ".zst", ".bz2")
BOM = b"\xef\xbb\xbf"
# The UTF-8 BOM decoded as cp1252/latin-1 and re-encoded as UTF-8 ("ï»¿"): a file that went
# through a wrong decode once. Found at the start of MRPC's header row.
MOJIBAKE_BOM = "\u00ef\u00bb\u00bf"
# Parquet files written by tuneprep name the columns stored as JSON text (see writers.py).
PARQUET_JSON_COLUMNS_KEY = b"tuneprep.json_columns"


class InputError(TuneprepError, ValueError):
    """Input that cannot be opened at all (not a row-level problem)."""

    exit_code = EXIT_USAGE  # a path or file the command line named is unusable: nothing ran


@dataclass
class RawRow:
    """One input row. ``line`` is 1-based (file line for line formats, row index otherwise)."""

    line: int
    obj: Any = None
    raw: str | None = None
    error: str | None = None
    reason: str = "parse_error"


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


