"""Saved web pages as documents: ``format: html`` (``.html``/``.htm``) and ``format: warc``.

Each page becomes one row ``{"text": main text, "meta": {title, url, date, language, charset,
extract}}``. The text is decoded by (in order) a byte order mark, the page's own declaration
(``<meta charset>`` / ``http-equiv``, or the HTTP ``Content-Type`` of a WARC response), strict
UTF-8, then charset-normalizer (``io/encoding.py``), so a Latin-1 page is extracted, not
rejected. The main text comes from trafilatura (``input.extract``: ``precision`` favours
dropping boilerplate, ``recall`` favours keeping text, ``balanced`` is trafilatura's default).

Nothing is lost: a page trafilatura finds no main text in is a ``no_main_text`` row (raw page
kept); a WARC response that is not HTML is a ``not_html`` row. WARC request, metadata,
warcinfo and resource records are not documents and give no row. WARC rows are numbered by
their record's position in the file (1-based), so ``path:n`` names the record.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuneprep.io.encoding import EncodingDecision, bom_encoding, detect_bytes
from tuneprep.io.fs import open_binary, open_input
from tuneprep.io.rows import RawRow
from tuneprep.urls import is_url, source_name

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z-]+)", re.I)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_page(data: bytes, declared: str | None = None) -> tuple[str, EncodingDecision]:
    """The page as text and how it was decoded (BOM, declaration, UTF-8, detection)."""
    bom = bom_encoding(data[:4])
    if bom is not None:
        return data.decode(bom, errors="replace").lstrip("\ufeff"), EncodingDecision(bom, 1.0, "bom")
    meta = _META_CHARSET.search(data[:8192])
    for name, method in ((declared, "http header"), (meta.group(1).decode("ascii") if meta else None, "meta charset")):
        enc = _codec(name)
        if enc is None:
            continue
        if enc == "iso8859-1":
            enc = "cp1252"  # what browsers do (WHATWG Encoding): latin-1 labels mean windows-1252
        try:
            return data.decode(enc), EncodingDecision(enc, 1.0, method)
        except UnicodeDecodeError:
            continue  # a wrong declaration (common): fall through to detection
    try:
        return data.decode("utf-8"), EncodingDecision("utf-8", 1.0, "utf-8")
    except UnicodeDecodeError:
        pass
    decision = detect_bytes(data)
    return data.decode(decision.encoding, errors="replace"), decision


def extract_page(html: str, url: str | None, mode: str = "balanced") -> dict[str, Any] | None:
    """trafilatura's main text and metadata of one page (None when it finds no main text)."""
    import trafilatura

    # Dates come from the page's markup; htmldate's "extensive" search runs dateparser over every
    # locale and took minutes on one real page of the shared WARC sample, so it is off.
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_precision=mode == "precision",
                                      favor_recall=mode == "recall", include_comments=False,
                                      date_extraction_params={"extensive_search": False, "original_date": True})
    if doc is None:
        return None
    text = getattr(doc, "text", None)
    if not text or not text.strip():
        return None
    lang = getattr(doc, "language", None)
    if not lang:
        m = _HTML_LANG.search(html[:4096])
        lang = m.group(1) if m else None
    meta = {"title": getattr(doc, "title", None), "url": url, "date": getattr(doc, "date", None), "language": lang}
    return {"text": text, "meta": {k: v for k, v in meta.items() if v}}


def _row(n: int, data: bytes, url: str | None, mode: str, declared: str | None = None) -> RawRow:
    html, decision = decode_page(data, declared)
    page = extract_page(html, url, mode)
    if page is None:
        return RawRow(n, raw=html, error="trafilatura found no main text in the page", reason="no_main_text")
    page["meta"]["charset"] = decision.to_json()
    page["meta"]["extract"] = mode
    return RawRow(n, obj=page)


def read_html(path: str | Path, opts: Any) -> Iterator[RawRow]:
    """One saved page per file (an empty file gives no row)."""
    with open_binary(path) as fh:
        data = fh.read()
    if not data.strip():
        return
    name = source_name(str(path))  # the page's name: a file:// URL is its local file
    yield _row(1, data, name if is_url(name) else Path(name).as_posix(), opts.extract)


def read_warc(path: str | Path, opts: Any) -> Iterator[RawRow]:
    """Every HTTP response of a WARC (or .warc.gz) file, as pages (warcio reads it)."""
    try:
        from warcio.archiveiterator import ArchiveIterator
    except ImportError as e:  # pragma: no cover - depends on extras
        from tuneprep.io.rows import InputError

        raise InputError(f"{path}: reading WARC files needs `pip install tuneprep[html]` (warcio)") from e
    with open_input(path) as fh:  # warcio decompresses .warc.gz itself, record by record
        for n, rec in enumerate(ArchiveIterator(fh), 1):
            if rec.rec_type != "response":
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI")
            ctype = (rec.http_headers.get_header("Content-Type") if rec.http_headers else None) or ""
            body = rec.content_stream().read()
            if "html" not in ctype.lower():
                yield RawRow(n, raw=f"{url} ({ctype or 'no Content-Type'}, {len(body):,} bytes)",
                             error=f"response is {ctype or 'of no declared type'}, not HTML", reason="not_html")
                continue
            m = _HTTP_CHARSET.search(ctype)
            yield _row(n, body, url, opts.extract, m.group(1) if m else None)
