"""The local engine: parallel, streaming, resumable execution of a recipe on one machine.

Phase A (parallel): each input shard (a file, or a byte range of a big JSONL/TXT file) is read,
mapped into records and passed through the leading per-record/batched steps in a worker
process; kept records, rejects and the shard's stats are written under ``OUT/.work`` and the
stats file, written last and atomically, marks the shard done. A rerun after a kill skips done
shards.

Phase B (barriers): global steps (dedup, sampling) and the split stream over the shard outputs
in shard order, so the result is the same whatever the number of workers or interruptions.
Memory is bounded by the global steps' own state (e.g. one hash per unique record). When the
recipe ends with a keys-only global step (``dedup.exact``) and no split, phase B decides from the
keys alone and the workers move the records (``keyed.py``): the same files, on every core.

Every input row ends up in exactly one place: the output data or a rejects file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tuneprep.datasets import resolve_input
from tuneprep.engine import guard, keyed, ranked
from tuneprep.engine.forkpool import PoolOf, fork_pool
from tuneprep.engine.outputs import OutputPlace
from tuneprep.engine.phases import BarrierSteps, OutputWriter, Progress, Source, read_items, write_stage
from tuneprep.engine.shard import (
    RejectFiles,
    Shard,
    _reject,
    n_parallel_steps,
    process_shard,
)
from tuneprep.engine.split import HashSplit, assign_splits, realised_fractions, split_keys
from tuneprep.engine.stats import StepStats, step_names
from tuneprep.engine.workdir import WorkDir
from tuneprep.errors import TuneprepError
from tuneprep.io import fs
from tuneprep.io.fingerprint import file_fingerprint, sha256_file
from tuneprep.io.inputplan import FilePlan, plan_file
from tuneprep.io.layout import MANIFEST, REJECTS_DIR, STATS
from tuneprep.io.readers import byte_ranges, detect_format, expand_inputs, is_splittable
from tuneprep.ops.base import Item, build_op
from tuneprep.recipe import Recipe
from tuneprep.version import __version__

MIN_SHARD = 4 << 20
MAX_SHARD = 64 << 20


class RunError(TuneprepError, RuntimeError):
    """A run that cannot complete (bad input glob, accounting mismatch...)."""


@dataclass
class RunResult:
    out_dir: Path | str  # the output directory, or the URL the outputs were uploaded to
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
    stats: dict[str, Any] = field(default_factory=dict)  # stats.json as written


# --- planning ----------------------------------------------------------------------------------


def plan_shards(recipe: Recipe, workers: int, shard_bytes: int | None = None,
                plans: dict[str, FilePlan] | None = None) -> list[Shard]:
    """Cut the inputs into shards: whole files, big line-format files by byte range.

    Each file's encoding and read options are settled first (``io/inputplan.py``); ``plans``,
    when given, receives them (the manifest records them)."""
    patterns = [recipe.input.path] if isinstance(recipe.input.path, str) else recipe.input.path
    files = expand_inputs([resolve_input(p) for p in patterns])
    total = sum(fs.getsize(f) for f in files if fs.isfile(f))
    target = shard_bytes or max(MIN_SHARD, min(MAX_SHARD, total // max(1, workers * 4) + 1))
    shards: list[Shard] = []
    for f in files:
        fmt = recipe.input.format or detect_format(f)
        size = fs.getsize(f) if fs.isfile(f) else 0
        fp = plan_file(f, fmt, recipe.input)
        if plans is not None:
            plans[f] = fp
        enc = fp.encoding.encoding if fp.encoding else None
        if is_splittable(f, fmt) and fp.fast and size > target:
            for a, b in byte_ranges(f, target):
                shards.append(Shard(len(shards), f, fmt, a, b, b - a, enc))
        else:
            shards.append(Shard(len(shards), f, fmt, None, None, size, enc))
    return shards


def input_fingerprints(shards: list[Shard], with_hash: bool = True) -> list[dict[str, Any]]:
    """Size, mtime (a URL: the store's version) and sha256 of each input file (the hash is what
    makes a manifest auditable)."""
    seen: dict[str, dict[str, Any]] = {}
    for s in shards:
        if s.path in seen or not fs.isfile(s.path):
            continue
        fp = file_fingerprint(s.path)
        if with_hash:
            fp["sha256"] = sha256_file(s.path)
        seen[s.path] = fp
    return list(seen.values())


def _plan_hash(recipe: Recipe, shards: list[Shard], engine: str) -> str:
    blob = json.dumps({"recipe": recipe.hash(), "version": __version__, "engine": engine,
                       "shards": [asdict(s) for s in shards],
                       "inputs": [file_fingerprint(p) for p in dict.fromkeys(s.path for s in shards)]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _prepare_workdir(recipe: Recipe, shards: list[Shard], wd: WorkDir, fresh: bool, engine: str) -> None:
    """Keep the work directory of an interrupted run of the same plan and engine (resume); else
    start afresh (the engines' shard files may hold different steps)."""
    plan = _plan_hash(recipe, shards, engine)
    if fresh or not wd.plan.exists() or json.loads(wd.plan.read_text()).get("plan") != plan:
        shutil.rmtree(wd.path, ignore_errors=True)
        wd.path.mkdir(parents=True)
        wd.plan.write_text(json.dumps({"plan": plan, "shards": len(shards)}))


def done_results(shards: list[Shard], wd: WorkDir) -> dict[int, dict[str, Any]]:
    """The results of the shards an interrupted run finished (their done markers)."""
    results: dict[int, dict[str, Any]] = {}
    for s in shards:
        done = wd.done(s.index)
        if done.exists():
            results[s.index] = orjson.loads(done.read_bytes())
    return results


def begin_phase_a(shards: list[Shard], wd: WorkDir, progress: Progress, log: Callable[[str], None], phase: str,
                  redo_all: bool = False) -> tuple[dict[int, dict[str, Any]], list[Shard]]:
    """What every phase A (``PhaseA``) starts with: the results of the shards already done, the
    resume line, the progress bar over the input bytes (the done shards' bytes counted).

    Returns (results by shard so far, the shards still to do). ``redo_all`` ignores the done
    shards (the Ray engine's exact dedup on the cluster spans every shard, so it redoes them all).
    """
    results = {} if redo_all else done_results(shards, wd)
    if results:
        log(f"resuming: {len(results)} of {len(shards)} shards already done")
    progress.start(phase, sum(s.size for s in shards), "bytes")
    progress.advance(phase, sum(s.size for s in shards if s.index in results))
    return results, [s for s in shards if s.index not in results]


def _run_workers(recipe: Recipe, shards: list[Shard], wd: WorkDir, workers: int, progress: Progress,
                 log: Callable[[str], None], pool_of: PoolOf = fork_pool) -> tuple[dict[int, dict[str, Any]], int]:
    """Phase A: every shard not done yet, in worker processes (or ``pool_of``'s tasks); returns
    (results by shard, resumed)."""
    phase = "read + per-record steps"
    results, todo = begin_phase_a(shards, wd, progress, log, phase)
    resumed = len(results)
    recipe_json = recipe.model_dump_json()
    if pool_of is fork_pool and (workers == 1 or len(todo) <= 1):
        for s in todo:
            results[s.index] = process_shard(s, recipe_json, str(wd.path))
            progress.advance(phase, s.size, results[s.index]["steps"][0]["in"])
    elif todo:
        with pool_of(min(workers, len(todo))) as pool:
            futs = {pool.submit(process_shard, s, recipe_json, str(wd.path)): s for s in todo}
            for fut in as_completed(futs):
                s = futs[fut]
                results[s.index] = fut.result()
                progress.advance(phase, s.size, results[s.index]["steps"][0]["in"])
    progress.finish(phase)
    return results, resumed


def _worker_rejects(shards: list[Shard], results: dict[int, dict[str, Any]], wd: WorkDir,
                    rejects: RejectFiles) -> None:
    """The rejects of phase A, concatenated in shard order, one file per step."""
    for s in shards:
        for label in results[s.index].get("rejects", []):
            with open(wd.rejects_prefix(s.index) + RejectFiles.filename(label), "rb") as src:
                shutil.copyfileobj(src, rejects(label), 1 << 20)


def _write_output(recipe: Recipe, source: Source, barrier: BarrierSteps, writer: OutputWriter) -> None:
    """Every kept record into its split (or ``data/``), in a deterministic order."""
    if recipe.split is None:
        for it in source():
            writer.write("data", it)
        return
    cfg = recipe.split
    if cfg.method == "hash":
        # One pass, nothing held: each record's split is a function of the record alone.
        split_of = HashSplit(cfg)
        pairs: Iterable[tuple[Item, str]] = ((it, split_of(it.record)) for it in source())
    else:
        source = barrier.materialised(source)
        if cfg.dedup is not None:  # duplicate clusters are groups: no near-duplicate straddles two splits
            from tuneprep.engine.dedup_split import with_duplicate_groups

            assignment = assign_splits(with_duplicate_groups(source, cfg), cfg)
        else:
            assignment = assign_splits((split_keys(it.record, cfg) for it in source()), cfg)
        pairs = zip(source(), assignment, strict=True)
    for it, split in pairs:
        writer.write(guard.final_split(split, it.record, recipe), it)


def _commit(place: OutputPlace, staging: Path, wd: WorkDir) -> None:
    """Put the staged outputs into place (moved, or uploaded to a URL), each replaced as a whole,
    the manifest last; drop the work directory."""
    place.publish(staging, ("data", "train", "val", "test", REJECTS_DIR), (STATS, MANIFEST))
    shutil.rmtree(wd.path, ignore_errors=True)
    place.finished()


PhaseA = Callable[[Recipe, list[Shard], WorkDir, int, Progress, Callable[[str], None]],
                  tuple[dict[int, dict[str, Any]], int]]
"""Runs phase A (every shard not done yet) and leaves each shard's files in the work directory,
as ``process_shard`` does; returns (results by shard, shards resumed). The Ray engine is one."""


def run_recipe(recipe: Recipe, workers: int = 0, fresh: bool = False, progress: Progress | None = None,
               log: Callable[[str], None] = lambda s: None, shard_bytes: int | None = None,
               phase_a: PhaseA | None = None, engine: str = "local", pool_of: PoolOf = fork_pool) -> RunResult:
    """Execute a recipe; write data, rejects, stats.json and manifest.json under ``output.path``.

    ``workers=0`` uses every core; ``shard_bytes`` overrides the shard size (default: about four
    shards per worker, 4–64 MB each). ``phase_a`` replaces phase A (the Ray engine's Ray Data
    pipeline); ``pool_of`` the worker processes of phase A and of the parallel phase B (the Ray
    engine's tasks over a shared work directory); ``engine`` names it in stats.json. Everything
    else is this code.
    Raises RunError when the accounting invariant (records in = kept + rejected) does not hold.
    """
    t_start = time.time()
    progress = progress or Progress()
    workers = workers or os.cpu_count() or 1
    place = OutputPlace.of(recipe.output.path)
    out = place.local  # the work directory and the staged outputs: local disk, also for a URL output
    wd = WorkDir.of(out)
    plans: dict[str, FilePlan] = {}
    shards = plan_shards(recipe, workers, shard_bytes, plans)
    for fp in plans.values():
        if fp.encoding is not None and fp.encoding.method != "default":
            log(f"{fp.path}: encoding {fp.encoding.describe()}")
        for w in fp.warnings:
            log(f"warning: {w}")
    _prepare_workdir(recipe, shards, wd, fresh, engine)
    names = step_names([s.op for s in recipe.steps])
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    k = n_parallel_steps(ops)

    if phase_a is not None:
        results, resumed = phase_a(recipe, shards, wd, workers, progress, log)
    else:
        results, resumed = _run_workers(recipe, shards, wd, workers, progress, log, pool_of)
    # Phase A may have run the first global step too (the Ray engine's distributed exact dedup):
    # the shard results then hold one more step, and phase B starts after it.
    k = max((len(r["steps"]) for r in results.values()), default=k + 1) - 1
    step_stats = [StepStats(n) for n in names]
    for idx in sorted(results):
        for j, d in enumerate(results[idx]["steps"]):
            step_stats[j].merge(StepStats.from_json(d))

    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / REJECTS_DIR).mkdir(parents=True)
    rejects = RejectFiles(f"{staging / REJECTS_DIR}/", mode="ab")
    _worker_rejects(shards, results, wd, rejects)
    files = guard.file_counts(shards, results, log)
    # Stop before the (possibly costly) global steps when reading or a per-record step already
    # rejected too much: the rejects are put in place for inspection.
    for fh in rejects.files.values():
        fh.flush()  # so that the messages below can quote the first reject
    steps_a = [st.to_json() for st in step_stats[: k + 1]]
    early = guard.reject_fraction_problems(steps_a, recipe, staging / REJECTS_DIR)
    if step_stats[k].records_out == 0:
        early.append(guard.nothing_kept(step_stats[0].records_in, [st.to_json() for st in step_stats],
                                        staging / REJECTS_DIR))
    if early:
        rejects.close()
        _stop(place, staging, wd, [st.to_json() for st in step_stats], files, early)

    writer = OutputWriter(staging, recipe.output.part_size, [wd.ids(s.index) for s in shards], rejects)
    for name in recipe.split.fractions() if recipe.split is not None else ():
        (staging / name).mkdir(exist_ok=True)  # every split has its folder, even an empty one
    # Under a hash split a record's split is a function of the record alone: workers can route it.
    route = (keyed.SplitRoute(HashSplit(recipe.split), recipe)
             if recipe.split is not None and recipe.split.method == "hash" else None)
    # Phase B in the workers (``pool_of``: processes here, or the Ray engine's tasks), where it can be.
    in_workers = not writer.suspects and keyed.moves_in_workers(recipe)
    done = True
    if in_workers and keyed.applies(ops, k, shards, wd, workers):
        # A final keys-only step (dedup.exact): decided from the keys, records moved by the workers.
        keyed.run_keyed(ops[k], names[k + 1], step_stats[k + 1], shards, wd, workers,  # type: ignore[arg-type]
                        rejects, writer, progress, route, pool_of)
    elif in_workers and ranked.applies(ops, k, shards, wd, workers):
        # A final ranked selection (select.sample, select.top, select.balance): ranked per shard,
        # records moved by the workers; or, when ranks cannot decide the input, the serial path below.
        done = ranked.run_ranked(ops[k], names[k + 1], step_stats[k + 1], shards, wd,  # type: ignore[arg-type]
                                 workers, rejects, writer, progress, route=route, pool_of=pool_of)
    elif in_workers and keyed.routes(ops, k, shards, workers):
        # Every step done in phase A: the workers copy (or route) the kept records to the outputs.
        keyed.run_routed(route, shards, wd, workers, rejects, writer, progress, pool_of)
    else:
        done = False
    if not done:
        barrier = BarrierSteps(ops, names, step_stats, rejects, wd, progress)
        kept_paths = [wd.kept(s.index) for s in shards]
        final = barrier.run(lambda: read_items(kept_paths, with_keys=True), k)
        if guard.labels_checked_at_output(recipe):
            # Annotation steps label records on the way: what is still unlabeled now is rejected
            # (once, into a stage the split then reads twice).
            label_st = StepStats("labels")
            stage = wd.path / "stage-labels.jsonl"
            write_stage(stage, guard.keep_labeled(final(), recipe, label_st, lambda it, why: _reject(
                rejects("labels"), "labels", "missing_label", it.source, record=it.record, detail={"error": why})))
            final = (lambda p=stage: read_items([p], with_keys=False))  # noqa: E731
            step_stats.append(label_st)
        _write_output(recipe, final, barrier, writer)
    splits = writer.close()
    rejects.close()
    if recipe.split is None and "data" not in splits:
        (staging / "data").mkdir(exist_ok=True)
    if writer.stats.dropped:
        step_stats.append(writer.stats)

    # Accounting: count what was really written (not what the stats say), so the invariant checks the files.
    records_in = step_stats[0].records_in
    kept = sum(splits.values())
    rejected = sum(_count_lines(p) for p in (staging / REJECTS_DIR).glob("*.jsonl"))
    ok = records_in == kept + rejected
    seconds = time.time() - t_start
    stats = {
        "records_in": records_in, "kept": kept, "rejected": rejected, "invariant_ok": ok,
        "splits": splits, "steps": [s.to_json() for s in step_stats], "wall_seconds": round(seconds, 3),
        "engine": engine, "workers": workers, "shards": len(shards), "resumed_shards": resumed, "files": files,
    }
    if recipe.split is not None and recipe.split.method == "hash":  # fractions are expected, not exact: show them
        stats["split"] = realised_fractions(recipe.split, splits)
    manifest = {
        "tool": "tuneprep", "version": __version__, "recipe": recipe.model_dump(mode="json"),
        "recipe_hash": recipe.hash(),
        "inputs": [{**fp, **plans[fp["path"]].to_json()} if fp["path"] in plans else fp
                   for fp in input_fingerprints(shards)],
        "libraries": _library_versions(),
        "counts": {"records_in": records_in, "kept": kept, "rejected": rejected, "splits": splits},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / STATS).write_text(json.dumps(stats, indent=2) + "\n")
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    # Read from the staged rejects (the same files): a URL output has no local copy after the upload.
    problems = guard.reject_fraction_problems(stats["steps"][k + 1:], recipe, staging / REJECTS_DIR)
    if kept == 0:
        problems.append(guard.nothing_kept(records_in, stats["steps"], staging / REJECTS_DIR))
    _commit(place, staging, wd)
    result = RunResult(place.result_dir, records_in, kept, rejected, stats["steps"], splits, seconds, resumed,
                       len(shards), ok, stats=stats)
    if not ok:
        raise RunError(f"accounting mismatch: {records_in} records in != {kept} kept + {rejected} rejected")
    if problems:
        raise RunError("\n".join(problems) + f"\n(outputs written to {place.target} for inspection)")
    return result


def _stop(place: OutputPlace, staging: Path, wd: WorkDir, steps: list[dict[str, Any]],
          files: list[dict[str, Any]], problems: list[str]) -> None:
    """End a run early: rejects and stats.json go in place for inspection, then RunError."""
    (staging / STATS).write_text(json.dumps({"stopped": problems, "steps": steps, "files": files}, indent=2) + "\n")
    place.publish(staging, (REJECTS_DIR,), (STATS,))
    shutil.rmtree(wd.path, ignore_errors=True)
    place.finished()
    raise RunError("\n".join(problems) + f"\n(rejects written to {place.show(REJECTS_DIR)} for inspection)")


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            n += chunk.count(b"\n")
    return n


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for lib in ("ftfy", "trafilatura", "orjson", "pydantic", "xxhash", "pyarrow", "charset-normalizer"):
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            pass
    return out
