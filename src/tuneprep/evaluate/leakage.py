"""Held-out means unseen: exact and near-duplicate overlap between test and training records.

Texts are normalised (NFKC, case-folded, punctuation and whitespace collapsed) before
comparison. Exact overlap: equal normalised text. Near-duplicates: Jaccard similarity of
character 5-gram shingle sets >= ``threshold`` (default 0.8). Candidates come from a MinHash
(64 multiply-shift hash functions, 16 bands of 4 rows: a pair at Jaccard 0.8 becomes a candidate
with probability 1 - (1 - 0.8^4)^16 > 0.9999) and every candidate is then verified with the
exact Jaccard, so reported pairs have no false positives. Shingle hashes and signatures are
computed with numpy over all texts at once (no Python loop per shingle or per hash function), by
:mod:`tuneprep.neardup.minhash`, the project's one MinHash: ``split.dedup: minhash`` uses these
very hash functions and bands, so a split made with it has no overlap this check can find.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuneprep.io.fingerprint import sha256_file
from tuneprep.neardup.minhash import (
    BANDS,
    N_PERM,
    SHINGLE,
    normalize_text,
    record_content,
)
from tuneprep.neardup.minhash import (  # the project's one MinHash; re-exported for callers
    jaccard as _jaccard,
)
from tuneprep.neardup.minhash import (
    minhash_signatures as _signatures,
)
from tuneprep.neardup.minhash import (
    shingle_table as _shingle_table,
)

__all__ = ["BANDS", "N_PERM", "SHINGLE", "LeakageReport", "check_leakage", "file_fingerprint", "normalize_text",
           "record_content", "shingle_table", "minhash_signatures", "_jaccard", "_shingle_hashes"]


def shingle_table(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every character 5-gram of every normalised text (``tuneprep.neardup.minhash``)."""
    return _shingle_table(texts, SHINGLE, "char", "whole")


def minhash_signatures(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``[n_texts, 64]`` MinHash signatures, the same hash family as ``split.dedup: minhash``."""
    return _signatures(hashes, offsets, N_PERM)


def _shingle_hashes(norm: str) -> np.ndarray:
    """The unique shingle hashes of one normalised text (for exact Jaccard)."""
    h, _ = shingle_table([norm])
    return np.unique(h)


@dataclass
class LeakageReport:
    """Overlap of a test set with training data. ``exact``/``near``: (test id, train id[, jaccard])."""

    n_test: int
    n_train: int
    threshold: float
    exact: list[tuple[str, str]] = field(default_factory=list)
    near: list[tuple[str, str, float]] = field(default_factory=list)
    fingerprint_match: list[str] = field(default_factory=list)

    @property
    def leaked_ids(self) -> list[str]:
        """Test ids that appear in training data, exactly or nearly (sorted, unique)."""
        return sorted({t for t, *_ in self.exact} | {t for t, *_ in self.near})

    @property
    def count(self) -> int:
        return len(self.leaked_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_test": self.n_test, "n_train": self.n_train, "threshold": self.threshold,
            "method": f"normalised text; char {SHINGLE}-gram Jaccard via MinHash ({N_PERM} perms, {BANDS} bands), "
                      "verified exactly",
            "overlap_count": self.count, "exact_count": len({t for t, _ in self.exact}),
            "near_count": len({t for t, *_ in self.near} - {t for t, _ in self.exact}),
            "leaked_ids": self.leaked_ids,
            "exact": [{"test_id": t, "train_id": r} for t, r in self.exact],
            "near": [{"test_id": t, "train_id": r, "jaccard": round(j, 4)} for t, r, j in self.near],
            "fingerprint_match": self.fingerprint_match,
        }


def check_leakage(
    test: Iterable[Mapping[str, Any]],
    train: Iterable[Mapping[str, Any]],
    threshold: float = 0.8,
    near: bool = True,
) -> LeakageReport:
    """Find test records whose content appears in ``train`` exactly or as a near-duplicate.

    Exact matches are listed once per (test id, first train id); a test record with an exact
    match is not also listed as a near-duplicate.
    """
    test = list(test)
    train = list(train)
    rep = LeakageReport(n_test=len(test), n_train=len(train), threshold=threshold)
    train_norm = [normalize_text(record_content(r)) for r in train]
    test_norm = [normalize_text(record_content(r)) for r in test]
    first_by_text: dict[str, str] = {}
    for r, t in zip(train, train_norm):
        if t:
            first_by_text.setdefault(t, str(r.get("id")))
    exact_ids: set[int] = set()
    for i, (r, t) in enumerate(zip(test, test_norm)):
        if t and t in first_by_text:
            rep.exact.append((str(r.get("id")), first_by_text[t]))
            exact_ids.add(i)
    if not near or not train:
        return rep

    rows = N_PERM // BANDS
    tr_h, tr_off = shingle_table(train_norm)
    tr_sig = minhash_signatures(tr_h, tr_off)
    buckets: dict[tuple[int, bytes], list[int]] = {}
    for j in range(len(train_norm)):
        if tr_off[j + 1] == tr_off[j]:
            continue
        row = tr_sig[j]
        for band in range(BANDS):
            buckets.setdefault((band, row[band * rows:(band + 1) * rows].tobytes()), []).append(j)
    todo = [i for i, t in enumerate(test_norm) if t and i not in exact_ids]
    te_h, te_off = shingle_table([test_norm[i] for i in todo])
    te_sig = minhash_signatures(te_h, te_off)
    train_sets: dict[int, np.ndarray] = {}
    for k, i in enumerate(todo):
        sig = te_sig[k]
        cands: set[int] = set()
        for band in range(BANDS):
            cands.update(buckets.get((band, sig[band * rows:(band + 1) * rows].tobytes()), ()))
        if not cands:
            continue
        sh = np.unique(te_h[te_off[k]:te_off[k + 1]])
        best: tuple[float, int] | None = None
        for j in sorted(cands):
            if j not in train_sets:
                train_sets[j] = np.unique(tr_h[tr_off[j]:tr_off[j + 1]])
            jac = _jaccard(sh, train_sets[j])
            if jac >= threshold and (best is None or jac > best[0]):
                best = (jac, j)
        if best is not None:
            rep.near.append((str(test[i].get("id")), str(train[best[1]].get("id")), best[0]))
    return rep


def file_fingerprint(path: str) -> str:
    """sha256 of a file's bytes (what training runs record as data fingerprints)."""

    return sha256_file(path)
