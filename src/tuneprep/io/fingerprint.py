"""File fingerprints: the one definition of the sha256 and the size/version that manifests, runs
and checks record, for a path or a URL (``io/fs.py``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tuneprep.io import fs
from tuneprep.urls import is_url


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read in chunks (bounded memory)."""
    h = hashlib.sha256()
    with fs.open_input(path) as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def file_fingerprint(path: str) -> dict[str, Any]:
    """What identifies one version of a file without reading it: its size and mtime (a path), or
    its size and the store's version (a URL: ETag, generation, mtime)."""
    if not is_url(path):
        st = os.stat(path)
        return {"path": path, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"path": path, "bytes": fs.getsize(path), "version": fs.version(path)}
