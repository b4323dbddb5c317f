"""The Ray engine: the same recipe on a Ray cluster, through Ray Data (docs/scaling.md).

Phase A runs on the cluster as a Ray Data pipeline:

* reading: one task per shard (a file, or a byte range of a big JSONL/TXT file; the local
  engine's plan), through the same record source as the local engine (``shard.read_chunks``);
* per-record and batched steps: ``map_batches`` stages calling the local engine's
  ``_apply_steps``; a ``BatchOp`` (the operators that load a model) runs in an **actor pool**
  whose actors call ``setup()`` once; a step's ``resources:`` (CPUs, GPUs, memory, actors)
  goes to its stage;
* the first global step's per-record key (``GlobalOp.prepare_batch``, e.g. the exact-dedup hash
  or a MinHash signature) is computed in the last stage, on the cluster.

Rows travel as one Arrow table with columns ``shard``, ``kind`` (item, reject, stats),
``label`` (the step) and ``data`` (the JSON line). With ``preserve_order`` the driver receives
them in shard order and writes each shard's work files exactly as a local worker would
(kept records, rejects per step, id hashes, the done marker), so a rerun resumes, and phase B
(global steps, split, duplicate-id check, outputs, stats.json, manifest.json) is the local
engine's own code on the driver: the results are byte-identical to the local engine's.
"""

from __future__ import annotations

import io
import os
from array import array
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import orjson

from tuneprep.engine.local import RunError, RunResult, done_results, run_recipe
from tuneprep.engine.phases import Progress
from tuneprep.engine.shard import (
    CHUNK,
    RejectFiles,
    Shard,
    _apply_steps,
    _id_hash,
    kept_line,
    n_parallel_steps,
    read_chunks,
    write_id_hashes,
)
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.engine.workdir import WorkDir
from tuneprep.io.writers import atomic_open
from tuneprep.ops.base import BatchOp, GlobalOp, Item, Op, build_op
from tuneprep.recipe import Recipe, StepResources

ITEM, REJECT, STATS = "item", "reject", "stats"


# --- connecting ---------------------------------------------------------------------------------


def connect(address: str | None = None) -> bool:
    """Connect to the cluster at ``address`` (else ``RAY_ADDRESS``, else a new local one).

    Returns True when this call started the connection (the caller then shuts it down); an
    already initialised Ray (a notebook, a test fixture) is used as it is.
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - the extra is part of `all`
        raise RunError("engine: ray needs Ray Data: pip install 'tuneprep[ray]'") from e
    import logging

    # Ray Data logs each execution plan at INFO on the driver; tuneprep reports its own progress.
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, include_dashboard=False if address is None else None,
             logging_level="ERROR", log_to_driver=False)
    return True


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


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


@dataclass
class _Rows:
    """Columns of the Arrow table a stage returns."""

    shard: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)

    def add(self, shard: int, kind: str, label: str, data: bytes) -> None:
        self.shard.append(shard)
        self.kind.append(kind)
        self.label.append(label)
        self.data.append(data)

    def emit(self, shard: int, items: list[Item], bufs: dict[str, io.BytesIO], stats: list[StepStats],
             prep: GlobalOp | None) -> None:
        for label, buf in bufs.items():  # one step's rejects keep their record order
            for line in buf.getvalue().split(b"\n")[:-1]:
                self.add(shard, REJECT, label, line + b"\n")
        keys = prep.prepare_batch([it.record for it in items]) if prep is not None and items else None
        for j, it in enumerate(items):
            if prep is not None:
                self.add(shard, ITEM, "", kept_line(it, keys[j] if keys is not None else None))
            else:
                self.add(shard, ITEM, "", orjson.dumps({"s": it.source, "r": it.record}))
        for st in stats:  # raw counters: capped per shard on the driver, as the local engine does
            self.add(shard, STATS, st.step, orjson.dumps(_stats_json(st)))

    def table(self) -> Any:
        import pyarrow as pa

        return pa.table({"shard": pa.array(self.shard, pa.int64()), "kind": pa.array(self.kind, pa.string()),
                         "label": pa.array(self.label, pa.string()), "data": pa.array(self.data, pa.binary())})


def _stats_json(st: StepStats) -> dict[str, Any]:
    return {"step": st.step, "in": st.records_in, "out": st.records_out, "dropped": dict(st.dropped),
            "seconds": st.seconds, "counters": dict(st.counters)}


def _from_stats_json(d: dict[str, Any]) -> StepStats:
    return StepStats.from_json(d)


_OPS: dict[tuple[str, int], Op] = {}


def _op(recipe: Recipe, i: int) -> Op:
    """Step ``i``'s operator, set up once per worker process (a task stage's cache)."""
    key = (recipe.hash(), i)
    if key not in _OPS:
        op = build_op(recipe.steps[i].op, recipe.steps[i].params())
        op.setup()
        _OPS[key] = op
    return _OPS[key]


def _prep_op(recipe: Recipe, k: int) -> GlobalOp | None:
    """The first global step, whose per-record key is computed on the cluster (no setup needed)."""
    if k >= len(recipe.steps):
        return None
    op = build_op(recipe.steps[k].op, recipe.steps[k].params())
    return op if isinstance(op, GlobalOp) else None


def read_shards(batch: Any, recipe_json: str, with_prep: bool) -> Iterator[Any]:
    """Ray task: read the shards of ``batch`` (one per row); yields Arrow tables chunk by chunk."""
    recipe = Recipe.model_validate_json(recipe_json)
    prep = _prep_op(recipe, 0) if with_prep else None
    for row in batch.to_pylist():
        shard = Shard(**row)
        read_st = StepStats("read")
        bufs: dict[str, io.BytesIO] = {}
        for chunk in read_chunks(shard, recipe, read_st, lambda label, b=bufs: b.setdefault(label, io.BytesIO())):
            rows = _Rows()
            rows.emit(shard.index, chunk, bufs, [], prep)
            bufs.clear()
            yield rows.table()
        rows = _Rows()
        rows.emit(shard.index, [], bufs, [read_st], None)
        yield rows.table()


def apply_stage(batch: Any, recipe: Recipe, ops: list[Op], first: int, prep: GlobalOp | None) -> Any:
    """Steps ``first..`` of ``ops`` over the items of ``batch`` (other rows pass through), per shard."""
    names = step_names([s.op for s in recipe.steps])[first + 1: first + 1 + len(ops)]
    shards = batch.column("shard").to_pylist()
    kinds = batch.column("kind").to_pylist()
    labels = batch.column("label").to_pylist()
    datas = batch.column("data").to_pylist()
    order: dict[int, list[int]] = {}
    for j, s in enumerate(shards):  # a batch may join the end of one shard and the start of the next
        order.setdefault(s, []).append(j)
    rows = _Rows()
    for shard, idx in order.items():
        items = []
        for j in idx:
            if kinds[j] == ITEM:
                d = orjson.loads(datas[j])
                items.append(Item(d["s"], d["r"]))
            else:
                rows.add(shard, kinds[j], labels[j], datas[j])
        bufs: dict[str, io.BytesIO] = {}
        stats = [StepStats(n) for n in names]
        items = _apply_steps(items, ops, names, stats, lambda label, b=bufs: b.setdefault(label, io.BytesIO()))
        rows.emit(shard, items, bufs, stats, prep)
    return rows.table()


def run_stage(batch: Any, recipe_json: str, first: int, last: int, with_prep: bool) -> Any:
    """Ray task: a stage of plain per-record steps (operators cached per worker process)."""
    recipe = Recipe.model_validate_json(recipe_json)
    ops = [_op(recipe, i) for i in range(first, last + 1)]
    return apply_stage(batch, recipe, ops, first, _prep_op(recipe, last + 1) if with_prep else None)


class ActorStage:
    """Ray actor: a model step; ``setup()`` (loading the model) runs once, in ``__init__``."""

    def __init__(self, recipe_json: str, first: int, last: int, with_prep: bool):
        self.recipe = Recipe.model_validate_json(recipe_json)
        self.first = first
        self.ops = [build_op(self.recipe.steps[i].op, self.recipe.steps[i].params()) for i in range(first, last + 1)]
        for op in self.ops:
            op.setup()
        self.prep = _prep_op(self.recipe, last + 1) if with_prep else None

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
    ds = ray.data.from_items([asdict(s) for s in todo], override_num_blocks=len(todo))
    ds = ds.map_batches(read_shards, batch_size=1, batch_format="pyarrow",
                        fn_kwargs={"recipe_json": recipe_json, "with_prep": with_prep and not stages})
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
    """One shard's work files, written as a local worker writes them (``shard.process_shard``)."""

    def __init__(self, shard: int, wd: WorkDir, names: list[str]):
        self.shard, self.wd = shard, wd
        self.stack = ExitStack()
        self.kept: IO[bytes] = self.stack.enter_context(atomic_open(wd.kept(shard)))
        self.rejects = RejectFiles(wd.rejects_prefix(shard))
        self.ids = array("Q")
        self.stats = {n: StepStats(n) for n in names}

    def add(self, kind: str, label: str, data: bytes) -> None:
        if kind == ITEM:
            self.ids.append(_id_hash(orjson.loads(data)["r"]))
            self.kept.write(data)
        elif kind == REJECT:
            self.rejects(label).write(data)
        else:
            self.stats[label].merge(_from_stats_json(orjson.loads(data)))

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
    """Phase A on the cluster (``local.PhaseA``): work files per shard, then the shard results."""
    import ray

    results = done_results(shards, wd)
    resumed = len(results)
    if resumed:
        log(f"resuming: {resumed} of {len(shards)} shards already done")
    todo = [s for s in shards if s.index not in results]
    phase = "read + per-record steps (ray)"
    progress.start(phase, sum(s.size for s in shards), "bytes")
    progress.advance(phase, sum(s.size for s in shards if s.index in results))
    if todo:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in shard order
        ctx.enable_progress_bars = False
        ops = [build_op(s.op, s.params()) for s in recipe.steps]
        names = step_names([s.op for s in recipe.steps])[: n_parallel_steps(ops) + 1]
        size = {s.index: s.size for s in todo}
        sink: _ShardSink | None = None
        for batch in build_dataset(recipe, todo, workers).iter_batches(batch_size=None, batch_format="pyarrow"):
            cols = [batch.column(c).to_pylist() for c in ("shard", "kind", "label", "data")]
            for shard, kind, label, data in zip(*cols, strict=True):
                if sink is None or sink.shard != shard:
                    if sink is not None:
                        results[sink.shard] = sink.close()
                        progress.advance(phase, size[sink.shard], results[sink.shard]["steps"][0]["in"])
                    if shard in results:
                        raise RunError(f"ray engine: rows of shard {shard} arrived out of order")
                    sink = _ShardSink(shard, wd, names)
                sink.add(kind, label, data)
        if sink is not None:
            results[sink.shard] = sink.close()
        missing = [s.index for s in todo if s.index not in results]
        if missing:
            raise RunError(f"ray engine: no rows came back for shards {missing}")
    progress.finish(phase)
    return results, resumed


def run_recipe_ray(recipe: Recipe, address: str | None = None, fresh: bool = False,
                   progress: Progress | None = None, log: Callable[[str], None] = lambda s: None,
                   shard_bytes: int | None = None) -> RunResult:
    """Execute a recipe with phase A on a Ray cluster; the outputs are the local engine's.

    ``address``: ``ray://host:10001``, ``host:6379`` or ``auto``; default ``RAY_ADDRESS``, else
    a Ray instance started for this run (and stopped after it).
    """
    started = connect(address)
    try:
        return run_recipe(recipe, workers=cluster_cpus(), fresh=fresh, progress=progress, log=log,
                          shard_bytes=shard_bytes, phase_a=ray_phase_a, engine="ray")
    finally:
        if started:
            import ray

            ray.shutdown()
