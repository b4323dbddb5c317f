"""Phase A of the local engine: one shard in a worker process (docs/architecture.md, "engine").

A worker reads its shard through the record source of ``tuneprep.io`` (parsing, field mapping,
label_map, chat conversion, validation), runs the leading per-record/batched steps and writes
its kept records, rejects, id hashes and, last, its done marker into the work directory.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import xxhash

from tuneprep.engine import guard
from tuneprep.engine.keyfiles import KeysWriter
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.dialect import ReadOptions
from tuneprep.io.inputplan import set_source, source_ref
from tuneprep.io.readers import Reject, iter_records
from tuneprep.io.writers import atomic_open, dumps_line
from tuneprep.ops.base import BatchOp, Drop, GlobalOp, Item, Op, build_op
from tuneprep.recipe import Recipe

WHOLE_FILE = ("html", "txt-doc")  # formats whose file is one document
CHUNK = 512  # records processed together (batched ops get sub-batches of their own size)


@dataclass
class Shard:
    index: int
    path: str
    fmt: str
    start: int | None
    end: int | None
    size: int
    encoding: str | None = None  # resolved per file (input.encoding, or detected with auto)


def n_parallel_steps(ops: list[Op]) -> int:
    """How many leading steps run inside the workers (everything before the first global step)."""
    for i, op in enumerate(ops):
        if isinstance(op, GlobalOp):
            return i
    return len(ops)


# --- phase A: workers -----------------------------------------------------------------------------

_WORKER_OPS: dict[str, list[Op]] = {}


def _ops_for(recipe: Recipe) -> list[Op]:
    key = recipe.hash()
    if key not in _WORKER_OPS:
        ops = [build_op(s.op, s.params()) for s in recipe.steps]
        for op in ops:
            op.setup()
        _WORKER_OPS[key] = ops
    return _WORKER_OPS[key]


def _reject(fh: IO[bytes], step: str, reason: str, source: str, *, record: Any = None, raw: str | None = None,
            detail: dict[str, Any] | None = None) -> None:
    if raw is not None:
        fh.write(reject_bytes(step, reason, _json(source), _json(raw), detail, field=b"raw"))
    else:
        fh.write(reject_bytes(step, reason, _json(source), _json(record), detail))


def _json(value: Any) -> bytes:
    return dumps_line(value)[:-1]


def reject_bytes(step: str, reason: str, source_json: bytes, record_json: bytes,
                 detail: dict[str, Any] | None = None, field: bytes = b"record") -> bytes:
    """A rejects-file line — step, reason, source, ``duplicate_of`` (from ``detail``), the rest of
    ``detail``, then the record (or, ``field=b"raw"``, the unparsed row) — from the source's and the
    record's JSON, so phase B need not parse and re-serialise a dropped record it cut out of its work
    line (tests/engine/test_keyed_phase_b.py checks the line against the whole object's JSON)."""
    parts = [b'{"step":', _json(step), b',"reason":', _json(reason), b',"source":', source_json]
    if detail:
        if "duplicate_of" in detail:
            parts += [b',"duplicate_of":', _json(detail["duplicate_of"])]
        rest = {k: v for k, v in detail.items() if k != "duplicate_of"}
        if rest:
            parts += [b',"detail":', _json(rest)]
    parts += [b',"', field, b'":', record_json, b"}\n"]
    return b"".join(parts)


class RejectFiles:
    """One rejects file per step label (``read``, ``3:filter.length``...), opened on first use.

    A shard's files need no atomic rename: they only count once the shard's done marker, written
    after they are closed, exists; a rerun overwrites them.
    """

    def __init__(self, prefix: Path | str, mode: str = "wb"):
        self.prefix = str(prefix)
        self.mode = mode
        self.files: dict[str, IO[bytes]] = {}

    @staticmethod
    def filename(label: str) -> str:
        return label.replace(":", "-") + ".jsonl"

    def __call__(self, label: str) -> IO[bytes]:
        if label not in self.files:
            self.files[label] = open(self.prefix + self.filename(label), self.mode)  # noqa: SIM115
        return self.files[label]

    def close(self) -> list[str]:
        for fh in self.files.values():
            fh.close()
        return list(self.files)


def _apply_steps(items: list[Item], ops: list[Op], names: list[str], stats: list[StepStats],
                 rej: Callable[[str], IO[bytes]]) -> list[Item]:
    """Run items through per-record/batched ops, writing drops to the step's rejects file."""
    for op, name, st in zip(ops, names, stats, strict=True):
        if not items:
            break
        t0 = time.perf_counter()
        st.records_in += len(items)
        if isinstance(op, BatchOp):
            results: list[dict[str, Any] | Drop] = []
            for b in range(0, len(items), op.batch_size):
                results.extend(op.apply_batch([it.record for it in items[b: b + op.batch_size]]))
        else:
            results = op.apply_many([it.record for it in items])  # type: ignore[attr-defined]
        kept = []
        for it, res in zip(items, results, strict=True):
            if isinstance(res, Drop):
                st.dropped[res.reason] += 1
                _reject(rej(name), name.split(":", 1)[1], res.reason, it.source, record=it.record, detail=res.detail)
            else:
                it.record = res
                kept.append(it)
        st.records_out += len(kept)
        st.seconds += time.perf_counter() - t0
        st.collect(op)
        items = kept
    return items


def read_chunks(shard: Shard, recipe: Recipe, read_st: StepStats,
                rej: Callable[[str], IO[bytes]]) -> Iterator[list[Item]]:
    """The records of one shard in chunks of up to CHUNK, through the one record source.

    Rows that cannot become records (and, unless annotation steps label them later, records
    without a label) go to the ``read`` rejects; ``read_st`` counts them. Both engines read here.
    """
    source = recipe.input.record_source()
    options = ReadOptions.from_input(recipe.input, shard.encoding or "utf-8")
    check_labels = guard.labels_checked_on_read(recipe)
    rows = iter_records(shard.path, shard.fmt, shard.start, shard.end, source, options)
    # The shard's path as meta.source shows it, resolved once: per record, abspath + relpath cost
    # more than parsing the line.
    shown = source_ref(shard.path)
    whole_file = shard.fmt in WHOLE_FILE
    done = False
    while not done:
        t0 = time.perf_counter()
        items: list[Item] = []
        for row in rows:
            read_st.records_in += 1
            if isinstance(row, Reject):
                read_st.dropped[row.reason] += 1
                if row.unparsed:
                    _reject(rej("read"), "read", row.reason, row.source, raw=row.raw,
                            detail={"error": row.error})
                else:
                    _reject(rej("read"), "read", row.reason, row.source, record=row.record,
                            detail={"error": row.error, **({"field": row.field} if row.field else {})})
            else:
                problem = guard.label_problem(row.record, row.row, recipe) if check_labels else None
                if problem:
                    read_st.dropped["missing_label"] += 1
                    _reject(rej("read"), "read", "missing_label", row.source, record=row.row,
                            detail={"error": problem})
                    continue
                # One document per file: the page (or document) path is its source.
                set_source(row.record, shown if whole_file else f"{shown}:{row.line}")
                items.append(Item(row.source, row.record))
            if len(items) >= CHUNK:
                break
        else:
            done = True
        read_st.records_out += len(items)
        read_st.seconds += time.perf_counter() - t0
        yield items


def kept_line(item: Item, key: Any = None) -> bytes:
    """A kept record as phase A writes it for phase B (``k``: the first global step's prepared key)."""
    line: dict[str, Any] = {"s": item.source, "r": item.record}
    if key is not None:
        line["k"] = key
    return orjson.dumps(line) + b"\n"


def process_shard(shard: Shard, recipe_json: str, work: str) -> dict[str, Any]:
    """Worker: read one shard, map rows to records, run the leading steps; returns the shard stats."""
    recipe = Recipe.model_validate_json(recipe_json)
    ops = _ops_for(recipe)
    k = n_parallel_steps(ops)
    names = step_names([s.op for s in recipe.steps])
    prep = ops[k] if k < len(ops) else None
    read_st = StepStats("read")
    stats = [StepStats(n) for n in names[1: k + 1]]
    wd = WorkDir(Path(work))
    rejects = RejectFiles(wd.rejects_prefix(shard.index))
    id_hashes = array("Q")
    # A keys-only or ranked global step next (dedup.exact, select.sample): its keys and the ids also
    # go to a small side file, bucketed by key, from which phase B decides without parsing the
    # records (engine/keyed.py, engine/ranked.py).
    keys_out = KeysWriter() if isinstance(prep, GlobalOp) and (prep.keys_only or prep.ranked) else None
    with atomic_open(wd.kept(shard.index)) as kept_fh:
        for chunk in read_chunks(shard, recipe, read_st, rejects):
            items = _apply_steps(chunk, ops[:k], names[1: k + 1], stats, rejects)
            if not items:
                continue
            keys = prep.prepare_batch([it.record for it in items]) if prep is not None else None  # type: ignore[attr-defined]
            id_hashes.extend(_id_hash(it.record) for it in items)
            # One write call per chunk rather than per record (short texts: the calls add up).
            if keys is None:
                kept_fh.write(b"".join(kept_line(it) for it in items))
            else:
                kept_fh.write(b"".join(kept_line(it, key) for it, key in zip(items, keys, strict=True)))
            if keys_out is not None:
                keys_out.add(keys, (it.record.get("id", "") for it in items))  # type: ignore[arg-type]
    if keys_out is not None:
        keys_out.write(wd.keys(shard.index), wd.keys_index(shard.index))
    write_id_hashes(wd.ids(shard.index), id_hashes)
    result = {"shard": shard.index, "steps": [read_st.to_json()] + [s.to_json() for s in stats],
              "kept": stats[-1].records_out if stats else read_st.records_out,
              "rejects": rejects.close()}
    with atomic_open(wd.done(shard.index)) as fh:
        fh.write(orjson.dumps(result))
    return result


def write_id_hashes(path: Path, id_hashes: array) -> None:
    """Sorted, so phase B can merge the runs by hash range (the duplicate-id check).

    Sorted in Python rather than numpy: a shard holds at most a few hundred thousand records
    (tens of milliseconds), and importing numpy cost each worker about 0.25 s."""
    with atomic_open(path) as fh:
        fh.write(array("Q", sorted(id_hashes)).tobytes())


def _id_hash(record: dict[str, Any]) -> int:
    return xxhash.xxh3_64_intdigest(str(record.get("id")).encode("utf-8", "surrogatepass"))


SMALL_ID_RUNS = 1 << 18
"""Up to this many id hashes (2 MiB), a Python set finds the repeated ones faster than importing
numpy (about 0.25 s of the driver's time before the output is written)."""


def _repeated_small(runs: list[Path], sizes: list[int]) -> set[int]:
    seen: set[int] = set()
    found: set[int] = set()
    for p, n in zip(runs, sizes, strict=True):
        if not n:
            continue
        hashes = array("Q")
        hashes.frombytes(p.read_bytes())
        for h in hashes:
            if h in seen:
                found.add(h)
            else:
                seen.add(h)
    return found


def repeated_id_hashes(runs: list[Path], bucket_bytes: int = 32 << 20) -> set[int]:
    """Hashes present more than once across sorted uint64 runs, holding ~``bucket_bytes`` at a time.

    This keeps the duplicate-id check's memory bounded whatever the input size: only the
    (rare) hashes seen twice are kept, and exact ids are compared for those alone.
    """
    sizes = [p.stat().st_size // 8 if p.exists() else 0 for p in runs]
    if sum(sizes) <= SMALL_ID_RUNS:
        return _repeated_small(runs, sizes)
    import numpy as np

    n_buckets = max(1, -(-sum(sizes) * 8 // bucket_bytes))
    starts = [0] * len(runs)
    found: set[int] = set()
    for b in range(n_buckets):
        upper = None if b == n_buckets - 1 else np.uint64((2**64 * (b + 1)) // n_buckets)
        parts = []
        for j, p in enumerate(runs):
            if not sizes[j] or starts[j] >= sizes[j]:
                continue
            m = np.memmap(p, dtype=np.uint64, mode="r")  # mapped per bucket, so pages are let go
            end = sizes[j] if upper is None else int(np.searchsorted(m, upper, side="left"))
            parts.append(np.array(m[starts[j]:end]))
            starts[j] = end
            del m
        if parts:
            x = np.sort(np.concatenate(parts))
            found.update(int(v) for v in np.unique(x[1:][x[1:] == x[:-1]]))
    return found


# --- phase B: barriers -----------------------------------------------------------------------------


