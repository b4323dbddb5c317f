"""The Ray engine: the same recipe on a Ray cluster (docs/scaling.md).

When every node sees the run's work directory and the recipe fits (``engine/ray_exchange.py``),
``run_recipe_ray`` is the local engine with its worker functions as Ray tasks. Otherwise — the
rest of this module — phase A runs on the cluster as a Ray Data pipeline:

* reading: one task per shard (a file, or a byte range of a big JSONL/TXT file; the local
  engine's plan), through the same record source as the local engine (``shard.read_chunks``);
* per-record and batched steps: ``map_batches`` stages calling the local engine's
  ``_apply_steps``; a ``BatchOp`` (the operators that load a model) runs in an **actor pool**
  whose actors call ``setup()`` once; a step's ``resources:`` (CPUs, GPUs, memory, actors)
  goes to its stage;
* the first global step's per-record key (``GlobalOp.prepare_batch``, e.g. the exact-dedup hash
  or a MinHash signature) is computed in the last stage, on the cluster;
* when that step is ``dedup.exact`` or ``dedup.minhash`` it runs on the cluster too
  (``engine/ray_global.py``); the driver applies its verdicts while writing the shard files.

Rows travel as one Arrow table per batch (``engine/ray_rows.py``: columns ``shard``, ``kind``
(item, reject, stats), ``label`` (the step), ``data`` (the JSON line), ...); connecting to the
cluster and sizing it is ``ray_cluster.py``. With ``preserve_order`` the driver receives
them in shard order and writes each shard's work files exactly as a local worker would
(kept records, rejects per step, id hashes, the done marker), so a rerun resumes, and phase B
(global steps, split, duplicate-id check, outputs, stats.json, manifest.json) is the local
engine's own code on the driver: the results are byte-identical to the local engine's.
"""

from __future__ import annotations

import io
import logging
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import IO, Any

import orjson

from tuneprep.engine.local import RunError, RunResult, begin_phase_a, run_recipe
from tuneprep.engine.phases import Progress
from tuneprep.engine.ray_exchange import PROCESS_LOCAL, choose_exchange
from tuneprep.engine.ray_global import Decide, distributed_global, first_global, verdicts_on_cluster
from tuneprep.engine.ray_rows import ITEM, REJECT, ArrowRows
from tuneprep.engine.shard import (
    CHUNK,
    RejectFiles,
    Shard,
    _apply_steps,
    _reject,
    kept_line,
    n_parallel_steps,
    read_chunks,
    write_id_hashes,
)
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.readers import InputError
from tuneprep.io.writers import atomic_open
from tuneprep.ops.base import BatchOp, GlobalOp, Item, Op, build_op
from tuneprep.ray_cluster import Exchange, cluster_cpus, connect, describe, task_pool
from tuneprep.recipe import Recipe, StepResources
from tuneprep.urls import is_url, scheme

# --- stages: what runs on the cluster ------------------------------------------------------------


@dataclass
class Stage:
    """Consecutive steps ``first..last`` (op indices) run by one ``map_batches``."""

    first: int
    last: int
    actors: bool  # a model step: an actor pool, setup() once per actor
    resources: StepResources | None = None


def plan_stages(recipe: Recipe, ops: list[Op]) -> list[Stage]:
    """Group the leading per-record steps: runs of plain steps share a stage; a BatchOp (a model)
    or a step with ``resources:`` gets one of its own."""
    stages: list[Stage] = []
    for i in range(n_parallel_steps(ops)):
        res = recipe.steps[i].resources
        own = isinstance(ops[i], BatchOp) or res is not None
        if stages and not own and not stages[-1].actors and stages[-1].resources is None:
            stages[-1].last = i
        else:
            stages.append(Stage(i, i, isinstance(ops[i], BatchOp), res))
    return stages


_OPS: dict[tuple[str, int], Op] = {}


def _op(recipe: Recipe, i: int) -> Op:
    """Step ``i``'s operator, set up once per worker process (a task stage's cache)."""
    key = (recipe.hash(), i)
    if key not in _OPS:
        op = build_op(recipe.steps[i].op, recipe.steps[i].params())
        op.setup()
        _OPS[key] = op
    return _OPS[key]


def _preps(recipe: Recipe) -> tuple[GlobalOp | None, GlobalOp | None]:
    """(the step whose per-record key goes in the kept line, the distributed step whose key goes in
    the ``key`` column): the keys phase A prepares on the cluster for what follows it."""
    k = first_global(recipe)
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    if k >= len(ops):
        return None, None
    if distributed_global(recipe):
        # Not after MinHash: it changes its survivors' meta, so phase B prepares the next step's keys.
        nxt = (ops[k + 1] if k + 1 < len(ops) and isinstance(ops[k + 1], GlobalOp)
               and recipe.steps[k].op == "dedup.exact" else None)
        return nxt, ops[k]  # type: ignore[return-value]
    return ops[k], None  # type: ignore[return-value]


def _steps_at(items: list[Item], positions: Iterable[int], ops: list[Op], names: list[str],
              stats: list[StepStats], rejects: Callable[[str], IO[bytes]]) -> tuple[list[Item], list[int]]:
    """``_apply_steps`` over ``items``, which stand at ``positions`` in their shard: the kept items
    and their positions (carried in ``Item.key``: _apply_steps keeps the Item objects it keeps)."""
    for it, p in zip(items, positions, strict=True):
        it.key = p
    kept = _apply_steps(items, ops, names, stats, rejects)
    pos = [it.key for it in kept]
    for it in kept:
        it.key = None
    return kept, pos  # type: ignore[return-value]


def read_shards(batch: Any, recipe_json: str, with_prep: bool, through: int = 0) -> Iterator[Any]:
    """Ray task: read the shards of ``batch`` (one per row) and run steps ``0..through-1`` (the
    leading plain steps, ``plan_stages``' first stage when it has no model and no resources) on
    each chunk; yields Arrow tables chunk by chunk.

    Running that stage here rather than in a ``map_batches`` of its own saves each record a JSON
    round trip, and keeps one task per shard: fused with a stage of 512-record batches, Ray Data
    bundled every shard into one task (all of phase A on one CPU)."""
    recipe = Recipe.model_validate_json(recipe_json)
    prep = _preps(recipe) if with_prep else (None, None)
    ops = [_op(recipe, i) for i in range(through)]
    names = step_names([s.op for s in recipe.steps])[1: 1 + through]
    for row in batch.to_pylist():
        shard = Shard(**row)
        read_st = StepStats("read")
        bufs: dict[str, io.BytesIO] = {}

        def sink(label: str, b: dict[str, io.BytesIO] = bufs) -> io.BytesIO:
            return b.setdefault(label, io.BytesIO())

        n = 0
        for chunk in read_chunks(shard, recipe, read_st, sink):
            stats = [StepStats(name) for name in names]
            items, pos = _steps_at(chunk, range(n, n + len(chunk)), ops, names, stats, sink)
            n += len(chunk)
            rows = ArrowRows()
            rows.emit(shard.index, items, pos, bufs, stats, prep)
            bufs.clear()
            yield rows.table()
        rows = ArrowRows()
        rows.emit(shard.index, [], [], bufs, [read_st])
        yield rows.table()


def apply_stage(batch: Any, recipe: Recipe, ops: list[Op], first: int,
                prep: tuple[GlobalOp | None, GlobalOp | None]) -> Any:
    """Steps ``first..`` of ``ops`` over the items of ``batch`` (other rows pass through), per shard."""
    names = step_names([s.op for s in recipe.steps])[first + 1: first + 1 + len(ops)]
    cols = {c: batch.column(c).to_pylist() for c in ("shard", "kind", "label", "data", "pos")}
    order: dict[int, list[int]] = {}
    for j, s in enumerate(cols["shard"]):  # a batch may join the end of one shard and the start of the next
        order.setdefault(s, []).append(j)
    rows = ArrowRows()
    for shard, idx in order.items():
        items, at = [], []
        for j in idx:
            if cols["kind"][j] == ITEM:
                d = orjson.loads(cols["data"][j])
                items.append(Item(d["s"], d["r"]))
                at.append(cols["pos"][j])
            else:
                rows.add(shard, cols["kind"][j], cols["label"][j], cols["data"][j])
        bufs: dict[str, io.BytesIO] = {}
        stats = [StepStats(n) for n in names]
        items, pos = _steps_at(items, at, ops, names, stats, lambda label, b=bufs: b.setdefault(label, io.BytesIO()))
        rows.emit(shard, items, pos, bufs, stats, prep)
    return rows.table()


def run_stage(batch: Any, recipe_json: str, first: int, last: int, with_prep: bool) -> Any:
    """Ray task: a stage of plain per-record steps (operators cached per worker process)."""
    recipe = Recipe.model_validate_json(recipe_json)
    ops = [_op(recipe, i) for i in range(first, last + 1)]
    return apply_stage(batch, recipe, ops, first, _preps(recipe) if with_prep else (None, None))


class ActorStage:
    """Ray actor: a model step; ``setup()`` (loading the model) runs once, in ``__init__``."""

    def __init__(self, recipe_json: str, first: int, last: int, with_prep: bool):
        self.recipe = Recipe.model_validate_json(recipe_json)
        self.first = first
        self.ops = [build_op(self.recipe.steps[i].op, self.recipe.steps[i].params()) for i in range(first, last + 1)]
        for op in self.ops:
            op.setup()
        self.prep = _preps(self.recipe) if with_prep else (None, None)

    def __call__(self, batch: Any) -> Any:
        return apply_stage(batch, self.recipe, self.ops, self.first, self.prep)


def build_dataset(recipe: Recipe, todo: list[Shard], workers: int) -> Any:
    """The Ray Data pipeline of phase A over the shards ``todo``."""
    import ray

    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    k = n_parallel_steps(ops)
    with_prep = k < len(ops)
    stages = plan_stages(recipe, ops)
    recipe_json = recipe.model_dump_json()
    # The first stage runs in the read tasks when it is plain steps (no model, no resources).
    through = stages[0].last + 1 if stages and not stages[0].actors and stages[0].resources is None else 0
    rest = stages[1:] if through else stages
    ds = ray.data.from_items([asdict(s) for s in todo], override_num_blocks=len(todo))
    ds = ds.map_batches(read_shards, batch_size=1, batch_format="pyarrow",
                        fn_kwargs={"recipe_json": recipe_json, "with_prep": with_prep and not rest,
                                   "through": through})
    stages = rest
    for n, st in enumerate(stages):
        res = st.resources or StepResources()
        kw: dict[str, Any] = {"batch_size": CHUNK, "batch_format": "pyarrow"}
        for name in ("num_cpus", "num_gpus", "memory"):
            if getattr(res, name) is not None:
                kw[name] = getattr(res, name)
        args = {"recipe_json": recipe_json, "first": st.first, "last": st.last,
                "with_prep": with_prep and n == len(stages) - 1}
        if st.actors:
            cpus = res.num_cpus or 1
            # An autoscaling pool, so that the read tasks keep a CPU on a small cluster.
            pool = (ray.data.ActorPoolStrategy(size=res.concurrency) if res.concurrency else
                    ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, int(workers / cpus))))
            ds = ds.map_batches(ActorStage, fn_constructor_kwargs=args, compute=pool, **kw)
        else:
            ds = ds.map_batches(run_stage, fn_kwargs=args, **kw)
    return ds


# --- the driver: rows back into the work directory -------------------------------------------------


class _ShardSink:
    """One shard's work files, written as a local worker writes them (``shard.process_shard``).

    With ``dedup`` (a distributed global step: its name and verdicts) the shard's dropped records go
    to that step's rejects, as phase B would write them.
    """

    def __init__(self, shard: int, wd: WorkDir, names: list[str], dedup: tuple[str, Decide] | None = None):
        self.shard, self.wd, self.dedup = shard, wd, dedup
        self.stack = ExitStack()
        self.kept: IO[bytes] = self.stack.enter_context(atomic_open(wd.kept(shard)))
        self.rejects = RejectFiles(wd.rejects_prefix(shard))
        self.ids = array("Q")
        self.stats = {n: StepStats(n) for n in names}

    def add(self, kind: str, label: str, data: bytes, pos: int, idh: int) -> None:
        if kind == ITEM:
            if self.dedup is not None:
                name, decide = self.dedup
                st = self.stats[name]
                st.records_in += 1
                drop, line = decide(self.shard, pos, data)
                if drop is not None:
                    line = line if line is not None else orjson.loads(data)
                    st.dropped[drop.reason] += 1
                    _reject(self.rejects(name), name.split(":", 1)[1], drop.reason, line["s"], record=line["r"],
                            detail=drop.detail)
                    return
                st.records_out += 1
                if line is not None:  # changed; no key: phase B prepares the next step's from the changed record
                    data = kept_line(Item(line["s"], line["r"]))
            self.ids.append(idh)  # every item row carries its id hash (ray_rows.ArrowRows.emit)
            self.kept.write(data)
        elif kind == REJECT:
            self.rejects(label).write(data)
        else:
            self.stats[label].merge(StepStats.from_json(orjson.loads(data)))

    def close(self) -> dict[str, Any]:
        self.stack.close()
        write_id_hashes(self.wd.ids(self.shard), self.ids)
        steps = [st.to_json() for st in self.stats.values()]
        result = {"shard": self.shard, "steps": steps, "kept": steps[-1]["out"], "rejects": self.rejects.close()}
        with atomic_open(self.wd.done(self.shard)) as fh:
            fh.write(orjson.dumps(result))
        return result


def ray_phase_a(recipe: Recipe, shards: list[Shard], wd: WorkDir, workers: int, progress: Progress,
                log: Callable[[str], None]) -> tuple[dict[int, dict[str, Any]], int]:
    """Phase A on the cluster (``local.PhaseA``): work files per shard, then the shard results.

    When the first global step is exact or MinHash dedup it runs here too (its results then count as part
    of phase A); a resumed run then redoes every shard, since dedup spans them all.
    """
    import ray

    local_only = sorted({s.path for s in shards if is_url(s.path) and scheme(s.path) in PROCESS_LOCAL})
    if local_only:
        raise InputError(f"{', '.join(local_only)}: an in-memory filesystem lives in this process only; the Ray "
                         "engine's workers cannot read it (use storage every node reaches: s3://, gs://, a shared "
                         "mount, or the local engine)")
    dist = distributed_global(recipe)
    dedup = dist is not None
    phase = "read + per-record steps (ray)"
    results, todo = begin_phase_a(shards, wd, progress, log, phase, redo_all=dedup)
    resumed = len(results)
    if todo:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in shard order
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # its INFO lines: each execution plan
        k = first_global(recipe)
        names = step_names([s.op for s in recipe.steps])[: k + 1 + dedup]
        size = {s.index: s.size for s in todo}
        ds = build_dataset(recipe, todo, workers)
        sink_dedup = None
        if dedup:
            try:  # Ray >= 2.46; older releases shuffle by sorting already
                from ray.data.context import ShuffleStrategy

                # Sort-based: plain tasks. The hash shuffle's aggregator actors cost 4x the time here
                # (19-24 s against 5-6 s for 18,562 records on 2 CPUs); the keys are 128-bit hashes,
                # so the sort's range partitions are hash partitions.
                ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
            except ImportError:  # pragma: no cover
                pass
            t0 = time.perf_counter()
            ds = ds.materialize()  # read once: the grouping and the stream below both use it
            t1 = time.perf_counter()
            log(f"ray: read + per-record steps {t1 - t0:.1f} s")
            sink_dedup = (names[k + 1], verdicts_on_cluster(recipe, k, names[k + 1], ds, workers, log))
        sink: _ShardSink | None = None
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            cols = [batch.column(c).to_pylist() for c in ("shard", "kind", "label", "data", "pos", "idh")]
            for shard, kind, label, data, pos, idh in zip(*cols, strict=True):
                if sink is None or sink.shard != shard:
                    if sink is not None:
                        results[sink.shard] = sink.close()
                        progress.advance(phase, size[sink.shard], results[sink.shard]["steps"][0]["in"])
                    if shard in results:
                        raise RunError(f"ray engine: rows of shard {shard} arrived out of order")
                    sink = _ShardSink(shard, wd, names, sink_dedup)
                sink.add(kind, label, data, pos, idh)
        if sink is not None:
            results[sink.shard] = sink.close()
        missing = [s.index for s in todo if s.index not in results]
        if missing:
            raise RunError(f"ray engine: no rows came back for shards {missing}")
    progress.finish(phase)
    return results, resumed


def run_recipe_ray(recipe: Recipe, address: str | None = None, fresh: bool = False,
                   progress: Progress | None = None, log: Callable[[str], None] = lambda s: None,
                   shard_bytes: int | None = None, exchange: Exchange = "auto") -> RunResult:
    """Execute a recipe on a Ray cluster; the outputs are the local engine's.

    ``address``: ``ray://host:10001``, ``host:6379`` or ``auto``; default ``RAY_ADDRESS``, else
    a Ray instance started for this run (and stopped after it). ``exchange`` (``choose_exchange``):
    with ``files`` the local engine's worker functions run as Ray tasks, each reading and writing the
    work directory, which every node must reach; with ``objects`` phase A is a Ray Data pipeline whose
    rows come back to the driver, and exact or MinHash dedup runs on the cluster through Ray Data.
    """
    import ray

    started = connect(address)
    try:
        log(describe())
        if choose_exchange(recipe, exchange, log) == "files":
            return run_recipe(recipe, workers=cluster_cpus(), fresh=fresh, progress=progress, log=log,
                              shard_bytes=shard_bytes, engine="ray", pool_of=task_pool)
        return run_recipe(recipe, workers=cluster_cpus(), fresh=fresh, progress=progress, log=log,
                          shard_bytes=shard_bytes, phase_a=ray_phase_a, engine="ray")
    finally:
        if started:
            ray.shutdown()
