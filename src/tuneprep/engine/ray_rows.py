"""The rows the Ray engine's stages exchange: one Arrow table per batch (``engine/ray.py``).

Columns: ``shard``, ``kind`` (``item``, ``reject``, ``stats``), ``label`` (the step of a reject
or of stats), ``data`` (the JSON line, as phase A writes it to the work files), and for items
``pos`` (the place in the shard: the canonical order), ``idh`` (the hash of its id, for the
duplicate-id check: the driver need not parse a kept record), ``key`` (the exact-dedup key when
the cluster runs exact dedup) and ``rid`` (the record's id as JSON: a duplicate's survivor).
pyarrow is imported inside ``ArrowRows.table``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import orjson

from tuneprep.engine.shard import _id_hash, kept_line
from tuneprep.engine.stats import StepStats
from tuneprep.ops.base import GlobalOp, Item

ITEM, REJECT, STATS = "item", "reject", "stats"


@dataclass
class ArrowRows:
    """Columns of the Arrow table a stage returns."""

    shard: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)  # an item's place in its shard (its canonical order)
    idh: list[int | None] = field(default_factory=list)  # an item's id hash (shard._id_hash)
    key: list[str | None] = field(default_factory=list)  # an item's exact-dedup key (distributed dedup)
    rid: list[bytes | None] = field(default_factory=list)  # an item's id as JSON (the survivor's name)

    def add(self, shard: int, kind: str, label: str, data: bytes, pos: int = -1, key: str | None = None,
            rid: bytes | None = None, idh: int | None = None) -> None:
        self.shard.append(shard)
        self.kind.append(kind)
        self.label.append(label)
        self.data.append(data)
        self.pos.append(pos)
        self.idh.append(idh)
        self.key.append(key)
        self.rid.append(rid)

    def emit(self, shard: int, items: list[Item], pos: list[int], bufs: dict[str, io.BytesIO],
             stats: list[StepStats], prep: tuple[GlobalOp | None, GlobalOp | None] = (None, None)) -> None:
        """Rejects, then the kept items, then the stats; ``prep``: (the op whose key goes in the
        kept line, the exact-dedup op whose key goes in the ``key`` column)."""
        for label, buf in bufs.items():  # one step's rejects keep their record order
            for line in buf.getvalue().split(b"\n")[:-1]:
                self.add(shard, REJECT, label, line + b"\n")
        line_op, dedup_op = prep
        records = [it.record for it in items]
        keys = line_op.prepare_batch(records) if line_op is not None and items else None
        dkeys = dedup_op.prepare_batch(records) if dedup_op is not None and items else None
        for j, it in enumerate(items):
            data = kept_line(it, keys[j] if keys is not None else None)  # as phase A writes it
            idh = _id_hash(it.record)
            if dkeys is None:
                self.add(shard, ITEM, "", data, pos[j], idh=idh)
            else:
                self.add(shard, ITEM, "", data, pos[j], dkeys[j], orjson.dumps(it.record.get("id", "")), idh)
        for st in stats:  # raw counters: capped per shard on the driver, as the local engine does
            self.add(shard, STATS, st.step, orjson.dumps(_stats_json(st)))

    def table(self) -> Any:
        import pyarrow as pa

        return pa.table({"shard": pa.array(self.shard, pa.int64()), "kind": pa.array(self.kind, pa.string()),
                         "label": pa.array(self.label, pa.string()), "data": pa.array(self.data, pa.binary()),
                         "pos": pa.array(self.pos, pa.int64()), "idh": pa.array(self.idh, pa.uint64()),
                         "key": pa.array(self.key, pa.string()),
                         "rid": pa.array(self.rid, pa.binary())})


def _stats_json(st: StepStats) -> dict[str, Any]:
    # Unlike StepStats.to_json: counters uncapped and seconds unrounded (the driver merges, then caps).
    return {"step": st.step, "in": st.records_in, "out": st.records_out, "dropped": dict(st.dropped),
            "seconds": st.seconds, "counters": dict(st.counters)}
