"""``split.dedup``: duplicate clusters become split groups, so no test or validation record has a
(near-)duplicate in train.

* ``exact`` — equal normalised text (:func:`tuneprep.neardup.minhash.normalize_text`);
* ``minhash`` — character 5-gram Jaccard >= ``dedup_threshold`` (default 0.8) with the very
  hash functions and bands of ``tuneprep eval``'s leakage check (64 permutations, 16 bands x 4
  rows, every candidate verified exactly, every pair of a bucket tried). Any pair that check can
  report is a candidate here and joins one cluster, so the check reports 0 overlaps on such a
  split (it also covers exact duplicates: their Jaccard is 1);
* ``semantic`` — cosine of minilm-l6 embeddings >= ``dedup_threshold`` (default 0.9).

With ``group_by`` as well, a record's group is the union of its ``group_by`` group and its cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tuneprep.neardup.cluster import MinHashConfig, cluster_texts, merge
from tuneprep.neardup.minhash import BANDS, N_PERM, SHINGLE, normalize_text, record_content
from tuneprep.recipe import SplitConfig

LEAKAGE_THRESHOLD = 0.8


def leakage_minhash_config(threshold: float = LEAKAGE_THRESHOLD) -> MinHashConfig:
    """The near-duplicate definition of ``tuneprep eval``'s leakage check, as a cluster config."""
    return MinHashConfig(ngram=SHINGLE, unit="char", short="whole", threshold=threshold, num_perm=N_PERM,
                         bands=BANDS, rows=N_PERM // BANDS, verify=True, window=None)


def merge_equal(labels: np.ndarray, keys: list[str | None]) -> None:
    """Union records whose key is equal (``None``: no key, joins nothing)."""
    first: dict[str, int] = {}
    u, v = [], []
    for i, key in enumerate(keys):
        if key is not None:
            j = first.setdefault(key, i)
            if j != i:
                u.append(j)
                v.append(i)
    merge(labels, np.array(u, dtype=np.int64), np.array(v, dtype=np.int64))


def duplicate_labels(texts: list[str], method: str, threshold: float | None = None) -> np.ndarray:
    """Cluster labels (smallest index of each cluster) of ``texts`` under ``method``."""
    n = len(texts)
    if method == "exact":
        labels = np.arange(n, dtype=np.int64)
        merge_equal(labels, [normalize_text(t) or None for t in texts])
        return labels
    if method == "minhash":
        return cluster_texts(texts, leakage_minhash_config(threshold or LEAKAGE_THRESHOLD)).astype(np.int64)
    if method == "semantic":
        from tuneprep.neardup.semantic import SemanticConfig, semantic_clusters

        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:  # empty texts are never compared: they would all embed to one point
            idx = np.array([i for i, t in enumerate(texts) if t.strip()], dtype=np.int64)
            sub, _ = semantic_clusters([texts[i] for i in idx], SemanticConfig(threshold=threshold or 0.9))
            labels = np.arange(n, dtype=np.int64)
            merge(labels, idx, idx[sub])
            return labels
        return semantic_clusters(texts, SemanticConfig(threshold=threshold or 0.9))[0]
    raise ValueError(f"unknown split.dedup method {method!r} (exact, minhash, semantic)")


def with_duplicate_groups(open_items: Callable[[], Iterator[Any]], cfg: SplitConfig) -> list[tuple[str | None, str]]:
    """(stratum, group) per record where the group joins ``group_by`` and the duplicate cluster."""
    from tuneprep.engine.split import split_keys

    keys = []
    texts = []
    for it in open_items():
        keys.append(split_keys(it.record, cfg))
        texts.append(record_content(it.record))
    assert cfg.dedup is not None
    labels = duplicate_labels(texts, cfg.dedup, cfg.dedup_threshold)
    del texts
    if cfg.group_by is not None:
        merge_equal(labels, [g for _, g in keys])
    return [(stratum, f"c{int(lab)}") for (stratum, _), lab in zip(keys, labels)]
