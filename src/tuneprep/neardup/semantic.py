"""Semantic near-duplicates: sentence embeddings, neighbours above a cosine threshold, clusters.

Embeddings come from :func:`tuneprep.annotate.embed.encode` (the ``minilm-l6`` default from the
PyPI package, batched, cached on disk by text hash, so a re-run embeds nothing). Neighbours:
faiss — an exact inner-product range search (``IndexFlatIP.range_search``: every pair above the
threshold, no misses) below ``exact_below`` records, and an HNSW graph (``IndexHNSWFlat``, ``k``
neighbours per record, then the threshold) above, where the exact search's n² dot products grow
past the graph's n log n. The 50,000 default is a setting: ``benchmarks/neardup.py
--semantic-n N`` times both on N real texts. Pairs go
through the same union–find as MinHash (:func:`tuneprep.neardup.cluster.merge`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuneprep.neardup.cluster import merge


@dataclass(frozen=True)
class SemanticConfig:
    model: str = "minilm-l6"
    threshold: float = 0.9
    batch_size: int = 64
    index: Literal["auto", "exact", "hnsw"] = "auto"
    exact_below: int = 50_000
    k: int = 16
    cache: bool = True

    def method(self, n: int) -> str:
        if self.index != "auto":
            return self.index
        return "exact" if n < self.exact_below else "hnsw"


def embed(texts: Sequence[str], cfg: SemanticConfig) -> np.ndarray:
    """``[n, dim]`` unit vectors (cached by text hash)."""
    from tuneprep.annotate.embed import encode

    if not texts:
        return np.zeros((0, 1), np.float32)
    return np.ascontiguousarray(encode(list(texts), cfg.model, batch_size=cfg.batch_size, cache=cfg.cache))


def neighbour_pairs(emb: np.ndarray, cfg: SemanticConfig, block: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) with cosine >= threshold: ``(i, j, cosine)``."""
    import faiss

    n, dim = emb.shape
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    ss: list[np.ndarray] = []
    if n < 2:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0, np.float32)
    if cfg.method(n) == "exact":
        index = faiss.IndexFlatIP(dim)
        index.add(emb)
        for a in range(0, n, block):
            lims, d, idx = index.range_search(emb[a:a + block], cfg.threshold)
            lims = lims.astype(np.int64)
            q = np.repeat(np.arange(a, a + len(lims) - 1), np.diff(lims))
            us.append(q)
            vs.append(idx)
            ss.append(d)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = max(64, 2 * cfg.k)
        index.add(emb)
        for a in range(0, n, block):
            d, idx = index.search(emb[a:a + block], cfg.k)
            q = np.repeat(np.arange(a, a + len(d)), cfg.k)
            us.append(q)
            vs.append(idx.ravel())
            ss.append(d.ravel())
    u, v, s = np.concatenate(us), np.concatenate(vs).astype(np.int64), np.concatenate(ss)
    keep = (v >= 0) & (u < v) & (s >= cfg.threshold)
    return u[keep], v[keep], s[keep]


def semantic_clusters(texts: Sequence[str], cfg: SemanticConfig) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels (smallest index of each cluster) and the embeddings."""
    emb = embed(texts, cfg)
    labels = np.arange(len(texts), dtype=np.int64)
    if len(texts) > 1:
        u, v, _ = neighbour_pairs(emb, cfg)
        merge(labels, u, v)
    return labels, emb
