"""Phase B of a keys-only global step (``dedup.exact``) in parallel, with the serial path's output.

When the recipe ends with one global step whose ``apply_global`` reads only the prepared key and
the record id and decides each record from the records with the same key alone
(``GlobalOp.keys_only``), with no split after it (or a hash split, below), the barrier needs no
record:

1. **decide** (worker processes, one group of key buckets each): phase A wrote each shard's
   ``[key, id, position]`` lines grouped by a hash of the key (``engine/keyfiles.py``); the
   buckets are cut into contiguous groups of about ``GROUP_BYTES`` of keys (at least one per
   worker); a worker runs the op over its group's lines of every shard, in shard order, exactly
   as over the records, and writes which ones it drops and why (``WorkDir.drops``). Equal keys
   share a bucket, so each group's answers are those the op gives over all records; a worker holds
   the keys of its group only, so the memory does not grow with the input;
2. **apply** (worker processes, one shard each): each worker reads its shard's drops from every
   group and its kept records, and writes the output lines of the records kept (their JSON cut
   out of the work line, ``kept_parts``) and the rejects of the dropped ones (spliced from the
   same cuts, ``shard.reject_bytes``);
3. **join** (driver): the output lines go into the part files and the rejects into the step's
   rejects file, in shard order, as bytes.

So no record is parsed or serialised again (unless routed by a hash split, which reads its fields),
where the serial path parses and writes it twice on the driver (stage file, then output). The files
are byte for byte those of the serial path (``phases.BarrierSteps`` + ``OutputWriter``): same kept
records in the same order, same rejects, same counts. With a hash split (``split.method: hash``) the
workers also route each kept record to its split (``SplitRoute``: a function of the record alone)
and write one piece per split; the driver joins each split's pieces in shard order, as the serial
path writes them. With no global step left after phase A (none in the recipe, or the Ray engine ran
the only one on the cluster), the workers do the same for phase A's kept records, into ``data/`` or
a hash split's outputs (``run_routed``). Runs that need more (an exact split, later steps, labels
checked at output, repeated ids) take the serial path. The worker processes are forked on this
machine, at most one per core, also when ``workers`` counts a Ray cluster's CPUs; or, when the Ray
engine shares the work directory with every node, the same functions run as Ray tasks (``pool_of``,
``engine/ray.py``).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from tuneprep.engine import guard
from tuneprep.engine.forkpool import PoolOf, fork_pool
from tuneprep.engine.keyfiles import BUCKETS, bucket_sizes, read_buckets
from tuneprep.engine.phases import OutputWriter, Progress
from tuneprep.engine.shard import RejectFiles, Shard, reject_bytes
from tuneprep.engine.split import HashSplit
from tuneprep.engine.stats import StepStats
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.writers import dumps_line
from tuneprep.ops.base import Drop, GlobalOp, Op
from tuneprep.recipe import Recipe

Decisions = dict[int, tuple[str, dict[str, Any]]]
"""Per shard: position of a dropped record among the shard's kept records → (reason, detail)."""


def decided_from_keys(ops: list[Op], k: int, shards: list[Shard], wd: WorkDir, workers: int) -> bool:
    """True when step ``k``, the last step, is a global step whose phase B can run in parallel from
    the keys files: more than one worker and shard, and every shard's bucketed keys file there (a
    work directory from an older version, or the Ray engine's, has none). ``applies`` here and in
    ``ranked.py`` add what the op must be; the caller checks the rest (no split, no repeated ids...)."""
    return (workers > 1 and len(shards) > 1 and k == len(ops) - 1 and isinstance(ops[k], GlobalOp)
            and all(wd.keys(s.index).exists() and wd.keys_index(s.index).exists() for s in shards))


def applies(ops: list[Op], k: int, shards: list[Shard], wd: WorkDir, workers: int) -> bool:
    """True when step ``k`` can run here: ``decided_from_keys`` and keys-only."""
    return decided_from_keys(ops, k, shards, wd, workers) and ops[k].keys_only  # type: ignore[attr-defined]


def moves_in_workers(recipe: Recipe) -> bool:
    """What the recipe itself must allow for the workers to move the records in phase B (keyed,
    ranked or routed): no split or a hash split (the workers route each record), and no labels
    checked at the output. The callers check the rest (the step, the shards, repeated ids)."""
    return ((recipe.split is None or recipe.split.method == "hash")
            and not guard.labels_checked_at_output(recipe))


def routes(ops: list[Op], k: int, shards: list[Shard], workers: int) -> bool:
    """True when phase A ran every step (``k`` steps done): the workers can then copy phase A's kept
    records to ``data/``, or route them to the splits of a hash split (``run_routed``). The caller
    checks the rest."""
    return workers > 1 and len(shards) > 1 and k == len(ops)


GROUP_BYTES = 16 << 20
"""Bytes of key lines decided by one task; its memory is a small multiple of this (dedup.exact:
about 5x, its map of the distinct keys to the first id)."""


def plan_groups(shards: list[Shard], wd: WorkDir, workers: int) -> list[tuple[int, int]]:
    """Contiguous bucket ranges ``[lo, hi)`` covering every bucket, of about equal bytes of keys:
    at least ``workers`` of them (when there are keys), none much above ``GROUP_BYTES``."""
    sizes = bucket_sizes(wd.keys_index(s.index) for s in shards)
    total = sum(sizes)
    if not total:
        return [(0, BUCKETS)]
    n = min(BUCKETS, max(workers, -(-total // GROUP_BYTES)))
    groups: list[tuple[int, int]] = []
    lo = acc = 0
    for b, size in enumerate(sizes[:-1]):
        acc += size
        if acc * n >= total * (len(groups) + 1):
            groups.append((lo, b + 1))
            lo = b + 1
    groups.append((lo, BUCKETS))
    return groups


def decide_group(op: GlobalOp, name: str, group: int, lo: int, hi: int, shard_ids: list[int],
                 wd: WorkDir) -> tuple[StepStats, dict[int, tuple[int, int]]]:
    """Worker: the op over buckets ``lo..hi-1`` of every shard's keys, in shard order. The drops go to
    ``wd.drops(group)`` as ``[position, reason, detail]`` lines, shard by shard; returns the counts and,
    per shard with drops, the byte range of its lines there."""
    st = StepStats(name)
    where: deque[tuple[int, int]] = deque()  # (shard, position) of the items read but not yet answered

    def rows() -> Iterator[tuple[Any, Any]]:
        for s in shard_ids:
            for key, rid, pos in read_buckets(wd.keys(s), wd.keys_index(s), lo, hi):
                where.append((s, pos))
                yield key, rid

    ranges: dict[int, tuple[int, int]] = {}
    written = 0
    with open(wd.drops(group), "wb") as fh:
        for drop in op.decide_keys(rows()):
            shard, pos = where.popleft()
            line = drop_line(st, pos, drop)
            if not line:
                continue
            fh.write(line)
            start = ranges[shard][0] if shard in ranges else written
            written += len(line)
            ranges[shard] = (start, written)
    if where:
        raise RuntimeError(f"{op.name}: no outcome for {len(where)} records")
    st.collect(op)
    return st, ranges


def drop_line(st: StepStats, pos: int, drop: Drop | None) -> bytes:
    """Count one record's outcome in ``st``; the drops-file line ``[position, reason, detail]`` of a
    dropped one (empty when it is kept)."""
    st.records_in += 1
    if drop is None:
        st.records_out += 1
        return b""
    st.dropped[drop.reason] += 1
    return orjson.dumps([pos, drop.reason, drop.detail]) + b"\n"


def load_drops(pieces: list[tuple[str, int, int]]) -> Decisions:
    """One shard's drops from the byte ranges ``(file, start, end)`` the decide tasks wrote."""
    decisions: Decisions = {}
    for path, start, end in pieces:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        for line in data.splitlines():
            pos, reason, detail = orjson.loads(line)
            decisions[pos] = (reason, detail)
    return decisions


def kept_parts(line: bytes) -> tuple[bytes, bytes] | None:
    """The source's and the record's JSON inside a kept line ``{"s":…,"r":…,"k":"…"}``
    (``shard.kept_line``), cut out without parsing: orjson writes the nested values exactly as
    ``orjson.dumps`` of each, so the record's plus a newline is ``dumps_line(record)``. None when
    the line is not of that shape (then the caller parses it).

    The cuts are safe: inside a JSON string a quote is always escaped, so ``","r":`` cannot occur
    within the source string before the record, and a key that is a JSON string (one pair of
    quotes) cannot hold the ``,"k":`` before it.
    """
    i = line.find(b'","r":')
    j = line.rfind(b',"k":')
    if not line.startswith(b'{"s":"') or i < 0 or j < i:
        return None
    tail = line[j + 5:]
    if not (tail.startswith(b'"') and tail.endswith(b'"}\n') and tail.count(b'"') == 2):
        return None
    return line[5: i + 1], line[i + 6: j]


FLUSH_LINES = 4096
"""Lines of a shard moved between writes."""


@dataclass
class SplitRoute:
    """The output a kept record goes to under a hash split: ``HashSplit``, then the train-only
    rule (``guard.final_split``), as the serial path decides it."""

    split_of: HashSplit
    recipe: Recipe

    def __call__(self, record: dict[str, Any]) -> str:
        return guard.final_split(self.split_of(record), record, self.recipe)


def apply_shard(kept: str, out_prefix: str, dropped_piece: str, step: str, drops: list[tuple[str, int, int]],
                route: SplitRoute | None = None) -> dict[str, int]:
    """Worker: one shard's kept records → output lines (one piece per output, ``out_prefix`` +
    name: ``data``, or each split of ``route``) and rejects (``drops``: where the decide tasks
    wrote this shard's, ``load_drops``), as the serial path writes them; returns how many records
    it wrote to each output."""
    decisions = load_drops(drops)
    counts: dict[str, int] = {}
    # Lines gathered and written per output in blocks: one write call per line cost more than
    # cutting the line.
    blocks: dict[str, list[bytes]] = {}
    dropped: list[bytes] = []
    with ExitStack() as stack, open(kept, "rb") as src, open(dropped_piece, "wb") as rej:
        outs: dict[str, IO[bytes]] = {}

        def flush() -> None:
            for out_name, lines in blocks.items():
                if out_name not in outs:
                    outs[out_name] = stack.enter_context(open(out_prefix + out_name, "wb"))
                outs[out_name].write(b"".join(lines))
            blocks.clear()
            rej.write(b"".join(dropped))
            dropped.clear()

        for pos, line in enumerate(src):
            drop = decisions.get(pos)
            parts = kept_parts(line)
            if drop is None:
                parsed = orjson.loads(line)["r"] if parts is None or route is not None else None
                name = route(parsed) if route is not None else "data"
                blocks.setdefault(name, []).append(parts[1] + b"\n" if parts is not None else dumps_line(parsed))
                counts[name] = counts.get(name, 0) + 1
            elif parts is not None:
                dropped.append(reject_bytes(step, drop[0], parts[0], parts[1], drop[1]))
            else:
                d = orjson.loads(line)
                dropped.append(reject_bytes(step, drop[0], orjson.dumps(d["s"]), orjson.dumps(d["r"]), drop[1]))
            if not pos % FLUSH_LINES:
                flush()
        flush()
    return counts


def run_keyed(op: GlobalOp, name: str, st: StepStats, shards: list[Shard], wd: WorkDir, workers: int,
              rejects: RejectFiles, writer: OutputWriter, progress: Progress,
              route: SplitRoute | None = None, pool_of: PoolOf = fork_pool) -> None:
    """Steps 1–3 above: the step's stats into ``st``, its rejects into ``rejects(name)``, the
    kept records through ``writer`` into ``data/`` (or, with ``route``, into their splits).
    ``pool_of``: where the tasks run (this machine's processes, or a Ray cluster's tasks)."""
    op.setup()
    progress.start(name, None, "records")
    t0 = time.perf_counter()
    groups = plan_groups(shards, wd, workers)
    ids = [s.index for s in shards]
    procs = tasks_at_once(workers, max(len(groups), len(shards)), pool_of)
    with pool_of(procs) as pool:
        decided = [pool.submit(decide_group, op, name, g, lo, hi, ids, wd) for g, (lo, hi) in enumerate(groups)]
        pieces: dict[int, list[tuple[str, int, int]]] = {}
        for g, fut in enumerate(decided):
            group_st, ranges = fut.result()
            group_st.seconds = 0.0  # the step's time is the wall time below
            st.merge(group_st)
            for shard, (start, end) in ranges.items():
                pieces.setdefault(shard, []).append((str(wd.drops(g)), start, end))
        move_records(pool, procs, ((i, pieces.get(i, [])) for i in ids), name, shards, wd, rejects, writer, progress, route)
    st.seconds += time.perf_counter() - t0
    progress.finish(name)


def run_routed(route: SplitRoute | None, shards: list[Shard], wd: WorkDir, workers: int, rejects: RejectFiles,
               writer: OutputWriter, progress: Progress, pool_of: PoolOf = fork_pool) -> None:
    """No global step left: the workers copy phase A's kept records to ``data/`` or, with ``route``,
    to their splits (steps 2–3 above, nothing dropped), as the serial path's output pass writes them."""
    name = "split" if route is not None else "output"
    progress.start(name, None, "records")
    procs = tasks_at_once(workers, len(shards), pool_of)
    with pool_of(procs) as pool:
        move_records(pool, procs, ((s.index, []) for s in shards), name, shards, wd, rejects, writer, progress, route)
    progress.finish(name)


def tasks_at_once(workers: int, tasks: int, pool_of: PoolOf) -> int:
    """Tasks to run at once: no more than the tasks or the workers asked for, nor, for processes
    forked here, this machine's cores (under the Ray engine ``workers`` counts the cluster's CPUs)."""
    cap = (os.cpu_count() or 1) if pool_of is fork_pool else workers
    return max(1, min(workers, tasks, cap))


def move_records(pool: Executor, procs: int, drops: Iterator[tuple[int, list[tuple[str, int, int]]]], name: str,
          shards: list[Shard], wd: WorkDir, rejects: RejectFiles, writer: OutputWriter, progress: Progress,
          route: SplitRoute | None) -> None:
    """Steps 2–3: each shard's records moved by one of the ``procs`` workers of ``pool``, the pieces
    joined in shard order (the drops into ``rejects(name)``; ``name``: the step's label, or
    ``split`` / ``output`` for ``run_routed``, which drops nothing)."""
    step = name.split(":", 1)[-1]
    # At most 2 x procs shards handed out ahead of the join, so that the pieces waiting on disk stay few.
    ahead: deque[Future[dict[str, int]]] = deque()

    def hand_out() -> None:
        for i, pieces in drops:  # in shard order, as the join below expects
            ahead.append(pool.submit(apply_shard, str(wd.kept(i)), wd.out_prefix(i),
                                     str(wd.dropped_piece(i)), step, pieces, route))
            if len(ahead) >= 2 * procs:
                return

    hand_out()
    for s in shards:  # joined in shard order as each one is ready
        counts = ahead.popleft().result()
        hand_out()
        _join(wd.dropped_piece(s.index), rejects, name)
        for out_name, n_out in counts.items():
            with open(wd.out_prefix(s.index) + out_name, "rb") as fh:
                writer.write_lines(out_name, fh, n_out)
        progress.advance(name, sum(counts.values()))


def _join(piece: Path, rejects: RejectFiles, name: str) -> None:
    import shutil

    if piece.stat().st_size:
        with open(piece, "rb") as src:
            shutil.copyfileobj(src, rejects(name), 1 << 20)
