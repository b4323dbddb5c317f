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
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any

import orjson
import xxhash

from tuneprep import __version__
from tuneprep.datasets import resolve_input
from tuneprep.engine.split import assign_splits, split_keys
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.io.fingerprint import sha256_file
from tuneprep.io.readers import byte_ranges, detect_format, expand_inputs, is_splittable, read_rows
from tuneprep.io.writers import atomic_open, dumps_line
from tuneprep.ops.base import BatchOp, Drop, GlobalOp, Item, Op, build_op
from tuneprep.recipe import Recipe
from tuneprep.records import RecordError, to_record

CHUNK = 512  # records processed together (batched ops get sub-batches of their own size)
MIN_SHARD = 4 << 20
MAX_SHARD = 64 << 20


class RunError(RuntimeError):
    """A run that cannot complete (bad input glob, accounting mismatch...)."""


@dataclass
class Shard:
    index: int
    path: str
    fmt: str
    start: int | None
    end: int | None
    size: int


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
    rej: dict[str, Any] = {"step": step, "reason": reason, "source": source}
    if detail:
        rej.update({k: v for k, v in detail.items() if k == "duplicate_of"})
        rest = {k: v for k, v in detail.items() if k != "duplicate_of"}
        if rest:
            rej["detail"] = rest
    if raw is not None:
        rej["raw"] = raw
    else:
        rej["record"] = record
    fh.write(dumps_line(rej))


def _convert(obj: Any, style: str) -> Any:
    from tuneprep.io.converters import convert_row, detect_style

    if not isinstance(obj, dict):
        return obj
    if style == "auto":
        detected = detect_style(obj)
        if detected is None:
            raise RecordError("unknown_chat_format", "cannot tell the chat format of this row "
                              "(expected messages, conversations, instruction/output or prompt/completion)")
        style = detected
    return convert_row(obj, style)


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
            results = [op.apply(it.record) for it in items]  # type: ignore[attr-defined]
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


def process_shard(shard: Shard, recipe_json: str, work: str) -> dict[str, Any]:
    """Worker: read one shard, map rows to records, run the leading steps; returns the shard stats."""
    recipe = Recipe.model_validate_json(recipe_json)
    ops = _ops_for(recipe)
    k = n_parallel_steps(ops)
    names = step_names([s.op for s in recipe.steps])
    prep = ops[k] if k < len(ops) else None
    mapping = recipe.input.mapping()
    label_map = recipe.input.label_map
    convert = recipe.input.convert_from
    read_st = StepStats("read")
    stats = [StepStats(n) for n in names[1: k + 1]]
    base = Path(work) / f"shard-{shard.index:05d}"
    t_read = 0.0
    rejects = RejectFiles(f"{base}.rejects.")
    id_hashes = array("Q")
    with atomic_open(f"{base}.kept.jsonl") as kept_fh:
        rows = read_rows(shard.path, shard.fmt, shard.start, shard.end)
        done = False
        while not done:
            t0 = time.perf_counter()
            items: list[Item] = []
            for row in rows:
                read_st.records_in += 1
                source = f"{shard.path}:{row.line}"
                if row.error:
                    read_st.dropped[row.reason] += 1
                    _reject(rejects("read"), "read", row.reason, source, raw=row.raw, detail={"error": row.error})
                else:
                    try:
                        obj = _convert(row.obj, convert) if convert else row.obj
                        rec = to_record(obj, mapping, shard.path, row.line)
                    except RecordError as e:
                        read_st.dropped[e.reason] += 1
                        _reject(rejects("read"), "read", e.reason, source, record=row.obj,
                                detail={"error": str(e), **({"field": e.field} if e.field else {})})
                    else:
                        if label_map and isinstance(rec.get("label"), str):
                            rec["label"] = label_map.get(rec["label"], rec["label"])
                        items.append(Item(source, rec))
                if len(items) >= CHUNK:
                    break
            else:
                done = True
            read_st.records_out += len(items)
            t_read += time.perf_counter() - t0
            items = _apply_steps(items, ops[:k], names[1: k + 1], stats, rejects)
            for it in items:
                id_hashes.append(_id_hash(it.record))
                line: dict[str, Any] = {"s": it.source, "r": it.record}
                if prep is not None:
                    key = prep.prepare(it.record)  # type: ignore[attr-defined]
                    if key is not None:
                        line["k"] = key
                kept_fh.write(orjson.dumps(line) + b"\n")
    import numpy as np

    with atomic_open(f"{base}.ids.u64") as fh:  # sorted, so phase B can merge the runs by hash range
        fh.write(np.sort(np.frombuffer(id_hashes, dtype=np.uint64)).tobytes())
    read_st.seconds = t_read
    result = {"shard": shard.index, "steps": [read_st.to_json()] + [s.to_json() for s in stats],
              "kept": stats[-1].records_out if stats else read_st.records_out,
              "rejects": rejects.close()}
    with atomic_open(f"{base}.done.json") as fh:
        fh.write(orjson.dumps(result))
    if os.environ.get("TUNEPREP_FAULT_AFTER_SHARD") == str(shard.index):
        # Test hook: simulate a crash (SIGKILL of the whole run) right after this shard completes.
        os.killpg(os.getpgrp(), 9)
    return result


def _id_hash(record: dict[str, Any]) -> int:
    return xxhash.xxh3_64_intdigest(str(record.get("id")).encode("utf-8", "surrogatepass"))


def repeated_id_hashes(runs: list[Path], bucket_bytes: int = 32 << 20) -> set[int]:
    """Hashes present more than once across sorted uint64 runs, holding ~``bucket_bytes`` at a time.

    This keeps the duplicate-id check's memory bounded whatever the input size: only the
    (rare) hashes seen twice are kept, and exact ids are compared for those alone.
    """
    import numpy as np

    sizes = [p.stat().st_size // 8 if p.exists() else 0 for p in runs]
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
    work = out / ".work"
    shards = plan_shards(recipe, workers, shard_bytes)
    plan = _plan_hash(recipe, shards)
    plan_file = work / "plan.json"
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
        done = work / f"shard-{s.index:05d}.done.json"
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
            with open(work / f"shard-{s_.index:05d}.rejects.{RejectFiles.filename(label)}", "rb") as src:
                shutil.copyfileobj(src, rej_fh(label), 1 << 20)

    # Phase B
    kept_paths = [work / f"shard-{s.index:05d}.kept.jsonl" for s in shards]
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
            stage = work / f"stage-{stage_no}.jsonl"
            stage_no += 1
            _write_stage(stage, _lazy(src, idxs) if idxs else (Item(it.source, it.record) for it in src()))
            pending = []
            open_items = (lambda p=stage: _read_items([p], with_keys=False))  # noqa: E731
        op.setup()
        name = names[i + 1]
        st = step_stats[i + 1]
        progress.start(name, n_after_a or None, "records")
        t0 = time.perf_counter()
        stage = work / f"stage-{stage_no}.jsonl"
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
        st.collect(op)
        progress.finish(name)
        open_items = (lambda p=stage: _read_items([p], with_keys=False))  # noqa: E731

    final_source: Callable[[], Iterator[Item]] = (
        (lambda src=open_items, idxs=list(pending): _lazy(src, idxs)) if pending else open_items
    )

    # Output (and split)
    splits: dict[str, int] = {}
    part_size = recipe.output.part_size
    writers: dict[str, tuple[IO[bytes] | None, int, int]] = {}

    suspects = repeated_id_hashes([work / f"shard-{s.index:05d}.ids.u64" for s in shards])
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
            stage = work / f"stage-{stage_no}.jsonl"
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
