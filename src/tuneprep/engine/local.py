"""The local engine: parallel, streaming, resumable execution of a recipe on one machine.

Phase A (parallel): each input shard (a file, or a byte range of a big JSONL/TXT file) is read,
mapped into records and passed through the leading per-record/batched steps in a worker
process; kept records, rejects and the shard's stats are written under ``OUT/.work`` and the
stats file, written last and atomically, marks the shard done. A rerun after a kill skips done
shards.

Phase B (barriers): global steps (dedup, sampling) and the split stream over the shard outputs
in shard order, so the result is the same whatever the number of workers or interruptions.
Memory is bounded by the global steps' own state (e.g. one hash per unique record).

Every input row ends up in exactly one place: the output data or a rejects file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any

import orjson

from tuneprep.datasets import resolve_input
from tuneprep.engine.shard import (
    CHUNK,
    RejectFiles,
    Shard,
    _apply_steps,
    _id_hash,
    _reject,
    n_parallel_steps,
    process_shard,
    repeated_id_hashes,
)
from tuneprep.engine.split import assign_splits, split_keys
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.engine.workdir import WorkDir
from tuneprep.errors import TuneprepError
from tuneprep.io.fingerprint import sha256_file
from tuneprep.io.readers import byte_ranges, detect_format, expand_inputs, is_splittable
from tuneprep.io.writers import atomic_open, dumps_line
from tuneprep.ops.base import GlobalOp, Item, build_op
from tuneprep.recipe import Recipe
from tuneprep.version import __version__

MIN_SHARD = 4 << 20
MAX_SHARD = 64 << 20


class RunError(TuneprepError, RuntimeError):
    """A run that cannot complete (bad input glob, accounting mismatch...)."""


@dataclass
class RunResult:
    out_dir: Path
    records_in: int
    kept: int
    rejected: int
    steps: list[dict[str, Any]]
    splits: dict[str, int]
    seconds: float
    resumed_shards: int = 0
    shards: int = 0
    ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


# --- planning ----------------------------------------------------------------------------------


def plan_shards(recipe: Recipe, workers: int, shard_bytes: int | None = None) -> list[Shard]:
    """Cut the inputs into shards: whole files, big line-format files by byte range."""
    patterns = [recipe.input.path] if isinstance(recipe.input.path, str) else recipe.input.path
    files = expand_inputs([resolve_input(p) for p in patterns])
    total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
    target = shard_bytes or max(MIN_SHARD, min(MAX_SHARD, total // max(1, workers * 4) + 1))
    shards: list[Shard] = []
    for f in files:
        fmt = recipe.input.format or detect_format(f)
        size = os.path.getsize(f) if os.path.isfile(f) else 0
        if is_splittable(f, fmt) and size > target:
            for a, b in byte_ranges(f, target):
                shards.append(Shard(len(shards), f, fmt, a, b, b - a))
        else:
            shards.append(Shard(len(shards), f, fmt, None, None, size))
    return shards


def _fingerprint(path: str) -> dict[str, Any]:
    st = os.stat(path)
    return {"path": path, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def input_fingerprints(shards: list[Shard], with_hash: bool = True) -> list[dict[str, Any]]:
    """Size, mtime and sha256 of each input file (the hash is what makes a manifest auditable)."""
    seen: dict[str, dict[str, Any]] = {}
    for s in shards:
        if s.path in seen or not os.path.isfile(s.path):
            continue
        fp = _fingerprint(s.path)
        if with_hash:
            fp["sha256"] = sha256_file(s.path)
        seen[s.path] = fp
    return list(seen.values())


def _plan_hash(recipe: Recipe, shards: list[Shard]) -> str:
    blob = json.dumps({"recipe": recipe.hash(), "version": __version__,
                       "shards": [asdict(s) for s in shards],
                       "inputs": [_fingerprint(p) for p in dict.fromkeys(s.path for s in shards)]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_items(paths: list[Path], with_keys: bool) -> Iterator[Item]:
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                d = orjson.loads(line)
                yield Item(d["s"], d["r"], d.get("k") if with_keys else None)


def _write_stage(path: Path, items: Iterator[Item]) -> None:
    with atomic_open(path) as fh:
        for it in items:
            fh.write(orjson.dumps({"s": it.source, "r": it.record}) + b"\n")


class _Progress:
    """Minimal protocol the engine reports to (the CLI passes a Rich-backed one)."""

    def start(self, name: str, total: float | None, unit: str) -> None: ...
    def advance(self, name: str, amount: float, records: int = 0) -> None: ...
    def finish(self, name: str) -> None: ...


def run_recipe(recipe: Recipe, workers: int = 0, fresh: bool = False, progress: _Progress | None = None,
               log: Callable[[str], None] = lambda s: None, shard_bytes: int | None = None) -> RunResult:
    """Execute a recipe; write data, rejects, stats.json and manifest.json under ``output.path``.

    ``workers=0`` uses every core; ``shard_bytes`` overrides the shard size (default: about four
    shards per worker, 4–64 MB each). Raises RunError when the accounting invariant
    (records in = kept + rejected) does not hold.
    """
    t_start = time.time()
    progress = progress or _Progress()
    workers = workers or os.cpu_count() or 1
    out = Path(recipe.output.path)
    wd = WorkDir.of(out)
    work = wd.path
    shards = plan_shards(recipe, workers, shard_bytes)
    plan = _plan_hash(recipe, shards)
    plan_file = wd.plan
    if fresh or not plan_file.exists() or json.loads(plan_file.read_text()).get("plan") != plan:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        plan_file.write_text(json.dumps({"plan": plan, "shards": len(shards)}))
    names = step_names([s.op for s in recipe.steps])
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    k = n_parallel_steps(ops)

    # Phase A
    results: dict[int, dict[str, Any]] = {}
    for s in shards:
        done = wd.done(s.index)
        if done.exists():
            results[s.index] = orjson.loads(done.read_bytes())
    resumed = len(results)
    if resumed:
        log(f"resuming: {resumed} of {len(shards)} shards already done")
    todo = [s for s in shards if s.index not in results]
    total_bytes = sum(s.size for s in shards)
    progress.start("read + per-record steps", total_bytes, "bytes")
    progress.advance("read + per-record steps", sum(s.size for s in shards if s.index in results))
    recipe_json = recipe.model_dump_json()
    if workers == 1 or len(todo) <= 1:
        for s in todo:
            results[s.index] = process_shard(s, recipe_json, str(work))
            progress.advance("read + per-record steps", s.size, results[s.index]["steps"][0]["in"])
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("fork")) as pool:
            futs = {pool.submit(process_shard, s, recipe_json, str(work)): s for s in todo}
            for fut in as_completed(futs):
                s = futs[fut]
                results[s.index] = fut.result()
                progress.advance("read + per-record steps", s.size, results[s.index]["steps"][0]["in"])
    progress.finish("read + per-record steps")

    step_stats = [StepStats(n) for n in names]
    for idx in sorted(results):
        for j, d in enumerate(results[idx]["steps"]):
            step_stats[j].merge(StepStats.from_json(d))

    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "rejects").mkdir(parents=True)

    # Rejects of phase A: concatenated in shard order, one file per step.
    rej_fh = RejectFiles(f"{staging / 'rejects'}/", mode="ab")
    for s_ in shards:
        for label in results[s_.index].get("rejects", []):
            with open(wd.rejects_prefix(s_.index) + RejectFiles.filename(label), "rb") as src:
                shutil.copyfileobj(src, rej_fh(label), 1 << 20)

    # Phase B
    kept_paths = [wd.kept(s.index) for s in shards]
    open_items: Callable[[], Iterator[Item]] = lambda: _read_items(kept_paths, with_keys=True)  # noqa: E731
    stage_no = 0
    pending: list[int] = []  # per-record step indices waiting to be applied lazily
    n_after_a = step_stats[k].records_out

    def _lazy(source: Callable[[], Iterator[Item]], idxs: list[int]) -> Iterator[Item]:
        chunk: list[Item] = []
        for it in source():
            chunk.append(it)
            if len(chunk) >= CHUNK:
                yield from _apply_lazy(chunk, idxs)
                chunk = []
        if chunk:
            yield from _apply_lazy(chunk, idxs)

    def _apply_lazy(chunk: list[Item], idxs: list[int]) -> list[Item]:
        for i in idxs:
            if ops[i].kind == "record" or ops[i].kind == "batch":
                chunk = _apply_steps(chunk, [ops[i]], [names[i + 1]], [step_stats[i + 1]], rej_fh)
        return chunk

    for i in range(k, len(ops)):
        op = ops[i]
        if not isinstance(op, GlobalOp):
            pending.append(i)
            continue
        if op is not ops[k] or pending:
            # Materialise so the global step can take several passes over its input.
            src, idxs = open_items, list(pending)
            stage = wd.stage(stage_no)
            stage_no += 1
            _write_stage(stage, _lazy(src, idxs) if idxs else (Item(it.source, it.record) for it in src()))
            pending = []
            open_items = (lambda p=stage: _read_items([p], with_keys=False))  # noqa: E731
        op.setup()
        name = names[i + 1]
        st = step_stats[i + 1]
        progress.start(name, n_after_a or None, "records")
        t0 = time.perf_counter()
        stage = wd.stage(stage_no)
        stage_no += 1
        with atomic_open(stage) as fh:
            for it, drop in op.apply_global(open_items):
                st.records_in += 1
                if drop is None:
                    st.records_out += 1
                    fh.write(orjson.dumps({"s": it.source, "r": it.record}) + b"\n")
                else:
                    st.dropped[drop.reason] += 1
                    _reject(rej_fh(name), name.split(":", 1)[1], drop.reason, it.source, record=it.record,
                            detail=drop.detail)
                if st.records_in % 4096 == 0:
                    progress.advance(name, 4096)
        st.seconds += time.perf_counter() - t0
        progress.finish(name)
        open_items = (lambda p=stage: _read_items([p], with_keys=False))  # noqa: E731

    final_source: Callable[[], Iterator[Item]] = (
        (lambda src=open_items, idxs=list(pending): _lazy(src, idxs)) if pending else open_items
    )

    # Output (and split)
    splits: dict[str, int] = {}
    part_size = recipe.output.part_size
    writers: dict[str, tuple[IO[bytes] | None, int, int]] = {}

    suspects = repeated_id_hashes([wd.ids(s.index) for s in shards])
    seen_ids: set[str] = set()
    out_stats = StepStats("output")

    def write_item(split: str, item: Item) -> None:
        rec = item.record
        out_stats.records_in += 1
        # Ids are the key of every later join (predictions, comparisons): they must be unique.
        if suspects and _id_hash(rec) in suspects:
            rid = str(rec.get("id"))
            if rid in seen_ids:
                out_stats.dropped["duplicate_id"] += 1
                _reject(rej_fh("output"), "output", "duplicate_id", item.source, record=rec,
                        detail={"duplicate_of": rid})
                return
            seen_ids.add(rid)
        out_stats.records_out += 1
        fh, n_in_part, part = writers.get(split, (None, 0, 0))
        if fh is None or n_in_part >= part_size:
            if fh is not None:
                fh.close()
                part += 1
            d = staging / split
            d.mkdir(exist_ok=True)
            fh, n_in_part = open(d / f"part-{part:05d}.jsonl", "wb"), 0  # noqa: SIM115
        fh.write(dumps_line(rec))
        writers[split] = (fh, n_in_part + 1, part)
        splits[split] = splits.get(split, 0) + 1

    if recipe.split is None:
        for it in final_source():
            write_item("data", it)
    else:
        cfg = recipe.split
        if pending:
            stage = wd.stage(stage_no)
            _write_stage(stage, final_source())
            final_source = (lambda p=stage: _read_items([p], with_keys=False))  # noqa: E731
        assignment = assign_splits((split_keys(it.record, cfg) for it in final_source()), cfg)
        for name in cfg.fractions():
            (staging / name).mkdir(exist_ok=True)
        for it, split in zip(final_source(), assignment, strict=True):
            write_item(split, it)
    for fh, _, _ in writers.values():
        if fh is not None:
            fh.close()
    rej_fh.close()
    if recipe.split is None and "data" not in splits:
        (staging / "data").mkdir(exist_ok=True)

    if out_stats.dropped:
        step_stats.append(out_stats)
    # Accounting
    order = ["data", "train", "val", "test"]
    splits = {k: splits[k] for k in sorted(splits, key=order.index)}
    records_in = step_stats[0].records_in
    kept = sum(splits.values())
    # Count what was really written (not what the stats say), so the invariant checks the files.
    rejected = sum(_count_lines(p) for p in (staging / "rejects").glob("*.jsonl"))
    ok = records_in == kept + rejected
    seconds = time.time() - t_start
    stats = {
        "records_in": records_in, "kept": kept, "rejected": rejected, "invariant_ok": ok,
        "splits": splits, "steps": [s.to_json() for s in step_stats], "wall_seconds": round(seconds, 3),
        "workers": workers, "shards": len(shards), "resumed_shards": resumed,
    }
    manifest = {
        "tool": "tuneprep", "version": __version__, "recipe": recipe.model_dump(mode="json"),
        "recipe_hash": recipe.hash(), "inputs": input_fingerprints(shards), "libraries": _library_versions(),
        "counts": {"records_in": records_in, "kept": kept, "rejected": rejected, "splits": splits},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    # Move into place: each output replaced as a whole.
    for name in ("data", "train", "val", "test", "rejects"):
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        if (staging / name).exists():
            os.replace(staging / name, target)
    for name in ("stats.json", "manifest.json"):
        os.replace(staging / name, out / name)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    result = RunResult(out, records_in, kept, rejected, stats["steps"], splits, seconds, resumed, len(shards), ok)
    if not ok:
        raise RunError(f"accounting mismatch: {records_in} records in != {kept} kept + {rejected} rejected")
    return result


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            n += chunk.count(b"\n")
    return n


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for lib in ("ftfy", "trafilatura", "orjson", "pydantic", "xxhash", "pyarrow"):
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            pass
    return out
