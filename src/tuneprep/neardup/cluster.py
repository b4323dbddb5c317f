"""MinHash-LSH clusters in bounded memory: a signature store on disk, band buckets, union–find.

Flow (:class:`SignatureStore`, then :func:`minhash_clusters`):

1. Signatures arrive in batches (computed in the parallel workers by ``prepare_batch`` or here)
   and go to disk: the signature matrix (``n x num_perm`` uint32), one file of band hashes per
   band, a hash of the whole signature, and (``verify``) every text's unique shingles.
2. Records with identical signatures are merged first (estimated Jaccard 1.0; the chance that
   two texts with Jaccard < 0.7 share all 64+ values is below 0.7^64); only one record per
   identical signature takes part in the band step, so exact duplicates never blow up a bucket.
3. Per band, the (hash, index) pairs are sorted; records in one bucket are candidates. Within a
   bucket every pair is tried (up to ``window`` neighbours in index order, for huge buckets),
   pairs already in one cluster are skipped, and a candidate becomes an edge when its estimated
   Jaccard (share of equal signature values) — or with ``verify`` its exact Jaccard — is at
   least the threshold. When a band's pairs outgrow ``budget_bytes`` they are spilled to disk
   partitions by hash range and processed one partition at a time.
4. Edges are merged with a vectorised union–find (labels point to the smallest index of their
   cluster; pointer jumping after each batch), so memory is a few bytes per record beyond the
   on-disk stores, whatever the number of edges.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuneprep.neardup.minhash import (
    EMPTY,
    Short,
    Unit,
    _mix,
    band_hashes,
    jaccard,
    minhash_signatures,
    normalize_text,
    optimal_bands,
    shingle_table,
    unique_per_text,
)


@dataclass(frozen=True)
class MinHashConfig:
    """What counts as a near-duplicate, and how LSH looks for candidates."""

    ngram: int = 5
    unit: Unit = "word"
    short: Short = "whole"
    threshold: float = 0.7
    num_perm: int = 128
    bands: int | None = None
    rows: int | None = None
    verify: bool = False
    seed: int = 1
    window: int | None = 256  # neighbours tried per record inside one bucket (None: every pair)

    def lsh(self) -> tuple[int, int]:
        """(bands, rows): the overrides, or the S-curve optimum for the threshold."""
        if self.bands and self.rows:
            return self.bands, self.rows
        if self.bands:
            return self.bands, self.num_perm // self.bands
        if self.rows:
            return self.num_perm // self.rows, self.rows
        return optimal_bands(self.threshold, self.num_perm)

    def describe(self) -> str:
        b, r = self.lsh()
        return (f"{self.unit} {self.ngram}-grams, Jaccard >= {self.threshold}, {self.num_perm} permutations, "
                f"{b} bands x {r} rows, {'verified exactly' if self.verify else 'estimated from signatures'}")


def encode_texts(cfg: MinHashConfig, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Signatures (and with ``verify`` unique shingles + offsets) of raw texts, vectorised."""
    norm = [normalize_text(t) for t in texts]
    h, off = shingle_table(norm, cfg.ngram, cfg.unit, cfg.short)
    sig = minhash_signatures(h, off, cfg.num_perm, cfg.seed)
    if not cfg.verify:
        return sig, None, None
    uh, uoff = unique_per_text(h, off)
    return sig, uh, uoff


def _padded(sig: np.ndarray) -> np.ndarray:
    """Signature rows as bytes padded to a multiple of 3, so their base64 has no '=' padding and
    the keys of a whole batch decode in one call."""
    raw = sig.view(np.uint8).reshape(len(sig), -1)
    pad = -raw.shape[1] % 3
    return np.pad(raw, ((0, 0), (0, pad))) if pad else raw


def encode_keys(cfg: MinHashConfig, texts: Sequence[str]) -> list[str]:
    """Compact per-record keys for the engine's ``prepare_batch``: base64 signature [, shingles]."""
    sig, uh, uoff = encode_texts(cfg, texts)
    out = []
    raw = _padded(sig)
    enc = base64.b64encode(raw.tobytes()).decode("ascii")  # one call; rows are 3-byte aligned
    w = raw.shape[1] // 3 * 4
    for i in range(len(texts)):
        if sig[i, 0] == EMPTY and (uoff is None or uoff[i + 1] == uoff[i]):
            out.append("")  # no shingles: never compared
            continue
        key = enc[i * w:(i + 1) * w]
        if uh is not None and uoff is not None:
            key += "," + base64.b64encode(uh[uoff[i]:uoff[i + 1]].tobytes()).decode("ascii")
        out.append(key)
    return out


def decode_keys(cfg: MinHashConfig, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                                  np.ndarray | None]:
    """Keys made by :func:`encode_keys` back into (signatures, valid, unique shingles, shingle counts per
    key); the last two only with ``verify``. An empty key (no shingles) is not valid: never compared."""
    p = cfg.num_perm
    sig = np.full((len(keys), p), EMPTY, dtype=np.uint32)
    valid = np.array([bool(k) for k in keys], dtype=bool)
    width = p * 4 + (-p * 4 % 3)
    if not cfg.verify:
        if valid.any():  # fixed-width, unpadded base64: one decode for the batch
            raw = np.frombuffer(base64.b64decode("".join(k for k in keys if k)), dtype=np.uint8)
            if raw.size != valid.sum() * width:
                raise ValueError(f"signature keys do not hold num_perm={p} values")
            sig[valid] = raw.reshape(-1, width)[:, :p * 4].copy().view(np.uint32)
        return sig, valid, None, None
    shs: list[np.ndarray] = []
    counts = np.zeros(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        if not key:
            continue
        s, _, sh = key.partition(",")
        row = np.frombuffer(base64.b64decode(s), dtype=np.uint8)
        if row.size != width:
            raise ValueError(f"signature of {row.size // 4} values, expected num_perm={p}")
        sig[i] = row[:p * 4].view(np.uint32)
        arr = np.frombuffer(base64.b64decode(sh), dtype=np.uint64)
        shs.append(arr)
        counts[i] = arr.size
    uh = np.concatenate(shs) if shs else np.empty(0, np.uint64)
    return sig, valid, uh, counts


def signature_hash(sig: np.ndarray) -> np.ndarray:
    """One 64-bit hash of each whole signature row: records with equal ones are merged unchecked."""
    return band_hashes(sig, 1, sig.shape[1])[:, 0]


def estimated_jaccard(su: np.ndarray, sv: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of pairs of signature rows: the share of equal values."""
    return (su == sv).mean(axis=1)


def exact_jaccards(sh: np.ndarray, off: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact Jaccard of pairs (u[k], v[k]) from unique shingles ``sh[off[i]:off[i+1]]``."""
    out = np.empty(len(u), dtype=np.float64)
    for k, (i, j) in enumerate(zip(u.tolist(), v.tolist())):
        out[k] = jaccard(sh[off[i]:off[i + 1]], sh[off[j]:off[j + 1]])
    return out


def pair_similarity(cfg: MinHashConfig, sig: np.ndarray, sh: np.ndarray | None, off: np.ndarray | None,
                    u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Similarity of pairs of in-memory records as clustering measures it: exact Jaccard with
    ``verify`` (from :func:`decode_keys`' shingles, ``off`` their offsets), else estimated."""
    if cfg.verify:
        assert sh is not None and off is not None
        return exact_jaccards(sh, off, u, v)
    return estimated_jaccard(sig[u], sig[v])


class SignatureStore:
    """The on-disk state of one clustering: signatures, band hashes, shingles (``verify``).

    Use as a context manager (the files live in a temporary directory under ``work_dir``).
    """

    def __init__(self, cfg: MinHashConfig, work_dir: str | Path | None = None):
        self.cfg = cfg
        self.bands, self.rows = cfg.lsh()
        self.dir = Path(tempfile.mkdtemp(prefix="tuneprep-minhash-", dir=work_dir))
        self.n = 0
        self._sig = open(self.dir / "sig.u32", "wb")  # noqa: SIM115 - closed in finish()
        self._full = open(self.dir / "full.u64", "wb")  # noqa: SIM115
        self._band = [open(self.dir / f"band-{b:03d}.u64", "wb") for b in range(self.bands)]  # noqa: SIM115
        self._valid: list[np.ndarray] = []
        self._sh = open(self.dir / "sh.u64", "wb") if cfg.verify else None  # noqa: SIM115
        self._sh_counts: list[np.ndarray] = []
        self._sig_mm: np.ndarray | None = None
        self._sh_mm: np.ndarray | None = None
        self._sh_off: np.ndarray | None = None

    def __enter__(self) -> SignatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fh in [self._sig, self._full, *self._band, *([self._sh] if self._sh else [])]:
            if not fh.closed:
                fh.close()
        self._sig_mm = self._sh_mm = None
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- filling ---------------------------------------------------------------------------------

    def add_texts(self, texts: Sequence[str]) -> None:
        """Compute and store the signatures of a batch of raw texts."""
        sig, uh, uoff = encode_texts(self.cfg, texts)
        valid = sig[:, 0] != EMPTY
        if uoff is not None:
            valid |= np.diff(uoff) > 0
        self._append(sig, valid, uh, None if uoff is None else np.diff(uoff))

    def add_keys(self, keys: Sequence[str | None], texts: Callable[[list[int]], list[str]]) -> None:
        """Store a batch of keys made by :func:`encode_keys`; ``None`` keys are computed from ``texts``."""
        missing = [i for i, k in enumerate(keys) if k is None]
        computed = dict(zip(missing, encode_keys(self.cfg, texts(missing)))) if missing else {}
        full = [computed[i] if k is None else k for i, k in enumerate(keys)]
        self._append(*decode_keys(self.cfg, full))

    def _append(self, sig: np.ndarray, valid: np.ndarray, uh: np.ndarray | None, counts: np.ndarray | None) -> None:
        self._sig.write(np.ascontiguousarray(sig).tobytes())
        bh = band_hashes(sig, self.bands, self.rows)
        for b in range(self.bands):
            self._band[b].write(np.ascontiguousarray(bh[:, b]).tobytes())
        self._full.write(signature_hash(sig).tobytes())
        self._valid.append(valid)
        if self._sh is not None and uh is not None and counts is not None:
            self._sh.write(uh.tobytes())
            self._sh_counts.append(counts)
        self.n += len(sig)

    def finish(self) -> None:
        """Close the files for writing; reading (memory-mapped) can start."""
        for fh in [self._sig, self._full, *self._band, *([self._sh] if self._sh else [])]:
            fh.close()
        self.valid = np.concatenate(self._valid) if self._valid else np.zeros(0, bool)
        self._valid = []
        if self.cfg.verify:
            off = np.zeros(self.n + 1, dtype=np.int64)
            if self._sh_counts:
                np.cumsum(np.concatenate(self._sh_counts), out=off[1:])
            self._sh_counts = []
            np.save(self.dir / "sh_off.npy", off)

    # --- reading ---------------------------------------------------------------------------------

    def signatures(self) -> np.ndarray:
        if self._sig_mm is None:
            self._sig_mm = (np.memmap(self.dir / "sig.u32", dtype=np.uint32, mode="r").reshape(self.n, -1)
                            if self.n else np.zeros((0, self.cfg.num_perm), np.uint32))
        return self._sig_mm

    def release(self) -> None:
        """Unmap the stores, so that their pages stop counting in this process's memory."""
        self._sig_mm = self._sh_mm = self._sh_off = None

    def read_u64(self, name: str) -> np.ndarray:
        return np.fromfile(self.dir / name, dtype=np.uint64)

    def estimated(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of pairs (share of equal signature values), in chunks."""
        sig = self.signatures()
        out = np.empty(len(u), dtype=np.float64)
        for a in range(0, len(u), 65536):
            out[a:a + 65536] = estimated_jaccard(sig[u[a:a + 65536]], sig[v[a:a + 65536]])
        return out

    def exact(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Jaccard of pairs from the stored unique shingles (``verify`` only)."""
        if self._sh_mm is None:
            self._sh_off = np.load(self.dir / "sh_off.npy", mmap_mode="r")
            size = os.path.getsize(self.dir / "sh.u64")
            self._sh_mm = (np.memmap(self.dir / "sh.u64", dtype=np.uint64, mode="r") if size
                           else np.zeros(0, np.uint64))
        off, sh = self._sh_off, self._sh_mm
        assert off is not None
        return exact_jaccards(sh, off, u, v)

    def similarity(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.exact(u, v) if self.cfg.verify else self.estimated(u, v)


# --- union–find ------------------------------------------------------------------------------------


def merge(labels: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """Union the clusters of each pair (u[k], v[k]) in ``labels`` (in place).

    Invariant: ``labels`` is fully compressed (every entry is its cluster's root) and a root is the
    smallest index of its cluster. Each round points every higher root at the lower one, then
    pointer-jumps until stable; rounds repeat until every pair shares a root.
    """
    while len(u):
        lu, lv = labels[u], labels[v]
        diff = lu != lv
        if not diff.any():
            return
        u, v, lu, lv = u[diff], v[diff], lu[diff], lv[diff]
        lo, hi = np.minimum(lu, lv), np.maximum(lu, lv)
        np.minimum.at(labels, hi, lo)
        while True:
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels[:] = nxt


# --- candidates and clusters -------------------------------------------------------------------------


def _bucket_pairs(hashes: np.ndarray, idx: np.ndarray, labels: np.ndarray, window: int | None,
                  accept: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[int, int]:
    """Try the pairs of every bucket (equal hash) of one band partition; merge accepted ones.

    Returns (candidate pairs tried, pairs accepted).
    """
    order = np.argsort(hashes, kind="stable")
    h, ix = hashes[order], idx[order]
    if h.size < 2:
        return 0, 0
    starts = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]]))
    sizes = np.diff(np.concatenate([starts, [h.size]]))
    size_of = np.repeat(sizes, sizes)
    tried = accepted = 0
    d = 1
    while window is None or d <= window:
        # whole buckets with no pair at distance d drop out, so distances inside the rest hold
        sel = size_of > d
        if not sel.any():
            break
        h, ix, size_of = h[sel], ix[sel], size_of[sel]
        m = h[d:] == h[:-d]
        u, v = ix[:-d][m], ix[d:][m]
        keep = labels[u] != labels[v]
        u, v = u[keep], v[keep]
        if len(u):
            ok = accept(u, v)
            tried += len(u)
            accepted += int(ok.sum())
            merge(labels, u[ok], v[ok])
        d += 1
    return tried, accepted


def minhash_clusters(store: SignatureStore, budget_bytes: int = 256 << 20) -> tuple[np.ndarray, dict[str, int]]:
    """Cluster labels (the smallest index of each record's cluster) and counts of the work done."""
    cfg = store.cfg
    n = store.n
    labels = np.arange(n, dtype=np.int64 if n >= 2**31 else np.int32)
    stats = {"records": n, "compared": int(store.valid.sum()), "bands": store.bands, "rows": store.rows,
             "identical_signature_merges": 0, "candidate_pairs": 0, "accepted_pairs": 0, "spill_partitions": 1}
    if n < 2:
        return labels, stats
    valid_idx = np.flatnonzero(store.valid)
    # 1. identical signatures (all of them accepted)
    full = store.read_u64("full.u64")[valid_idx]
    order = np.argsort(full, kind="stable")
    same = full[order][1:] == full[order][:-1]
    u, v = valid_idx[order][:-1][same], valid_idx[order][1:][same]
    stats["identical_signature_merges"] = int(same.sum())
    merge(labels, u, v)
    del full, order, same, u, v
    reps = valid_idx[labels[valid_idx] == valid_idx]

    def accept(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return store.similarity(a, b) >= cfg.threshold

    # 2. bands, in bounded memory: ~24 bytes per entry (hash, index, sort order)
    parts = max(1, -(-len(reps) * 24 // budget_bytes))
    stats["spill_partitions"] = parts
    for b in range(store.bands):
        if parts == 1:
            hashes = store.read_u64(f"band-{b:03d}.u64")[reps]
            t, a = _bucket_pairs(hashes, reps, labels, cfg.window, accept)
            stats["candidate_pairs"] += t
            stats["accepted_pairs"] += a
            continue
        # spill: stream the band file, partition (hash, index) by hash range to disk files, then
        # take one partition at a time
        files = [store.dir / f"spill-{b}-{p}.u64" for p in range(parts)]
        outs = [open(f, "wb") for f in files]  # noqa: SIM115 - closed below
        chunk = max(1, budget_bytes // 32)
        with open(store.dir / f"band-{b:03d}.u64", "rb") as fh:
            for lo in range(0, n, chunk):
                hv = np.fromfile(fh, dtype=np.uint64, count=min(chunk, n - lo))
                ra, rb = np.searchsorted(reps, [lo, lo + len(hv)])
                r = reps[ra:rb]
                hv = hv[r - lo]
                part = ((hv >> np.uint64(40)) * np.uint64(parts)) >> np.uint64(24)
                for p in range(parts):
                    sel = part == p
                    outs[p].write(np.stack([hv[sel], r[sel].astype(np.uint64)], axis=1).tobytes())
        for fo in outs:
            fo.close()
        for f in files:
            hv = np.fromfile(f, dtype=np.uint64).reshape(-1, 2)
            t, a = _bucket_pairs(hv[:, 0].copy(), hv[:, 1].astype(np.int64), labels, cfg.window, accept)
            stats["candidate_pairs"] += t
            stats["accepted_pairs"] += a
            del hv
            f.unlink()
    store.release()
    return labels, stats


def choose_survivors(labels: np.ndarray, rank: np.ndarray | None = None) -> np.ndarray:
    """The survivor index of each record's cluster: the lowest ``rank`` (ties: the first in input order).

    ``rank=None`` keeps the first record of each cluster (its root).
    """
    if rank is None:
        return labels.astype(np.int64)
    n = len(labels)
    idx = np.arange(n, dtype=np.int64)
    order = np.lexsort((idx, rank, labels))
    lab_sorted = labels[order]
    first = np.ones(n, dtype=bool)
    first[1:] = lab_sorted[1:] != lab_sorted[:-1]
    surv_of_root = np.empty(n, dtype=np.int64)
    surv_of_root[lab_sorted[first]] = order[first]
    return surv_of_root[labels]


def cluster_texts(texts: Sequence[str], cfg: MinHashConfig, batch: int = 4096,
                  work_dir: str | Path | None = None) -> np.ndarray:
    """Cluster labels of an in-memory list of texts (for the split, inspect and tests)."""
    with SignatureStore(cfg, work_dir) as store:
        for a in range(0, len(texts), batch):
            store.add_texts(texts[a:a + batch])
        store.finish()
        labels, _ = minhash_clusters(store)
    return labels


__all__ = ["MinHashConfig", "SignatureStore", "choose_survivors", "cluster_texts", "decode_keys", "encode_keys",
           "estimated_jaccard", "exact_jaccards", "merge", "minhash_clusters", "pair_similarity", "signature_hash", "_mix"]
