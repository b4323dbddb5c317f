"""Phase B of a keys-only global step (``dedup.exact``) in parallel, with the serial path's output.

When the recipe ends with one global step whose ``apply_global`` reads only the prepared key and
the record id (``GlobalOp.keys_only``), with no split after it (or a hash split, below), the
barrier needs no record:

1. **decide** (driver, serial): the op runs over the shards' ``[key, id]`` side files in shard
   order (``WorkDir.keys``), exactly as over the records, and yields which ones it drops and why,
   shard by shard as each shard's answers are final;
2. **apply** (worker processes, one shard each, started while the next shards are decided): each
   worker reads its shard's kept records and writes the output lines of the records kept (their
   JSON cut out of the work line, ``record_bytes``) and the rejects of the dropped ones;
3. **join** (driver): the output lines go into the part files and the rejects into the step's
   rejects file, in shard order, as bytes.

So a kept record is neither parsed nor serialised again, where the serial path parses and writes
it twice on the driver (stage file, then output). The files are byte for byte those of the serial path
(``phases.BarrierSteps`` + ``OutputWriter``): same kept records in the same order, same rejects,
same counts. With a hash split (``split.method: hash``) the workers also route each kept record
to its split (``SplitRoute``: a function of the record alone) and write one piece per split; the
driver joins each split's pieces in shard order, as the serial path writes them; with no global
step at all, the workers do the same for phase A's kept records (``run_routed``). Runs that need
more (an exact split, later steps, labels checked at output, repeated ids, the Ray engine) take
the serial path.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from tuneprep.engine import guard
from tuneprep.engine.forkpool import fork_pool
from tuneprep.engine.phases import OutputWriter, Progress
from tuneprep.engine.shard import RejectFiles, Shard, _reject
from tuneprep.engine.split import HashSplit
from tuneprep.engine.stats import StepStats
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.writers import dumps_line
from tuneprep.ops.base import GlobalOp, Item, Op
from tuneprep.recipe import Recipe

Decisions = dict[int, tuple[str, dict[str, Any]]]
"""Per shard: position of a dropped record among the shard's kept records → (reason, detail)."""


def applies(ops: list[Op], k: int, shards: list[Shard], wd: WorkDir, workers: int) -> bool:
    """True when step ``k`` can run here: the last step, keys-only, more than one worker and
    shard, and every shard's keys file is there (a work directory from an older version, or the
    Ray engine's, has none). The caller checks the rest (no split, no repeated ids, ...)."""
    return (workers > 1 and len(shards) > 1 and k == len(ops) - 1
            and isinstance(ops[k], GlobalOp) and ops[k].keys_only  # type: ignore[attr-defined]
            and all(wd.keys(s.index).exists() for s in shards))


def routes(ops: list[Op], k: int, shards: list[Shard], workers: int) -> bool:
    """True when phase A ran every step (no global step): under a hash split the workers can then
    route phase A's kept records to their splits (``run_routed``). The caller checks the rest."""
    return workers > 1 and len(shards) > 1 and k == len(ops)


def decide(op: GlobalOp, shards: list[Shard], wd: WorkDir, st: StepStats) -> Iterator[tuple[int, Decisions]]:
    """Run the op over the keys files in shard order, counting into ``st``; yields each shard's
    drops as soon as they are final (the op has answered its last record), so the workers can
    move a shard's records while the next shards are decided."""
    # (shard, position) of the items read but not yet answered: the op answers in input order,
    # so this holds only as many as it reads ahead (one, for dedup.exact).
    where: deque[tuple[int, int]] = deque()
    read = 0

    def items() -> Any:
        nonlocal read
        for s in shards:
            with open(wd.keys(s.index), "rb") as fh:
                for pos, line in enumerate(fh):
                    key, rid = orjson.loads(line)
                    where.append((s.index, pos))
                    read += 1
                    yield Item("", {"id": rid}, key)

    order = deque(s.index for s in shards)  # shards not yet handed out, in order
    current: Decisions = {}
    n = 0
    for _, drop in op.apply_global(items):
        st.records_in += 1
        shard, pos = where.popleft()
        while order[0] != shard:  # every shard before this one is answered in full
            yield order.popleft(), current
            current = {}
        if drop is None:
            st.records_out += 1
        else:
            st.dropped[drop.reason] += 1
            current[pos] = (drop.reason, drop.detail)
        n += 1
    if n != read or where:
        raise RuntimeError(f"{op.name}: {n} outcomes for {read} records")
    while order:
        yield order.popleft(), current
        current = {}


def record_bytes(line: bytes) -> bytes | None:
    """The record's JSON inside a kept line ``{"s":…,"r":…,"k":"…"}`` (``shard.kept_line``), cut
    out without parsing: orjson writes the nested record exactly as ``orjson.dumps(record)``, so
    this plus a newline is ``dumps_line(record)``. None when the line is not of that shape (then
    the caller parses it).

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
    return line[i + 6: j]


@dataclass
class SplitRoute:
    """The output a kept record goes to under a hash split: ``HashSplit``, then the train-only
    rule (``guard.final_split``), as the serial path decides it."""

    split_of: HashSplit
    recipe: Recipe

    def __call__(self, record: dict[str, Any]) -> str:
        return guard.final_split(self.split_of(record), record, self.recipe)


def apply_shard(kept: str, out_prefix: str, dropped_piece: str, step: str, decisions: Decisions,
                route: SplitRoute | None = None) -> dict[str, int]:
    """Worker: one shard's kept records → output lines (one piece per output, ``out_prefix`` +
    name: ``data``, or each split of ``route``) and rejects, as the serial path writes them;
    returns how many records it wrote to each output."""
    counts: dict[str, int] = {}
    with ExitStack() as stack, open(kept, "rb") as src, open(dropped_piece, "wb") as rej:
        outs: dict[str, IO[bytes]] = {}
        for pos, line in enumerate(src):
            drop = decisions.get(pos)
            if drop is None:
                rec = record_bytes(line)
                parsed = orjson.loads(line)["r"] if rec is None or route is not None else None
                name = route(parsed) if route is not None else "data"
                if name not in outs:
                    outs[name] = stack.enter_context(open(out_prefix + name, "wb"))
                outs[name].write(rec + b"\n" if rec is not None else dumps_line(parsed))
                counts[name] = counts.get(name, 0) + 1
            else:
                d = orjson.loads(line)
                _reject(rej, step, drop[0], d["s"], record=d["r"], detail=drop[1])
    return counts


def run_keyed(op: GlobalOp, name: str, st: StepStats, shards: list[Shard], wd: WorkDir, workers: int,
              rejects: RejectFiles, writer: OutputWriter, progress: Progress,
              route: SplitRoute | None = None) -> None:
    """Steps 1–3 above: the step's stats into ``st``, its rejects into ``rejects(name)``, the
    kept records through ``writer`` into ``data/`` (or, with ``route``, into their splits)."""
    op.setup()
    progress.start(name, None, "records")
    t0 = time.perf_counter()
    _move(decide(op, shards, wd, st), name, shards, wd, workers, rejects, writer, progress, route)
    st.seconds += time.perf_counter() - t0
    st.collect(op)
    progress.finish(name)


def run_routed(route: SplitRoute, shards: list[Shard], wd: WorkDir, workers: int, rejects: RejectFiles,
               writer: OutputWriter, progress: Progress) -> None:
    """No global step, a hash split: the workers route phase A's kept records to their splits
    (steps 2–3 above, nothing dropped), as the serial path's output pass writes them."""
    progress.start("split", None, "records")
    _move(((s.index, {}) for s in shards), "split", shards, wd, workers, rejects, writer, progress, route)
    progress.finish("split")


def _move(decisions: Iterator[tuple[int, Decisions]], name: str, shards: list[Shard], wd: WorkDir, workers: int,
          rejects: RejectFiles, writer: OutputWriter, progress: Progress, route: SplitRoute | None) -> None:
    """Steps 2–3: each shard's records moved by a worker as soon as its decisions are final, the
    pieces joined in shard order (the drops into ``rejects(name)``; ``name``: the step's label,
    or ``split`` for ``run_routed``, which drops nothing)."""
    step = name.split(":", 1)[-1]
    procs = min(workers, len(shards))
    with fork_pool(procs) as pool:
        # At most 2 x procs shards handed out ahead of the join: a shard's decisions (one entry per
        # dropped record) are freed once it is joined, so the driver never holds every shard's at
        # once (on 1.2 M documents with 0.6 M duplicates that was most of its memory).
        ahead: deque[tuple[int, Future[dict[str, int]]]] = deque()

        def hand_out() -> None:
            for i, drops in decisions:
                ahead.append((i, pool.submit(apply_shard, str(wd.kept(i)), wd.out_prefix(i),
                                             str(wd.dropped_piece(i)), step, drops, route)))
                if len(ahead) >= 2 * procs:
                    return

        hand_out()
        for s in shards:  # joined in shard order as each one is ready
            i, fut = ahead.popleft()
            if i != s.index:
                raise RuntimeError(f"{name}: shard {i} decided out of order (expected {s.index})")
            counts = fut.result()
            del fut
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
