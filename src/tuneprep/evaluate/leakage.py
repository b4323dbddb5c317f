"""Held-out means unseen: exact and near-duplicate overlap between test and training records.

Texts are normalised (NFKC, case-folded, punctuation and whitespace collapsed) before
comparison. Exact overlap: equal normalised text. Near-duplicates: Jaccard similarity of
character 5-gram shingle sets >= ``threshold`` (default 0.8). Candidates come from a vectorised
MinHash (64 permutations, 16 bands of 4 rows: a pair at Jaccard 0.8 becomes a candidate with
probability 1 - (1 - 0.8^4)^16 > 0.9999) and every candidate is then verified with the exact
Jaccard, so reported pairs have no false positives.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SHINGLE = 5
N_PERM = 64
BANDS = 16
_MERSENNE = np.uint64((1 << 61) - 1)
_NONWORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """The comparison form of a text: NFKC, case-folded, runs of non-word characters as one space."""
    return _NONWORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def record_content(rec: Mapping[str, Any]) -> str:
    """What counts as the content of a record for overlap: its text or its user/assistant turns."""
    text = rec.get("text")
    if isinstance(text, str):
        return text
    msgs = rec.get("messages")
    if isinstance(msgs, list):
        return "\n".join(str(m.get("content", "")) for m in msgs
                         if isinstance(m, Mapping) and m.get("role") != "system")
    return ""


def _shingle_hashes(norm: str) -> np.ndarray:
    if len(norm) <= SHINGLE:
        grams = {norm}
    else:
        grams = {norm[i:i + SHINGLE] for i in range(len(norm) - SHINGLE + 1)}
    import xxhash

    return np.fromiter((xxhash.xxh64_intdigest(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


def _perm_params(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, (1 << 61) - 1, N_PERM, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, N_PERM, dtype=np.uint64)
    return a, b


def _minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # 32-bit inputs keep a*x inside uint64 (wrap-around would still be a valid hash family,
    # but staying below 2^64 keeps it the textbook universal hash).
    x = (hashes & np.uint64(0xFFFFFFFF))[:, None]
    return ((a[None, :] * x + b[None, :]) % _MERSENNE).min(axis=0)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


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

    a, b = _perm_params()
    rows = N_PERM // BANDS
    buckets: dict[tuple[int, bytes], list[int]] = {}
    train_sh: list[np.ndarray] = []
    for j, t in enumerate(train_norm):
        sh = _shingle_hashes(t) if t else np.empty(0, dtype=np.uint64)
        train_sh.append(np.unique(sh))
        if sh.size == 0:
            continue
        sig = _minhash(sh, a, b)
        for band in range(BANDS):
            buckets.setdefault((band, sig[band * rows:(band + 1) * rows].tobytes()), []).append(j)
    for i, (r, t) in enumerate(zip(test, test_norm)):
        if i in exact_ids or not t:
            continue
        sh = np.unique(_shingle_hashes(t))
        sig = _minhash(sh, a, b)
        cands: set[int] = set()
        for band in range(BANDS):
            cands.update(buckets.get((band, sig[band * rows:(band + 1) * rows].tobytes()), ()))
        best: tuple[float, int] | None = None
        for j in cands:
            jac = _jaccard(sh, train_sh[j])
            if jac >= threshold and (best is None or jac > best[0]):
                best = (jac, j)
        if best is not None:
            rep.near.append((str(r.get("id")), str(train[best[1]].get("id")), best[0]))
    return rep


def file_fingerprint(path: str) -> str:
    """sha256 of a file's bytes (what training runs record as data fingerprints)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
