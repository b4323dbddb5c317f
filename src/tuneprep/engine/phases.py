"""Phase B of the local engine: the barrier (global) steps and the output writer.

Both stream over the shards' kept records in shard order (``WorkDir``), so the result does not
depend on the number of workers or on interruptions. Per-record steps that come after the
first global step are applied lazily while the next stage is read.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import orjson

from tuneprep.engine.shard import CHUNK, RejectFiles, _apply_steps, _id_hash, _reject, repeated_id_hashes
from tuneprep.engine.stats import StepStats
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.writers import atomic_open, dumps_line
from tuneprep.ops.base import GlobalOp, Item, Op

Source = Callable[[], Iterator[Item]]  # re-readable stream of items (a global step may take several passes)


def read_items(paths: list[Path], with_keys: bool) -> Iterator[Item]:
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                d = orjson.loads(line)
                yield Item(d["s"], d["r"], d.get("k") if with_keys else None)


def write_stage(path: Path, items: Iterator[Item]) -> None:
    with atomic_open(path) as fh:
        for it in items:
            fh.write(orjson.dumps({"s": it.source, "r": it.record}) + b"\n")


def _stage_source(path: Path) -> Source:
    return lambda: read_items([path], with_keys=False)


class Progress:
    """Minimal protocol the engine reports to (the CLI passes a Rich-backed one)."""

    def start(self, name: str, total: float | None, unit: str) -> None: ...
    def advance(self, name: str, amount: float, records: int = 0) -> None: ...
    def finish(self, name: str) -> None: ...


class BarrierSteps:
    """Runs steps ``k..`` (from the first global step on) over the phase-A output."""

    def __init__(self, ops: list[Op], names: list[str], stats: list[StepStats], rejects: RejectFiles,
                 wd: WorkDir, progress: Progress):
        self.ops, self.names, self.stats, self.rejects, self.wd, self.progress = ops, names, stats, rejects, wd, progress
        self.stage_no = 0
        self.pending: list[int] = []  # per-record step indices waiting to be applied lazily

    def _next_stage(self) -> Path:
        path = self.wd.stage(self.stage_no)
        self.stage_no += 1
        return path

    def _apply_lazy(self, chunk: list[Item], idxs: list[int]) -> list[Item]:
        for i in idxs:
            if self.ops[i].kind == "record" or self.ops[i].kind == "batch":
                chunk = _apply_steps(chunk, [self.ops[i]], [self.names[i + 1]], [self.stats[i + 1]], self.rejects)
        return chunk

    def lazy(self, source: Source, idxs: list[int]) -> Iterator[Item]:
        chunk: list[Item] = []
        for it in source():
            chunk.append(it)
            if len(chunk) >= CHUNK:
                yield from self._apply_lazy(chunk, idxs)
                chunk = []
        if chunk:
            yield from self._apply_lazy(chunk, idxs)

    def _run_global(self, i: int, op: GlobalOp, source: Source, n_expected: int) -> Source:
        op.setup()
        name, st = self.names[i + 1], self.stats[i + 1]
        self.progress.start(name, n_expected or None, "records")
        t0 = time.perf_counter()
        stage = self._next_stage()
        with atomic_open(stage) as fh:
            for it, drop in op.apply_global(source):
                st.records_in += 1
                if drop is None:
                    st.records_out += 1
                    fh.write(orjson.dumps({"s": it.source, "r": it.record}) + b"\n")
                else:
                    st.dropped[drop.reason] += 1
                    _reject(self.rejects(name), name.split(":", 1)[1], drop.reason, it.source, record=it.record,
                            detail=drop.detail)
                if st.records_in % 4096 == 0:
                    self.progress.advance(name, 4096)
        st.seconds += time.perf_counter() - t0
        st.collect(op)
        self.progress.finish(name)
        return _stage_source(stage)

    def run(self, source: Source, k: int) -> Source:
        """Apply steps ``k..`` to ``source``; returns the final (re-readable) source."""
        n_after_a = self.stats[k].records_out
        for i in range(k, len(self.ops)):
            op = self.ops[i]
            if not isinstance(op, GlobalOp):
                # Phase A set up its own copies in the workers; this one runs here, in the driver.
                op.setup()
                self.pending.append(i)
                continue
            if op is not self.ops[k] or self.pending:
                # Materialise so the global step can take several passes over its input.
                src, idxs = source, list(self.pending)
                stage = self._next_stage()
                write_stage(stage, self.lazy(src, idxs) if idxs else (Item(it.source, it.record) for it in src()))
                self.pending = []
                source = _stage_source(stage)
            source = self._run_global(i, op, source, n_after_a)
        if self.pending:
            return lambda src=source, idxs=list(self.pending): self.lazy(src, idxs)
        return source

    def materialised(self, source: Source) -> Source:
        """``source`` as a stage file when per-record steps are still pending (read twice by the split)."""
        if not self.pending:
            return source
        stage = self.wd.stage(self.stage_no)
        write_stage(stage, source())
        return _stage_source(stage)


class OutputWriter:
    """Writes kept records into ``staging/<split>/part-NNNNN.jsonl``; rejects duplicate ids."""

    def __init__(self, staging: Path, part_size: int, id_runs: list[Path], rejects: RejectFiles):
        self.staging, self.part_size, self.rejects = staging, part_size, rejects
        self.splits: dict[str, int] = {}
        self.writers: dict[str, tuple[IO[bytes] | None, int, int]] = {}
        self.suspects = repeated_id_hashes(id_runs)
        self.seen_ids: set[str] = set()
        self.stats = StepStats("output")

    def write(self, split: str, item: Item) -> None:
        rec = item.record
        self.stats.records_in += 1
        # Ids are the key of every later join (predictions, comparisons): they must be unique.
        if self.suspects and _id_hash(rec) in self.suspects:
            rid = str(rec.get("id"))
            if rid in self.seen_ids:
                self.stats.dropped["duplicate_id"] += 1
                _reject(self.rejects("output"), "output", "duplicate_id", item.source, record=rec,
                        detail={"duplicate_of": rid})
                return
            self.seen_ids.add(rid)
        self._emit(split, dumps_line(rec))

    def write_lines(self, split: str, fh: IO[bytes], n: int) -> None:
        """The ``n`` lines of ``fh``, records already serialised as ``write`` would
        (``dumps_line``), copied as bytes; only when no id is repeated (``suspects`` empty), as
        nothing here looks at the records."""
        self.stats.records_in += n
        self.stats.records_out += n
        self.splits[split] = self.splits.get(split, 0) + n
        while n:
            out, n_in_part, part = self._part(split)
            take = min(n, self.part_size - n_in_part)
            if take == n:
                shutil.copyfileobj(fh, out, 1 << 20)
            else:  # the part fills up: line by line up to its end
                for _ in range(take):
                    out.write(fh.readline())
            self.writers[split] = (out, n_in_part + take, part)
            n -= take

    def _part(self, split: str) -> tuple[IO[bytes], int, int]:
        """The split's open part file with room for a line (the next one when it is full)."""
        fh, n_in_part, part = self.writers.get(split, (None, 0, 0))
        if fh is None or n_in_part >= self.part_size:
            if fh is not None:
                fh.close()
                part += 1
            d = self.staging / split
            d.mkdir(exist_ok=True)
            fh, n_in_part = open(d / f"part-{part:05d}.jsonl", "wb"), 0  # noqa: SIM115
        return fh, n_in_part, part

    def _emit(self, split: str, line: bytes) -> None:
        self.stats.records_out += 1
        fh, n_in_part, part = self._part(split)
        fh.write(line)
        self.writers[split] = (fh, n_in_part + 1, part)
        self.splits[split] = self.splits.get(split, 0) + 1

    def close(self) -> dict[str, int]:
        for fh, _, _ in self.writers.values():
            if fh is not None:
                fh.close()
        order = ["data", "train", "val", "test"]
        return {k: self.splits[k] for k in sorted(self.splits, key=order.index)}


