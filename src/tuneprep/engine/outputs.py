"""Where a run's outputs go: a directory of this machine, or a URL (object storage).

A run always works on local disk: its work directory (shard files, done markers: resume) and its
staged outputs. For a plain ``output.path`` both live in the output directory (``OUT/.work``,
``OUT/.staging``) and the staged outputs are moved into place by rename, each replaced whole.
For a URL (``s3://bucket/run``, ``file://``, ``memory://`` ...) both live in a local directory
named after the URL (``<cache>/url-runs/<hash>``, so a rerun of the same recipe resumes), and the
finished outputs are **uploaded** file by file after the run has written them, rather than
streamed: the writers, the rejects appended per step, the line counts of the accounting check
and the reject-fraction messages all read local files, and an object store has neither append
nor rename. The upload deletes the old ``manifest.json`` first and writes the new one last, so
a URL holding a ``manifest.json`` holds a complete run; a run killed during the upload keeps its
work directory and a rerun resumes from its done shards, then uploads again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tuneprep.datasets import cache_dir
from tuneprep.errors import TuneprepError
from tuneprep.io import fs
from tuneprep.io.layout import MANIFEST
from tuneprep.urls import is_url


class UploadError(TuneprepError, RuntimeError):
    """The outputs of a finished run could not be uploaded; its work directory is kept (resume)."""


@dataclass(frozen=True)
class OutputPlace:
    """A run's output location (``target``: ``output.path`` as given) and the local directory
    (``local``) holding its work directory and staged outputs."""

    target: str
    local: Path

    @classmethod
    def of(cls, path: str) -> OutputPlace:
        """The place for ``output.path``; a URL whose filesystem cannot be used fails here, before the run."""
        if not is_url(path):
            return cls(path, Path(path))
        fs.filesystem(path)
        key = hashlib.sha256(path.rstrip("/").encode()).hexdigest()[:16]
        return cls(path, cache_dir() / "url-runs" / key)

    @property
    def remote(self) -> bool:
        """True when the outputs are uploaded to a URL."""
        return is_url(self.target)

    @property
    def result_dir(self) -> Path | str:
        """What ``RunResult.out_dir`` holds: the output directory, or the URL."""
        return self.target if self.remote else Path(self.target)

    def show(self, name: str) -> str:
        """``OUT/name`` as messages name it (a URL for object storage)."""
        return fs.join(self.target, name)

    def publish(self, staging: Path, dirs: tuple[str, ...], files: tuple[str, ...]) -> None:
        """Put ``dirs`` (each replaced whole; one not staged is removed) and then ``files`` (in
        order) from ``staging`` into place, and drop ``staging``."""
        if self.remote:
            try:
                self._upload(staging, dirs, files)
            except OSError as e:  # network, credentials, permissions: the run's work is kept
                raise UploadError(f"{self.target}: uploading the outputs failed: {e}. The run's work is kept in "
                                  f"{self.local}: run again to resume and upload") from e
        else:
            out = Path(self.target)
            for name in dirs:
                if (out / name).exists():
                    shutil.rmtree(out / name)
                if (staging / name).exists():
                    os.replace(staging / name, out / name)
            for name in files:
                os.replace(staging / name, out / name)
        shutil.rmtree(staging, ignore_errors=True)

    def _upload(self, staging: Path, dirs: tuple[str, ...], files: tuple[str, ...]) -> None:
        if MANIFEST in files:  # the old run's completion mark goes first
            fs.remove(self.show(MANIFEST))
        for name in dirs:
            fs.remove(self.show(name))
            if not (staging / name).exists():
                continue
            fs.makedirs(self.show(name))  # an empty data/ (nothing kept) still shows
            for f in sorted((staging / name).rglob("*")):
                if f.is_file():
                    fs.upload(f, fs.join(self.target, *f.relative_to(staging).parts))
        for name in files:
            fs.upload(staging / name, self.show(name))

    def finished(self) -> None:
        """Drop the local directory of a URL output once its outputs are uploaded."""
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)
