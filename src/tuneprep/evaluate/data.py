"""Test data for ``eval``: a file, or a recipe run directory (its ``test/`` split); seeded subsamples.

Also finds the training data that a test set must not overlap: the training run's recorded data
files and, for a recipe run directory, its own ``train/`` and ``val/`` splits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tuneprep.errors import TuneprepError
from tuneprep.io.readers import load_records

SPLIT_SUFFIXES = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.json", "*.parquet", "*.csv", "*.tsv")


class EvalDataError(TuneprepError, ValueError):
    """Test data that cannot be used (message names the path and what is wrong)."""


def split_files(run_dir: Path, split: str) -> list[Path]:
    """Data files of one split of a recipe run directory (sorted; empty when absent)."""
    d = run_dir / split
    if not d.is_dir():
        return []
    return sorted({f for pat in SPLIT_SUFFIXES for f in d.glob(pat) if not f.name.startswith(".")})


def is_recipe_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "manifest.json").exists() or (path / "test").is_dir()
                              or (path / "stats.json").exists())


def test_files(data: str | Path) -> list[Path]:
    """The files to evaluate on: ``data`` itself, or a recipe run dir's ``test/`` split."""
    p = Path(data)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = split_files(p, "test")
        if files:
            return files
        if is_recipe_dir(p):
            raise EvalDataError(f"{p}: a recipe run directory without a test/ split "
                                "(add `split:` with a test share to the recipe)")
        raise EvalDataError(f"{p}: a directory, but neither a data file nor a recipe run dir with test/")
    raise EvalDataError(f"{p}: no such file or directory")


def load_test_records(data: str | Path) -> tuple[list[dict[str, Any]], list[Path]]:
    """All records of the test data (ids must be unique); returns (records, files)."""

    files = test_files(data)
    records: list[dict[str, Any]] = []
    for f in files:
        records.extend(load_records(f))
    seen: dict[str, int] = {}
    for i, r in enumerate(records):
        rid = str(r["id"])
        if rid in seen:
            raise EvalDataError(f"{data}: id {rid!r} appears twice (records {seen[rid] + 1} and {i + 1}); "
                                "predictions are keyed by id")
        seen[rid] = i
    if not records:
        raise EvalDataError(f"{data}: no records")
    return records, files


def task_of(records: Sequence[Mapping[str, Any]], source: str) -> str:
    """``classify`` (text + label), ``chat`` (messages with an assistant answer); else an error."""
    n_text_label = sum(1 for r in records if isinstance(r.get("text"), str) and r.get("label") not in (None, ""))
    n_chat = sum(1 for r in records if isinstance(r.get("messages"), list))
    if n_text_label == len(records):
        return "classify"
    if n_chat == len(records):
        return "chat"
    if n_text_label:
        bad = next(r for r in records if not (isinstance(r.get("text"), str) and r.get("label") not in (None, "")))
        raise EvalDataError(f"{source}: record {bad.get('id')!r} has no text or no label; every test record "
                            "of a classification set needs both")
    raise EvalDataError(f"{source}: records have neither text+label nor messages; nothing to evaluate")


def stratified_sample(records: Sequence[Mapping[str, Any]], n: int, seed: int = 0,
                      key: str | None = "label") -> list[int]:
    """Indices of a seeded subsample of ``n`` records, stratified by ``key``, in the original order.

    Each stratum gets its proportional share (largest remainders first), so class shares are
    kept to within one record. ``key=None``: a plain seeded random sample.
    """
    if n >= len(records):
        return list(range(len(records)))
    if key is None:
        return sorted(int(i) for i in np.random.default_rng(seed).permutation(len(records))[:n])
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        k = r.get(key)
        groups[json.dumps(k, sort_keys=True) if isinstance(k, (list, dict)) else k].append(i)
    total = len(records)
    keys = sorted(groups, key=str)
    quota = {k: n * len(groups[k]) / total for k in keys}
    take = {k: int(quota[k]) for k in keys}
    for k in sorted(keys, key=lambda k: (-(quota[k] - take[k]), str(k)))[: n - sum(take.values())]:
        take[k] += 1
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for k in keys:
        idx = groups[k]
        chosen.extend(idx[j] for j in rng.permutation(len(idx))[: take[k]])
    return sorted(chosen)


def training_sources(run_dir: Path | None, data: str | Path, extra: Sequence[str | Path] = ()) -> list[Path]:
    """Files of training data that the test set must not overlap (only those that exist)."""
    out: list[Path] = []
    d = Path(data)
    if d.is_dir():
        out += split_files(d, "train") + split_files(d, "val")
    if run_dir is not None:
        for p in _recorded_train_paths(run_dir):
            q = Path(p)
            if q.is_dir():  # a recipe run dir: its train/ and val/ splits (never other files in it)
                out += split_files(q, "train") + split_files(q, "val")
            elif q.is_file():
                out.append(q)
    out += [Path(p) for p in extra]
    uniq: list[Path] = []
    for p in out:
        if p.resolve() not in {u.resolve() for u in uniq}:
            uniq.append(p)
    return uniq


def _walk_paths(obj: Any, keys: tuple[str, ...]) -> list[str]:
    """Strings under a key in ``keys`` anywhere in a JSON object (and the keys of maps under such a
    key: a run's fingerprints are ``{"train": {path: sha256}}``)."""
    found: list[str] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if k in keys:
                if isinstance(v, str):
                    found.append(v)
                elif isinstance(v, list):
                    found += [x for x in v if isinstance(x, str)]
                elif isinstance(v, Mapping):
                    found += [str(x) for x in v] + _walk_paths(v, keys)
            else:
                found += _walk_paths(v, keys)
    elif isinstance(obj, list):
        for v in obj:
            found += _walk_paths(v, keys)
    return found


TRAIN_PATH_KEYS = ("train", "train_path", "train_data", "train_file", "train_files", "data", "val", "val_path",
                   "eval_data", "val_data", "run_dir")


def _recorded_train_paths(run_dir: Path) -> list[str]:
    """Training data paths a run recorded in config.json / data fingerprint files (read defensively)."""
    paths: list[str] = []
    for name in ("config.json", "data.json", "data_fingerprint.json", "fingerprint.json"):
        f = run_dir / name
        if not f.is_file():
            continue
        try:
            obj = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        paths += [p for p in _walk_paths(obj, TRAIN_PATH_KEYS) if ("/" in p or "." in p) and Path(p).exists()]
    return list(dict.fromkeys(paths))


def recorded_fingerprints(run_dir: Path | None) -> set[str]:
    """Every sha256-looking hex string a run recorded about its data (config/fingerprint files)."""
    if run_dir is None:
        return set()
    import re

    hexes: set[str] = set()
    for name in ("config.json", "data.json", "data_fingerprint.json", "fingerprint.json"):
        f = run_dir / name
        if f.is_file():
            hexes |= set(re.findall(r"\b[0-9a-f]{64}\b", f.read_text(errors="replace")))
    return hexes
