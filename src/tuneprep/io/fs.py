"""Files by path or by URL: the one place the readers, the planner and the output go through.

A plain path uses Python's own file calls, as before (same code, same speed). A URL
(``s3://``, ``gs://``, ``file://``, ``memory://`` ..., see ``tuneprep.urls``) goes through
fsspec: glob, size, existence, and files opened for reading that seek (byte-range shards) or
upload. fsspec and its backends are imported on first use; a missing backend (``s3fs``,
``gcsfs``) or an unknown scheme is an ``InputError`` that names the URL and what to install.
"""

from __future__ import annotations

import bz2
import glob as _glob
import gzip
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tuneprep.io.rows import InputError
from tuneprep.urls import is_url, scheme

# The backend package of each scheme users meet most, for the error message (fsspec's own
# messages say "s3fs" but not how tuneprep installs it).
BACKENDS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
            "abfss": "adlfs"}
# Version fields of ``fs.info`` per backend (S3 ETag, GCS generation, local mtime, memory
# creation): a changed object means a changed plan, so a rerun does not resume on stale shards.
_VERSION_KEYS = ("ETag", "etag", "generation", "mtime", "LastModified", "updated", "created")


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) of a URL; InputError naming the URL when it cannot be used."""
    try:
        import fsspec.core
    except ImportError as e:  # pragma: no cover - fsspec comes with the base install (datasets, ray)
        raise InputError(f"{url}: URLs need fsspec: pip install 'tuneprep[cloud]'") from e
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        pkg = BACKENDS.get(scheme(url))
        hint = f"pip install {pkg} (or 'tuneprep[cloud]')" if pkg else f"install the fsspec backend ({e})"
        raise InputError(f"{url}: the {scheme(url)}:// filesystem is not installed: {hint}") from None
    except ValueError:
        raise InputError(f"{url}: unknown URL scheme '{scheme(url)}://'; URLs are read and written through "
                         "fsspec: s3:// (s3fs), gs:// (gcsfs), file://, memory:// or another fsspec "
                         "filesystem that is installed") from None


def open_input(path: str | Path) -> IO[bytes]:
    """Open a file for reading its bytes as stored; it can seek (byte ranges), also as a URL."""
    if not is_url(path):
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    fs, inner = filesystem(str(path))
    try:
        return fs.open(inner, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file (path or URL) for reading bytes, transparently decompressing .gz, .zst and .bz2."""
    name = str(path).lower()
    fh = open_input(path)
    if name.endswith(".gz"):
        return _closing_both(gzip.GzipFile(fileobj=fh, mode="rb"), fh)  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return _closing_both(bz2.BZ2File(fh, "rb"), fh)  # type: ignore[return-value]
    if name.endswith(".zst"):
        import zstandard

        # The zstd reader has no readline(); BufferedReader adds it. Files written by
        # concatenating frames (zstd's own CLI does this) need read_across_frames.
        raw = zstandard.ZstdDecompressor().stream_reader(fh, closefd=True, read_across_frames=True)
        return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type]
    return fh


def _closing_both(reader: Any, fh: IO[bytes]) -> Any:
    """``reader`` whose close() also closes ``fh`` (GzipFile and BZ2File leave a file object they
    were given open)."""
    close = reader.close

    def close_both() -> None:
        try:
            close()
        finally:
            fh.close()

    reader.close = close_both
    return reader


def _ask(path: str | Path, local: Callable[[Any], Any], method: str) -> Any:
    """``local(path)`` for a plain path, the fsspec filesystem's ``method`` for a URL."""
    if not is_url(path):
        return local(path)
    fs, inner = filesystem(str(path))
    try:
        return getattr(fs, method)(inner)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None


def exists(path: str | Path) -> bool:
    """True when the file (or directory) exists."""
    return bool(_ask(path, os.path.exists, "exists"))


def isfile(path: str | Path) -> bool:
    """True for a file (not a directory)."""
    return bool(_ask(path, os.path.isfile, "isfile"))


def isdir(path: str | Path) -> bool:
    """True for a directory (an object store prefix)."""
    return bool(_ask(path, os.path.isdir, "isdir"))


def getsize(path: str | Path) -> int:
    """Size in bytes."""
    return int(_ask(path, os.path.getsize, "size"))


def version(path: str | Path) -> str | None:
    """What changes when the file changes: mtime (ns) of a path, ETag/generation/mtime of a URL."""
    if not is_url(path):
        return str(os.stat(path).st_mtime_ns)
    fs, inner = filesystem(str(path))
    info = fs.info(inner)
    return next((str(info[k]) for k in _VERSION_KEYS if info.get(k) is not None), None)


def glob(pattern: str) -> list[str]:
    """Sorted matches of a glob (``**`` recursive); a pattern without wildcards matches itself if
    it exists. URL matches are URLs again (the scheme put back)."""
    if not is_url(pattern):
        return sorted(_glob.glob(pattern, recursive=True))
    fs, inner = filesystem(pattern)
    if not _glob.has_magic(inner):
        return [pattern] if fs.exists(inner) else []
    return sorted(fs.unstrip_protocol(m) for m in fs.glob(inner))


def join(base: str, *names: str) -> str:
    """``base/name/...`` for a URL (always ``/``) or a path."""
    if not is_url(base):
        return os.path.join(base, *names)
    return "/".join([base.rstrip("/"), *names])


def makedirs(url: str) -> None:
    """Create a directory and its parents at ``url`` (nothing to do on a store without directories)."""
    fs, inner = filesystem(url)
    fs.makedirs(inner, exist_ok=True)


def upload(local: str | os.PathLike[str], url: str) -> None:
    """Copy one local file to ``url`` (parents created where the filesystem has directories)."""
    fs, inner = filesystem(url)
    parent = inner.rsplit("/", 1)[0]
    if parent and parent != inner:
        fs.makedirs(parent, exist_ok=True)
    fs.put_file(os.fspath(local), inner)


def remove(url: str) -> None:
    """Delete a file or a whole directory (prefix) at ``url``; nothing there is fine."""
    fs, inner = filesystem(url)
    if fs.exists(inner):
        fs.rm(inner, recursive=True)
