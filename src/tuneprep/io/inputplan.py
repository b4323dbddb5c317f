"""What is decided about each input file before it is read, and where its records come from.

``plan_file`` settles the encoding (``input.encoding``, detected per file with ``auto``) and
collects warnings a user must see (a first row that looks like data about to be read as a
header). The engine prints both and keeps them in the manifest. ``source_ref`` is the
provenance written to ``meta.source`` of every kept record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.io import fs
from tuneprep.io.dialect import ReadOptions, header_warning
from tuneprep.io.encoding import EncodingDecision, resolve_encoding
from tuneprep.urls import is_url, source_name

# Formats read as bytes (no text encoding applies).
BINARY_FORMATS = ("parquet", "hf")


@dataclass
class FilePlan:
    """One input file: format, encoding decision, read options and warnings."""

    path: str
    fmt: str
    encoding: EncodingDecision | None = None
    options: ReadOptions | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def fast(self) -> bool:
        """True when readers.py's own readers read it (byte-range splitting stays possible)."""
        return self.options is None or self.options.is_default()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "format": self.fmt}
        if self.encoding is not None:
            out["encoding"] = self.encoding.to_json()
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def plan_file(path: str, fmt: str, cfg: Any) -> FilePlan:
    """Decide how to read one file under the recipe's ``input`` block ``cfg``."""
    if fmt in BINARY_FORMATS or not fs.isfile(path):
        return FilePlan(path, fmt)
    # A web page declares its own charset, per page (io/html.py reads it): no file-wide decision.
    decision = resolve_encoding(path, getattr(cfg, "encoding", None)) if fmt not in ("html", "warc") else None
    opts = ReadOptions.from_input(cfg, decision.encoding if decision else "utf-8")
    plan = FilePlan(path, fmt, decision, opts)
    if fs.getsize(path) > 0:
        warning = header_warning(path, fmt, opts)
        if warning:
            plan.warnings.append(warning)
    return plan


def source_ref(path: str, line: int | None = None, base: str | None = None) -> str:
    """``path:line`` with the path relative to ``base`` (default: the working directory, against
    which a recipe's relative input paths resolve); a file outside ``base`` keeps its absolute path.
    A URL is shown as it is, except ``file://``, shown as the local file it names."""
    name = source_name(path)
    if is_url(name):
        return name if line is None else f"{name}:{line}"
    base = os.path.abspath(base or os.getcwd())
    full = os.path.abspath(name)
    rel = os.path.relpath(full, base)
    shown = full if rel.startswith(os.pardir) else Path(rel).as_posix()
    return shown if line is None else f"{shown}:{line}"


def set_source(rec: dict[str, Any], ref: str) -> None:
    """Write ``meta.source``; a different one the input already carried moves to ``meta.displaced``."""
    meta = rec.get("meta")
    if meta is None:
        meta = rec["meta"] = {}
    old = meta.get("source")
    if old is not None and old != ref:
        meta.setdefault("displaced", {})["source"] = old
    meta["source"] = ref
