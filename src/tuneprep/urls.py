"""Paths and URLs: which input and output locations are URLs, and what names a file.

A location with a scheme (``s3://bucket/x.jsonl``, ``gs://…``, ``file:///data/x.jsonl``,
``memory://…``) is a URL, read and written through fsspec (``io/fs.py``); anything else is a
plain path of this machine and keeps the plain file code. ``dataset:NAME`` (no ``//``) is not a
URL. No third-party imports: the record contract (ids derived from the source) needs this too.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit

# RFC 3986 scheme, then "://"; a Windows drive ("C:\\x") has no "//" and stays a path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(location: object) -> bool:
    """True for ``scheme://...`` (object storage, ``file://``, ``memory://``); False for plain paths."""
    # The substring test first: this runs per record for derived ids, almost always on a path.
    return isinstance(location, str) and "://" in location and _URL.match(location) is not None


def scheme(url: str) -> str:
    """The scheme of a URL, lower case (``s3``, ``gs``, ``file`` ...)."""
    return url.split("://", 1)[0].lower()


def file_url_path(url: str) -> str | None:
    """The local path a ``file://`` URL names (``file:///data/x`` → ``/data/x``); None for other URLs.

    Only ``file://`` with an empty or ``localhost`` host names a file of this machine.
    """
    if not is_url(url) or scheme(url) != "file":
        return None
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return None
    return unquote(parts.path) or os.sep


def source_name(location: str) -> str:
    """The name a file goes by in ids and ``meta.source``: a ``file://`` URL is the local file it
    names (so reading it as a URL or as a path gives the same ids and sources); any other URL is
    itself; a plain path is unchanged."""
    local = file_url_path(location)
    return local if local is not None else location
