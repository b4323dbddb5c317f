"""``select.diverse``: representative coverage of the input within a budget ``n``.

Records are embedded with a sentence encoder (``minilm-l6`` by default; ``annotate.embed`` caches
every vector on disk, so a second run or another op over the same texts does not encode again).
Two methods:

* ``clusters`` (default) — k-means (scikit-learn ``MiniBatchKMeans``) into ``n_clusters``
  groups, the budget shared among the clusters by ``cluster_weight`` (√-size by default: small
  clusters, i.e. rare kinds of text, get more than their share, big ones still the most), and
  within a cluster a seeded random choice. Keeps the data representative while covering its
  corners. Records get ``{cluster, distance}`` (cosine distance to their centroid).
* ``kcenter`` — greedy farthest-first traversal: each pick is the record farthest from all
  picks so far, which minimises the largest distance of any record to the selection. Covers
  outliers first (good for coverage audits, risky with noisy data). Records get
  ``{distance}`` (to the nearest pick) and, when dropped, the id of that nearest pick.

``per_label: true`` runs within each label at ``field``, the budget shared among the labels by
``label_weight`` (``proportional`` keeps the input's distribution; ``equal`` balances the classes
as ``select.balance`` does, with the same water filling when a class runs out).

Cost on 2 CPU cores: encoding is the bulk (batched MiniLM-L6, measured in
``benchmarks/selection.py``), once per text thanks to the cache. k-means is ``MiniBatchKMeans``
(batches of 4,096, O(N·c·d) per pass); k-center is one matrix-vector product over N×384 float32
per pick, O(n·N·d), in numpy/BLAS — no N×N matrix is ever built, so memory stays O(N·d).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.ops.selection.common import DEFAULT_ENCODER, Collected, Strategy, by_priority, quotas
from tuneprep.records import set_score


class DiverseParams(OpParams):
    n: int = Field(ge=0)
    """Records to keep."""
    method: Literal["clusters", "kcenter"] = "clusters"
    """clusters: k-means then stratified sampling across clusters; kcenter: greedy farthest-first."""
    n_clusters: int | None = Field(None, ge=1)
    """clusters: k per group (default: √(group size), at least 8, at most the group's budget)."""
    cluster_weight: Strategy = "sqrt"
    """clusters: how the budget is shared among clusters (equal | proportional | sqrt of cluster size)."""
    per_label: bool = False
    """Select within each label (the budget shared among labels by label_weight)."""
    label_weight: Strategy = "proportional"
    """per_label: share of each label: proportional keeps the input's distribution, equal balances, sqrt between."""
    field: str = "label"
    """Label field or dotted meta path, for per_label (a list: its first label)."""
    model: str = DEFAULT_ENCODER
    """Sentence encoder (registry name or local directory); minilm-l6-static embeds ~50x faster on CPU."""
    seed: int = 0
    """Seed of k-means, of the k-center start and of the choice within a cluster."""


def kcenter(x: Any, k: int, start: int) -> tuple[list[int], Any, Any, Any]:
    """Greedy farthest-first on unit vectors ``x``: (picks, distance at pick, final distance, nearest pick)."""
    import numpy as np

    n = len(x)
    picks = [start]
    at_pick = [0.0]
    min_d = (1.0 - x @ x[start]).astype(np.float32)
    nearest = np.full(n, start, dtype=np.int64)
    for _ in range(1, min(k, n)):
        j = int(min_d.argmax())
        if min_d[j] <= 0:  # only exact duplicates of picks are left
            break
        picks.append(j)
        at_pick.append(float(min_d[j]))
        d = 1.0 - x @ x[j]
        closer = d < min_d
        min_d[closer] = d[closer]
        nearest[closer] = j
        min_d[j] = 0.0
    return picks, np.array(at_pick), np.maximum(min_d, 0.0), nearest


def kmeans(x: Any, k: int, seed: int) -> tuple[Any, Any]:
    """(cluster of each row, cosine distance to its centroid) by scikit-learn's MiniBatchKMeans."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
    assign = km.fit_predict(x)
    c = km.cluster_centers_
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return assign, 1.0 - np.einsum("ij,ij->i", x, c[assign])


@register
class SelectDiverse(GlobalOp):
    """Representative, diverse subset of n records by sentence embeddings (k-means strata or k-center)."""

    name: ClassVar[str] = "select.diverse"
    Params: ClassVar[type[OpParams]] = DiverseParams
    description: ClassVar[str] = "Diverse subset of n by embeddings: cluster-stratified or k-center greedy."

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        import numpy as np

        p = self.params
        data = Collected(open_items, p.seed, p.field if p.per_label else None)
        groups: dict[str, list[int]] = {}
        for pos, labs in enumerate(data.labels if p.per_label else [[]] * len(data)):
            groups.setdefault(labs[0] if labs else "", []).append(pos)
        budget = quotas({g: len(m) for g, m in groups.items()}, p.n, p.label_weight if p.per_label else "proportional")
        keep: set[int] = set()
        info: dict[int, dict[str, Any]] = {}
        why: dict[int, dict[str, Any]] = {}
        x_all = data.embeddings(p.model) if len(data) else np.zeros((0, 1), np.float32)
        for g, members in groups.items():
            k = budget[g]
            if k >= len(members):  # nothing to choose: the whole group fits
                keep.update(members)
                continue
            if k == 0:
                for pos in members:
                    why[pos] = {"group": g, "budget": 0}
                continue
            x = x_all[members]
            prefix = f"{g}/" if p.per_label else ""
            if p.method == "kcenter":
                start = min(range(len(members)), key=lambda i: data.prio[members[i]])
                picks, at_pick, dist, nearest = kcenter(x, k, start)
                for i, d in zip(picks, at_pick):
                    keep.add(members[i])
                    info[members[i]] = {"distance": round(float(d), 5)}
                picked = set(picks)
                for i in range(len(members)):
                    if i not in picked:
                        info[members[i]] = {"distance": round(float(dist[i]), 5)}
                        why[members[i]] = {"distance": round(float(dist[i]), 5),
                                           "nearest_selected": int(members[int(nearest[i])])}
                continue
            c = p.n_clusters or max(8, round(len(members) ** 0.5))
            c = max(1, min(c, k, len(members)))
            assign, dist = kmeans(x, c, p.seed)
            by_cluster: dict[int, list[int]] = {}
            for i, a in enumerate(assign):
                by_cluster.setdefault(int(a), []).append(i)
            share = quotas(Counter({a: len(m) for a, m in by_cluster.items()}), k, p.cluster_weight)
            for a, idx in by_cluster.items():
                chosen = set(by_priority([members[i] for i in idx], data.prio)[:share[a]])
                for i in idx:
                    pos = members[i]
                    info[pos] = {"cluster": f"{prefix}{a}", "distance": round(float(dist[i]), 5)}
                    if pos in chosen:
                        keep.add(pos)
                    else:
                        why[pos] = {"cluster": f"{prefix}{a}", "cluster_size": len(idx), "cluster_quota": share[a]}
        for pos, item in enumerate(open_items()):
            if pos in info:
                set_score(item.record, self.name, info[pos])
            if pos in keep:
                yield item, None
            else:
                detail = dict(why.get(pos, {}))
                if "nearest_selected" in detail:  # by id: positions are internal
                    detail["nearest_selected"] = data.ids[detail["nearest_selected"]]
                yield item, Drop("redundant", {"method": p.method, **detail})
