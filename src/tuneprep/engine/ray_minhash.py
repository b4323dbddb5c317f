"""``dedup.minhash`` on the Ray cluster: band-key partitioning and distributed connected components.

The local op (``ops/neardup.py`` over ``neardup/cluster.py``) defines the result: the connected
components of the graph whose edges are (a) records with identical signatures, merged unchecked,
and (b) within each LSH bucket (one band's hash), the pairs of *representatives* (the first record
of each identical-signature group) at most ``window`` places apart in input order whose similarity
reaches the threshold. Skipping pairs already in one cluster only saves work, and the survivor is
the first of its component by (rank, input order): nothing depends on the order of processing, so
connected components computed in any order give the local op's clusters exactly.

On the cluster (docs/scaling.md has the cost):

1. band rows: every compared record (node id ``shard << 32 | pos``, input order) once per band,
   with its band hash and its key (signature) — ``map_batches``;
2. buckets: the rows grouped by (band, hash range) with Ray Data's sort-based shuffle; each group
   runs the local op's own bucket code (``_bucket_pairs``: window, similarity check, union–find)
   over its buckets and emits each local cluster as a star of edges to its smallest node; band 0
   also emits the identical-signature edges;
3. connected components by **min-label propagation**: a node's label starts as the smallest of
   itself and its neighbours; each round, every node sends its label to its neighbours and takes
   the smallest label it receives (one shuffle of nodes + 2 x edges rows); it stops when no label
   changes (rounds = the largest component's diameter + 1). After ``MAX_ROUNDS`` rounds the
   driver finishes the components from the adjacency with union–find (exact, rarely needed);
4. decisions: nodes grouped by label (= component); survivor by ``choose_survivors``, similarity
   of each other member to it (``pair_similarity``). Only the clustered records'
   (shard, pos) -> (survivor id or None, similarity, cluster size) come back to the driver.

pyarrow, numpy and ray are imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tuneprep.engine.ray_rows import ITEM
from tuneprep.neardup.cluster import (
    MinHashConfig,
    _bucket_pairs,
    _mix,
    band_hashes,
    choose_survivors,
    decode_keys,
    merge,
    pair_similarity,
    signature_hash,
)
from tuneprep.ops.neardup import DedupMinHash, MinHashParams, survivor_rank

MAX_ROUNDS = 40  # label-propagation rounds before the driver finishes the components (union-find)
ROWS_PER_GROUP = 250_000  # band rows per bucket group: bounds a group task's memory (~700 B a row)

Decision = tuple[str | None, float, int]  # (survivor id, or None for the survivor; similarity; cluster size)


def _schema(kind: str) -> Any:
    import pyarrow as pa

    payload = [("node", pa.int64()), ("key", pa.string()), ("rank", pa.float64()), ("rid", pa.string())]
    return pa.schema({
        "band": [("band", pa.int32()), ("part", pa.int32()), ("bh", pa.uint64()), ("full", pa.uint64()), *payload],
        "half_edge": [*payload, ("nbr", pa.int64())],
        "node": [*payload, ("label", pa.int64()), ("nbrs", pa.list_(pa.int64())), ("part", pa.int32()),
                 ("self", pa.bool_()), ("changed", pa.int64())],
        "decision": [("shard", pa.int64()), ("pos", pa.int64()), ("dup_of", pa.string()), ("sim", pa.float64()),
                     ("size", pa.int64())],
    }[kind])


def _part(nodes: Any, parts: int) -> Any:
    """The group (0..parts-1) of each node id: a hash, so groups are even whatever the shard sizes."""
    import numpy as np

    return (_mix(nodes.astype(np.uint64)) % np.uint64(parts)).astype(np.int32)


def with_part(batch: Any, parts: int, by: str) -> Any:
    """Ray task: the ``part`` column (set or added) from the hash of column ``by``."""
    import pyarrow as pa

    part = pa.array(_part(batch.column(by).to_numpy(), parts), pa.int32())
    i = batch.schema.get_field_index("part")
    return batch.append_column("part", part) if i < 0 else batch.set_column(i, "part", part)


def _op(params: dict[str, Any]) -> DedupMinHash:
    return DedupMinHash(MinHashParams(**params))


def band_rows(batch: Any, params: dict[str, Any], parts: int) -> Any:
    """Ray task: each compared item (a non-empty key) once per band, with its node id, band hash,
    signature hash, key, survivor rank and id."""
    import numpy as np
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc

    op = _op(params)
    cfg = op.config()
    items = batch.filter(pc.and_(pc.equal(batch.column("kind"), ITEM), pc.not_equal(batch.column("key"), "")))
    n = items.num_rows
    if not n:
        return _schema("band").empty_table()
    keys = items.column("key").to_pylist()
    sig = decode_keys(cfg, keys)[0]
    bands, rows = cfg.lsh()
    bh = band_hashes(sig, bands, rows)  # [n, bands], row-major: record j's bands are rows j*bands..
    keep = op.params.keep
    ranks = ([0.0] * n if keep == "first" else
             [survivor_rank(orjson.loads(d)["r"], keep) for d in items.column("data").to_pylist()])
    nodes = (items.column("shard").to_numpy() << 32) | items.column("pos").to_numpy()
    take = np.repeat(np.arange(n), bands)
    rid = [str(orjson.loads(r)) for r in items.column("rid").to_pylist()]  # as the local op names a survivor
    flat = bh.ravel()
    return pa.table({
        "band": np.tile(np.arange(bands, dtype=np.int32), n), "part": (flat % np.uint64(parts)).astype(np.int32),
        "bh": flat, "full": signature_hash(sig)[take], "node": nodes[take],
        "key": pa.array(keys).take(take), "rank": np.asarray(ranks, dtype=np.float64)[take],
        "rid": pa.array(rid, pa.string()).take(take)}, schema=_schema("band"))


def bucket_edges(group: Any, params: dict[str, Any]) -> Any:
    """Ray task: one band's buckets in one hash range -> half-edges (both directions, with payload).

    The representatives of identical signatures and the window/threshold pairs are the local op's
    (``_bucket_pairs``, in input order); each bucket cluster becomes a star on its smallest node.
    """
    import numpy as np
    import pyarrow as pa

    cfg = _op(params).config()
    g = group.sort_by([("node", "ascending")])
    node, full = g.column("node").to_numpy(), g.column("full").to_numpy()
    _, first, inverse = np.unique(full, return_index=True, return_inverse=True)
    u_parts, v_parts = [], []
    if g.column("band")[0].as_py() == 0:  # identical signatures: every member to the group's first
        rep_of = first[inverse]
        dup = np.flatnonzero(rep_of != np.arange(len(node)))
        u_parts.append(rep_of[dup])
        v_parts.append(dup)
    reps = np.sort(first)
    if len(reps) > 1:
        sig, _, sh, counts = decode_keys(cfg, g.column("key").take(reps).to_pylist())
        off = None if counts is None else np.concatenate([[0], np.cumsum(counts)])
        labels = np.arange(len(reps), dtype=np.int64)
        _bucket_pairs(g.column("bh").to_numpy()[reps], np.arange(len(reps)), labels, cfg.window,
                      lambda a, b: pair_similarity(cfg, sig, sh, off, a, b) >= cfg.threshold)
        star = np.flatnonzero(labels != np.arange(len(reps)))
        u_parts.append(reps[labels[star]])
        v_parts.append(reps[star])
    u = np.concatenate(u_parts) if u_parts else np.empty(0, np.int64)
    v = np.concatenate(v_parts) if v_parts else np.empty(0, np.int64)
    if not len(u):
        return _schema("half_edge").empty_table()
    this, other = np.concatenate([u, v]), np.concatenate([v, u])
    out = g.select(["node", "key", "rank", "rid"]).take(this)
    return out.append_column("nbr", pa.array(node[other], pa.int64())).cast(_schema("half_edge"))


def adjacency(group: Any, parts: int) -> Any:
    """Ray task: half-edges of some nodes -> one row per node: its neighbours, label = the smallest
    of itself and them (round 1 of the propagation), and its payload."""
    import numpy as np
    import pyarrow as pa

    g = group.sort_by([("node", "ascending"), ("nbr", "ascending")])
    node, nbr = g.column("node").to_numpy(), g.column("nbr").to_numpy()
    keep = np.ones(len(node), dtype=bool)
    keep[1:] = (node[1:] != node[:-1]) | (nbr[1:] != nbr[:-1])  # an edge found in several bands, once
    node, nbr, g = node[keep], nbr[keep], g.filter(pa.array(keep))
    starts = np.flatnonzero(np.concatenate([[True], node[1:] != node[:-1]]))
    label = np.minimum(node[starts], np.minimum.reduceat(nbr, starts))
    nodes = g.select(["node", "key", "rank", "rid"]).take(starts)
    offsets = np.concatenate([starts, [len(nbr)]]).astype(np.int32)
    return pa.table({**{c: nodes.column(c) for c in nodes.column_names}, "label": label,
                     "nbrs": pa.ListArray.from_arrays(offsets, pa.array(nbr, pa.int64())),
                     "part": _part(node[starts], parts), "self": np.ones(len(starts), bool),
                     "changed": np.ones(len(starts), np.int64)}, schema=_schema("node"))


def messages(batch: Any, parts: int) -> Any:
    """Ray task: each node's own row, plus its label sent to each neighbour."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nbrs = batch.column("nbrs")
    to = pc.list_flatten(nbrs).to_numpy()
    label = batch.column("label").to_numpy()[pc.list_parent_indices(nbrs).to_numpy()]
    return pa.concat_tables([batch, _label_rows(to, label, parts)])


def _label_rows(node: Any, label: Any, parts: int) -> Any:
    """Rows that only offer ``label`` to ``node`` (no payload)."""
    import numpy as np
    import pyarrow as pa

    n = len(node)
    sch = _schema("node")
    cols = {f.name: pa.nulls(n, f.type) for f in sch}
    cols.update(node=pa.array(node, pa.int64()), label=pa.array(label, pa.int64()), part=_part(node, parts),
                self=np.zeros(n, bool), changed=np.zeros(n, np.int64))
    return pa.table(cols, schema=sch)


def take_min(group: Any) -> Any:
    """Ray task: each node of the group takes the smallest label offered to it; ``changed`` says
    whether that lowered its label."""
    import numpy as np
    import pyarrow as pa

    g = group.sort_by([("node", "ascending"), ("self", "descending")])  # a node's own row first
    node, label = g.column("node").to_numpy(), g.column("label").to_numpy()
    starts = np.flatnonzero(np.concatenate([[True], node[1:] != node[:-1]]))
    best = np.minimum.reduceat(label, starts)
    own = g.take(starts)
    old = own.column("label").to_numpy()
    own = own.set_column(own.schema.get_field_index("label"), "label", pa.array(best, pa.int64()))
    return own.set_column(own.schema.get_field_index("changed"), "changed",
                          pa.array((best < old).astype(np.int64)))


def decide(group: Any, params: dict[str, Any]) -> Any:
    """Ray task: whole components (nodes by label) -> each member's survivor, similarity to it and
    cluster size, as the local op decides them (``choose_survivors``, ``pair_similarity``)."""
    import numpy as np
    import pyarrow as pa

    op = _op(params)
    cfg = op.config()
    g = group.sort_by([("node", "ascending")])
    node = g.column("node").to_numpy()
    labels = np.searchsorted(node, g.column("label").to_numpy())  # a label is its component's first node
    rank = g.column("rank").to_numpy()
    surv = choose_survivors(labels, None if op.params.keep == "first" else rank)
    size = np.bincount(labels, minlength=len(node))[labels]
    sim = np.ones(len(node), dtype=np.float64)
    rej = np.flatnonzero(surv != np.arange(len(node)))
    if len(rej):
        sig, _, sh, counts = decode_keys(cfg, g.column("key").to_pylist())
        off = None if counts is None else np.concatenate([[0], np.cumsum(counts)])
        sim[rej] = pair_similarity(cfg, sig, sh, off, rej, surv[rej])
    rid = g.column("rid").to_pylist()
    dup_of = [None if s == i else rid[s] for i, s in enumerate(surv.tolist())]
    return pa.table({"shard": node >> 32, "pos": node & 0xFFFFFFFF, "dup_of": pa.array(dup_of, pa.string()),
                     "sim": sim, "size": size.astype(np.int64)}, schema=_schema("decision"))


def _finish_on_driver(nodes: Any, parts: int) -> Any:
    """After ``MAX_ROUNDS``: the components by union–find over the adjacency (collected here), sent
    back as label offers for one more ``take_min``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import ray

    t = pa.concat_tables(list(nodes.select_columns(["node", "label", "nbrs"]).iter_batches(
        batch_size=None, batch_format="pyarrow")))
    node = t.column("node").to_numpy()
    ordered = np.sort(node)
    nbrs = t.column("nbrs")
    labels = np.arange(len(node), dtype=np.int64)  # indices into ``ordered``: the smallest is the root

    def at(x: Any) -> Any:
        return np.searchsorted(ordered, x)

    merge(labels, at(node[pc.list_parent_indices(nbrs).to_numpy()]), at(pc.list_flatten(nbrs).to_numpy()))
    merge(labels, at(node), at(t.column("label").to_numpy()))
    return ray.data.from_arrow(_label_rows(ordered, ordered[labels], parts))


def find_near_duplicates(ds: Any, params: dict[str, Any], workers: int, n_items: int,
                         log: Callable[[str], None] = lambda s: None,
                         name: str = "dedup.minhash") -> dict[tuple[int, int], Decision]:
    """``dedup.minhash`` over the items of the materialised phase-A dataset ``ds`` (keys in the
    ``key`` column; ``n_items`` at most this many items: it sizes the partitions); returns each
    clustered record's decision by (shard, pos). ``name``: the step, in the log line."""
    cfg: MinHashConfig = _op(params).config()
    bands = cfg.lsh()[0]
    parts = max(workers, -(-n_items // ROWS_PER_GROUP))  # hash ranges per band, node groups
    t0 = time.perf_counter()
    rows = ds.map_batches(band_rows, batch_format="pyarrow", fn_kwargs={"params": params, "parts": parts})
    half = rows.groupby(["band", "part"], num_partitions=max(workers, -(-n_items * bands // ROWS_PER_GROUP))).map_groups(
        bucket_edges, batch_format="pyarrow", fn_kwargs={"params": params}).materialize()
    if half.count() == 0:
        log(f"ray: {name} on the cluster: no near-duplicates ({time.perf_counter() - t0:.1f} s)")
        return {}
    nodes = half.map_batches(with_part, batch_format="pyarrow", fn_kwargs={"parts": parts, "by": "node"})
    nodes = nodes.groupby("part", num_partitions=parts).map_groups(
        adjacency, batch_format="pyarrow", fn_kwargs={"parts": parts}).materialize()
    rounds, changed = 1, nodes.sum("changed")
    while changed and rounds < MAX_ROUNDS:
        nodes = nodes.map_batches(messages, batch_format="pyarrow", fn_kwargs={"parts": parts}).groupby(
            "part", num_partitions=parts).map_groups(take_min, batch_format="pyarrow").materialize()
        rounds += 1
        changed = nodes.sum("changed")
    finished = f"min-label propagation in {rounds} round{'s' * (rounds != 1)}"
    if changed:  # the bound: the driver finishes from the adjacency (exact; the same components)
        nodes = nodes.union(_finish_on_driver(nodes, parts)).groupby("part", num_partitions=parts).map_groups(
            take_min, batch_format="pyarrow").materialize()
        finished += f", stopped at the bound of {MAX_ROUNDS} rounds and finished by union-find on the driver"
    by_label = nodes.map_batches(with_part, batch_format="pyarrow", fn_kwargs={"parts": parts, "by": "label"})
    out: dict[tuple[int, int], Decision] = {}
    for b in by_label.groupby("part", num_partitions=parts).map_groups(
            decide, batch_format="pyarrow", fn_kwargs={"params": params}).iter_batches(
            batch_size=None, batch_format="pyarrow"):
        for shard, pos, dup_of, sim, size in zip(*(b.column(c).to_pylist() for c in (
                "shard", "pos", "dup_of", "sim", "size")), strict=True):
            out[(shard, pos)] = (dup_of, sim, size)
    log(f"ray: {name} on the cluster ({cfg.describe()}): {len(out):,} records in clusters, "
        f"{sum(d[0] is not None for d in out.values()):,} near-duplicates, {finished}, "
        f"{parts} partitions, {time.perf_counter() - t0:.1f} s")
    return out
