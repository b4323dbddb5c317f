"""tuneprep vs datatrove 0.10.1: the same pipeline over the same real-text JSONL, same number of workers.

Pipeline: ftfy unicode repair → whitespace normalisation → keep docs with >= 5 words → exact dedup.

* tuneprep: ``tuneprep run recipe.yaml -w N`` (clean.unicode, clean.whitespace, filter.length,
  dedup.exact), writing kept data and one rejects line per dropped document.
* datatrove: three ``LocalPipelineExecutor`` stages with ``workers=N`` — (1) JsonlReader → FTFYFormatter →
  whitespace formatter → LambdaFilter(>= 5 words) → JsonlWriter → ExactDedupSignature, (2)
  ExactFindDedups, (3) JsonlReader → ExactDedupFilter → JsonlWriter. Writers uncompressed like tuneprep.

Equal work, step by step:

* ftfy: datatrove's FTFYFormatter is given exactly tuneprep's ``TextFixerConfig`` (ftfy defaults, except
  ``unescape_html=False`` and ``uncurl_quotes=False``; NFC). datatrove's own defaults differ (it turns off
  ligature/width/line-break fixes and normalisation), so they are set explicitly.
* whitespace: datatrove has no whitespace formatter; its formatter here calls tuneprep's
  ``clean.whitespace`` function, so both sides compute the same text.
* length: ``len(text.split()) >= 5`` on both sides.
* exact dedup: datatrove's content_getter is tuneprep's ``normalize_for_dedup`` (NFKC, casefold, whitespace
  collapsed), so both sides look for the same duplicates. Hashes differ (datatrove: 64-bit xxhash;
  tuneprep: 128-bit xxh3), which could only matter on a 64-bit collision.

Corpora (``--corpus``): **mixed** (``corpus.py --mixed``: 19.5 MB, 73,783 documents of real reviews,
tweets, headlines, speeches, chats in 28 languages, Chinese novels, instructions, model answers, web
pages and API documentation, 34.0 % of them with non-ASCII characters) and **ascii** (the
API-reference-heavy corpus of ``corpus.py``, 0.5 % non-ASCII; ``--ascii-files N`` takes its first N of 8
files, each holding the same mix, dealt again into 8 files so that datatrove still runs 8 tasks).

Both sides run from compiled bytecode (``compile_bytecode``: datatrove's wheel was compiled at ``pip
install``; tuneprep's editable install is compiled before the runs).

Runs are interleaved A-B-B-A: pair 1 runs tuneprep, datatrove, tuneprep with plain ftfy, the floor;
pair 2 the reverse order; and so on (``--pairs``, default 3). Reported: the median and range of the
per-pair ratios of whole-process wall times (interpreter start included), CPU seconds of all
processes, docs/s, peak RSS, and whether both sides kept the same documents (the set of dedup keys of
their kept documents; which copy of a duplicate survives may differ).

Where tuneprep's speed comes from: ``clean.unicode`` calls ftfy only on the lines ftfy could change
(ops/unicode_fast.py: the character sets derived from ftfy's tables, a windowed badness search,
``unicodedata.is_normalized``; byte-identical output). The **tuneprep-plain-ftfy** side is the same
CLI with ``clean.unicode`` calling ``ftfy.fix_text`` on every document: the ratio without the fast path.
The **floor** is the same corpus through read → JSON parse → hash (xxh3-128) → write only, with the same
number of worker processes: no pipeline can be faster. The **handwritten** side is the
pipeline's per-document work as one plain Python loop per file, with no engine: the functions
tuneprep's steps call per document (``clean.unicode``'s fixer, ``clean.whitespace``'s rule, the word
count, ``normalize_for_dedup`` + xxh3-128) and the same kept and reject lines (meta.source, the length
scores), with duplicates looked for within each file only and nothing else (no stats, no resumable
work files, no global barrier): what the per-document work itself costs in Python, a lower bound for
the pipeline; tuneprep's time above it is its engine's.

Each side runs as its own process tree; the harness polls the tree's memory (psutil, every 50 ms) and
reports the peak of the summed RSS of all its processes (an upper bound: pages shared after fork count
once per process) and the largest single process. The result file (``--result NAME`` →
benchmarks/results/NAME.json, via resultfile.py) records the command, commit and load average.

Usage::

    python benchmarks/corpus.py --mixed                          # build the mixed corpus once (~1 min)
    python benchmarks/pipeline_vs_datatrove.py --corpus mixed --pairs 3 --result pipeline_vs_datatrove_mixed
    python benchmarks/pipeline_vs_datatrove.py --corpus ascii --ascii-files 1 --ascii-docs 40000 --pairs 3 \\
        --result pipeline_vs_datatrove_ascii
    python benchmarks/pipeline_vs_datatrove.py --corpus ascii --pairs 3 --sides tuneprep,datatrove,floor,handwritten \\
        --result pipeline_vs_datatrove_ascii_full                 # the whole ASCII-heavy corpus (268 MB)
    python benchmarks/pipeline_vs_datatrove.py --corpus ascii --pairs 0 --no-extra --scaling 3 \\
        --result pipeline_scaling                                  # peak RSS vs input size
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MIN_WORDS = 5


# --- the datatrove side (runs in its own process: `--side datatrove`) ----------------------------------


def _long_enough(doc: Any) -> bool:
    return len(doc.text.split()) >= MIN_WORDS


def _dedup_key(doc: Any) -> bytes:
    from tuneprep.ops.text import normalize_for_dedup

    # bytes, as tuneprep hashes them: datatrove 0.10.1's xxhash path rejects str content.
    return normalize_for_dedup(doc.text).encode("utf-8", "surrogatepass")


# datatrove reads the getter's return annotation, which must be the type itself (this module's
# annotations are strings because of ``from __future__ import annotations``).
_dedup_key.__annotations__["return"] = bytes


def run_datatrove(inputs: Path, work: Path, workers: int, executor: str = "local") -> dict[str, Any]:
    """datatrove's three stages with ``LocalPipelineExecutor`` (``workers`` processes), or with
    ``executor="ray"`` its ``RayPipelineExecutor`` on the cluster at ``RAY_ADDRESS`` (one Ray task of
    one CPU per datatrove task, at most ``workers`` at once; used by benchmarks/engines.py)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.filters import LambdaFilter
    from datatrove.pipeline.formatters import FTFYFormatter
    from datatrove.pipeline.formatters.base import BaseFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from tuneprep.ops.clean import CleanWhitespace

    class WhitespaceFormatter(BaseFormatter):
        name = "whitespace (tuneprep clean.whitespace)"

        def __init__(self) -> None:
            super().__init__()
            self._op = CleanWhitespace()

        def format(self, text: str) -> str:
            return self._op._clean(text)

    n_files = len(list(inputs.glob("*.jsonl")))
    cfg = ExactDedupConfig(content_getter=_dedup_key)
    ftfy = FTFYFormatter(  # = tuneprep clean.unicode's TextFixerConfig (ftfy defaults but these two)
        unescape_html=False, uncurl_quotes=False, fix_latin_ligatures=True, fix_character_width=True,
        fix_line_breaks=True, normalization="NFC",
    )
    def stage(pipeline: list[Any], tasks: int, n_workers: int, logs: str) -> Any:
        if executor == "ray":
            from datatrove.executor.ray import RayPipelineExecutor

            return RayPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=n_workers,
                                       logging_dir=str(work / logs), mem_per_cpu_gb=1)
        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=n_workers,
                                     logging_dir=str(work / logs), start_method="fork")

    if executor == "ray":
        import ray

        ray.init(address=os.environ["RAY_ADDRESS"], logging_level="ERROR", log_to_driver=False)
    t0 = time.perf_counter()
    stage([
        JsonlReader(str(inputs), glob_pattern="*.jsonl"),
        ftfy,
        WhitespaceFormatter(),
        LambdaFilter(_long_enough),
        JsonlWriter(str(work / "filtered"), compression=None),
        ExactDedupSignature(output_folder=str(work / "sigs"), config=cfg),
    ], n_files, workers, "logs1").run()
    stage([ExactFindDedups(data_folder=str(work / "sigs"), output_folder=str(work / "dups"), config=cfg)],
          1, 1, "logs2").run()
    stage([
        JsonlReader(str(work / "filtered"), glob_pattern="*.jsonl"),
        ExactDedupFilter(data_folder=str(work / "dups"), config=cfg),
        JsonlWriter(str(work / "final"), compression=None),
    ], n_files, workers, "logs3").run()
    seconds = time.perf_counter() - t0
    kept = sum(_count_lines(p) for p in (work / "final").glob("*.jsonl"))
    after_filter = sum(_count_lines(p) for p in (work / "filtered").glob("*.jsonl"))
    return {"kept": kept, "after_length_filter": after_filter, "inner_seconds": seconds}


# --- the tuneprep side ---------------------------------------------------------------------------------


def recipe_yaml(inputs: Path, out: Path, dedup: bool = True) -> str:
    steps = ["  - op: clean.unicode", "  - op: clean.whitespace",
             f"  - op: filter.length\n    min_words: {MIN_WORDS}"]
    if dedup:
        steps.append("  - op: dedup.exact")
    # max_reject_fraction 1.0: the benchmark corpus is built with many duplicates; dropping them is the point.
    return (f"input:\n  path: {inputs}/*.jsonl\nsteps:\n" + "\n".join(steps)
            + f"\nmax_reject_fraction: 1.0\noutput:\n  path: {out}\n")


def tuneprep_cmd(recipe: Path, workers: int) -> list[str]:
    exe = Path(sys.executable).with_name("tuneprep")
    return [str(exe), "run", str(recipe), "-w", str(workers), "-q", "--fresh"]


# --- harness ---------------------------------------------------------------------------------------------


def _count_lines(p: Path) -> int:
    with open(p, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, peak summed RSS of its process tree and peak single-process RSS."""
    import psutil

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    n_procs = 1
    while proc.poll() is None:
        try:
            procs = [ps] + ps.children(recursive=True)
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            if rss:
                peak_tree = max(peak_tree, sum(rss))
                peak_one = max(peak_one, max(rss))
                n_procs = max(n_procs, len(rss))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of every process of the tree (each one is waited for by its parent): less sensitive than
    # wall time to other people's jobs on a shared machine.
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_tree_rss_mb": peak_tree / 2**20,
            "peak_process_rss_mb": peak_one / 2**20, "max_processes": n_procs, "output": out}


REPO = HERE.parent


def compile_bytecode() -> None:
    """Compile this checkout's tuneprep to ``__pycache__``, as datatrove's wheel was at ``pip install``.

    An editable install has no bytecode, and with PYTHONDONTWRITEBYTECODE set (as on this project's
    machines) every tuneprep process compiled its modules from source (about 0.08 s a run) while
    datatrove's came compiled: like for like, both sides start from bytecode.
    """
    import compileall

    compileall.compile_dir(str(REPO / "src" / "tuneprep"), quiet=1)


def _env() -> dict[str, str]:
    # This checkout's tuneprep, whatever the virtualenv's own install points to.
    return {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _kept_keys(paths: list[Path]) -> set[int]:
    """The dedup key hashes of kept documents: equal sets = the same documents kept (up to which copy)."""
    import orjson
    import xxhash

    from tuneprep.ops.text import normalize_for_dedup

    keys = set()
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                text = orjson.loads(line)["text"]
                keys.add(xxhash.xxh3_64_intdigest(normalize_for_dedup(text).encode("utf-8", "surrogatepass")))
    return keys


def bench_tuneprep(inputs: Path, work: Path, workers: int, dedup: bool = True, plain_ftfy: bool = False,
                   keys: bool = False) -> dict[str, Any]:
    out = work / "tuneprep-out"
    shutil.rmtree(out, ignore_errors=True)
    recipe = work / ("recipe.yaml" if dedup else "recipe-per-record.yaml")
    recipe.write_text(recipe_yaml(inputs, out, dedup))
    cmd = tuneprep_cmd(recipe, workers)
    if plain_ftfy:  # the same CLI, with clean.unicode calling ftfy.fix_text on every document
        cmd = [sys.executable, __file__, "--side", "tuneprep-plain-ftfy", "--", *cmd[1:]]
    r = measure(cmd, env=_env())
    stats = json.loads((out / "stats.json").read_text())
    r.update(records_in=stats["records_in"], kept=stats["kept"],
             after_length_filter=stats["steps"][3]["out"], steps=stats["steps"])
    if keys:
        r["kept_keys"] = _kept_keys(sorted((out / "data").glob("*.jsonl")))
    shutil.rmtree(out, ignore_errors=True)
    return r


def bench_datatrove(inputs: Path, work: Path, workers: int, keys: bool = False) -> dict[str, Any]:
    dt_work = work / "datatrove-work"
    shutil.rmtree(dt_work, ignore_errors=True)
    res_file = work / "datatrove-result.json"
    r = measure([sys.executable, __file__, "--side", "datatrove", "--inputs", str(inputs),
                 "--work", str(dt_work), "--workers", str(workers), "--result-file", str(res_file)], env=_env())
    r.update(json.loads(res_file.read_text()))
    if keys:
        r["kept_keys"] = _kept_keys(sorted((dt_work / "final").glob("*.jsonl")))
    shutil.rmtree(dt_work, ignore_errors=True)
    return r


# --- the floor: read -> JSON parse -> hash -> write, nothing else --------------------------------------


def _floor_file(args: tuple[str, str]) -> int:
    import orjson
    import xxhash

    src, dst = args
    n = 0
    with open(src, "rb") as fh, open(dst, "wb") as out:
        for line in fh:
            rec = orjson.loads(line)
            rec["h"] = xxhash.xxh3_128_hexdigest(rec["text"].encode("utf-8", "surrogatepass"))
            out.write(orjson.dumps(rec) + b"\n")
            n += 1
    return n


def run_floor(inputs: Path, work: Path, workers: int) -> int:
    from multiprocessing import get_context

    work.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(work / p.name)) for p in sorted(inputs.glob("*.jsonl"))]
    with get_context("fork").Pool(workers) as pool:
        return sum(pool.map(_floor_file, jobs, chunksize=1))


# --- hand-written: the pipeline's per-document work as one plain Python loop, no framework -------------


def _handwritten_file(args: tuple[str, str]) -> tuple[int, int]:
    """One file through the pipeline's per-document work as one plain loop, with no engine: the
    functions tuneprep's steps call per document (``clean.unicode``'s fixer, ``clean.whitespace``'s
    rule, the word count, ``normalize_for_dedup`` + xxh3-128), then the kept record with tuneprep's
    ``meta`` (source, length scores) or a reject line with the record, as tuneprep writes them.
    Duplicates are only looked for within this file, and nothing else is done (no stats, no work
    files, no barrier): the time bounds from below what the per-document work costs in Python."""
    import orjson
    import xxhash

    from tuneprep.ops.clean import CleanUnicode, CleanWhitespace
    from tuneprep.ops.text import normalize_for_dedup

    unicode_op = CleanUnicode()
    unicode_op.setup()
    fix, clean_ws = unicode_op.fix, CleanWhitespace()._clean
    digest = xxhash.xxh3_128_hexdigest
    src, dst = args
    seen: dict[str, str] = {}
    kept = n = 0
    with open(src, "rb") as fh, open(dst + ".kept", "wb") as out, open(dst + ".rejects", "wb") as rej:
        for n, line in enumerate(fh, 1):
            rec = orjson.loads(line)
            t = rec["text"] = clean_ws(fix(rec["text"]))
            words = len(t.split())
            where = f"{src}:{n}"
            rec["meta"] = {"source": where, "scores": {"filter.length": {"chars": len(t), "words": words}}}
            if words < MIN_WORDS:
                rej.write(orjson.dumps({"step": "filter.length", "reason": "too_few_words", "source": where,
                                        "detail": {"words": words, "min_words": MIN_WORDS}, "record": rec}) + b"\n")
                continue
            key = digest(normalize_for_dedup(t).encode("utf-8", "surrogatepass"))
            first = seen.get(key)
            if first is not None:
                rej.write(orjson.dumps({"step": "dedup.exact", "reason": "duplicate", "source": where,
                                        "duplicate_of": first, "record": rec}) + b"\n")
                continue
            seen[key] = rec.get("id", "")
            out.write(orjson.dumps(rec) + b"\n")
            kept += 1
    return kept, n


def run_handwritten(inputs: Path, work: Path, workers: int, result_file: Path) -> None:
    from multiprocessing import get_context

    work.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(work / p.name)) for p in sorted(inputs.glob("*.jsonl"))]
    with get_context("fork").Pool(workers) as pool:
        done = pool.map(_handwritten_file, jobs, chunksize=1)
    result_file.write_text(json.dumps({"kept_within_files": sum(k for k, _ in done)}))


def bench_handwritten(inputs: Path, work: Path, workers: int) -> dict[str, Any]:
    hw_work = work / "handwritten-work"
    shutil.rmtree(hw_work, ignore_errors=True)
    res_file = work / "handwritten-result.json"
    r = measure([sys.executable, __file__, "--side", "handwritten", "--inputs", str(inputs), "--work", str(hw_work),
                 "--workers", str(workers), "--result-file", str(res_file)], env=_env())
    r.update(json.loads(res_file.read_text()))
    shutil.rmtree(hw_work, ignore_errors=True)
    return r


def bench_floor(inputs: Path, work: Path, workers: int) -> dict[str, Any]:
    fl_work = work / "floor-work"
    shutil.rmtree(fl_work, ignore_errors=True)
    r = measure([sys.executable, __file__, "--side", "floor", "--inputs", str(inputs), "--work", str(fl_work),
                 "--workers", str(workers)], env=_env())
    shutil.rmtree(fl_work, ignore_errors=True)
    return r


def _load() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores"


SIDES = ("tuneprep", "datatrove", "tuneprep-plain-ftfy", "floor", "handwritten")


def bench_corpus(label: str, inputs: Path, work: Path, workers: int, pairs: int, sides: list[str]) -> dict[str, Any]:
    """Interleaved runs A-B-B-A of ``sides`` (tuneprep and datatrove, optionally tuneprep with plain
    ftfy and the floor), ``pairs`` times; medians, ranges, kept-document check."""
    files = sorted(inputs.glob("*.jsonl"))
    n_docs = sum(_count_lines(f) for f in files)
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    runs: list[dict[str, Any]] = []
    keys: dict[str, set[int]] = {}
    print(f"\n== corpus {label}: {len(files)} files, {size_mb:,.1f} MB, {n_docs:,} docs ==")
    for i in range(pairs):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            load_before = os.getloadavg()[0]
            want_keys = i == 0 and side in ("tuneprep", "datatrove")
            if side == "tuneprep":
                r = bench_tuneprep(inputs, work, workers, keys=want_keys)
            elif side == "tuneprep-plain-ftfy":
                r = bench_tuneprep(inputs, work, workers, plain_ftfy=True)
            elif side == "datatrove":
                r = bench_datatrove(inputs, work, workers, keys=want_keys)
            elif side == "handwritten":
                r = bench_handwritten(inputs, work, workers)
            else:
                r = bench_floor(inputs, work, workers)
            if "kept_keys" in r:
                keys[side] = r.pop("kept_keys")
            r.pop("output", None)
            r.pop("steps", None)
            r.update(side=side, pair=i + 1, docs_per_s=n_docs / r["seconds"], load_before=round(load_before, 2))
            runs.append(r)
            kept = f"kept {r['kept']:,} (after length filter {r['after_length_filter']:,})  " if "kept" in r else ""
            print(f"  pair {i + 1} {side:20s} {r['seconds']:7.1f} s (CPU {r['cpu_seconds']:6.1f} s) "
                  f"{r['docs_per_s']:9,.0f} docs/s  {kept}peak RSS tree {r['peak_tree_rss_mb']:,.0f} MB / "
                  f"largest {r['peak_process_rss_mb']:,.0f} MB  [load {load_before:.2f}]", flush=True)

    def col(side: str, key: str) -> list[float]:
        return [r[key] for r in runs if r["side"] == side]

    summary: dict[str, Any] = {"corpus": label, "files": len(files), "input_mb": round(size_mb, 1),
                               "input_docs": n_docs, "workers": workers, "pairs": pairs, "sides": {}}
    for side in sides:
        secs = col(side, "seconds")
        summary["sides"][side] = {
            "wall_s_median": round(statistics.median(secs), 2), "wall_s_range": [round(min(secs), 2), round(max(secs), 2)],
            "cpu_s_median": round(statistics.median(col(side, "cpu_seconds")), 2),
            "docs_per_s_median": round(n_docs / statistics.median(secs)),
            "peak_tree_rss_mb_max": round(max(col(side, "peak_tree_rss_mb"))),
            "peak_process_rss_mb_max": round(max(col(side, "peak_process_rss_mb"))),
            **({"kept": sorted(set(col(side, "kept"))), "after_length_filter": sorted(set(col(side, "after_length_filter")))}
               if side not in ("floor", "handwritten") else {}),
            **({"kept_within_files": sorted(set(col(side, "kept_within_files")))} if side == "handwritten" else {}),
        }
    tp, dt = col("tuneprep", "seconds"), col("datatrove", "seconds")
    # Per pair: each pair ran side by side under (about) the same load.
    per_pair = [d / t for t, d in zip(tp, dt, strict=True)]
    summary["ratio_vs_datatrove"] = {"median": round(statistics.median(per_pair), 2),
                                     "range": [round(min(per_pair), 2), round(max(per_pair), 2)],
                                     "per_pair": [round(x, 2) for x in per_pair],
                                     "cpu_median": round(statistics.median(col("datatrove", "cpu_seconds"))
                                                         / statistics.median(col("tuneprep", "cpu_seconds")), 2)}
    plain, floor = col("tuneprep-plain-ftfy", "seconds"), col("floor", "seconds")
    hand = col("handwritten", "seconds")
    if plain:
        summary["ratio_vs_datatrove_without_fast_path"] = {
            "median": round(statistics.median([d / p for p, d in zip(plain, dt, strict=True)]), 2),
            "per_pair": [round(d / p, 2) for p, d in zip(plain, dt, strict=True)]}
    if floor:
        summary["times_the_floor"] = {"median": round(statistics.median([t / f for t, f in zip(tp, floor, strict=True)]), 2),
                                      "per_pair": [round(t / f, 2) for t, f in zip(tp, floor, strict=True)]}
    if hand and floor:
        summary["handwritten_times_the_floor"] = {
            "median": round(statistics.median([h / f for h, f in zip(hand, floor, strict=True)]), 2),
            "per_pair": [round(h / f, 2) for h, f in zip(hand, floor, strict=True)]}
        summary["tuneprep_times_handwritten"] = {
            "median": round(statistics.median([t / h for t, h in zip(tp, hand, strict=True)]), 2),
            "per_pair": [round(t / h, 2) for t, h in zip(tp, hand, strict=True)]}
    if "tuneprep" in keys and "datatrove" in keys:
        summary["same_documents_kept"] = keys["tuneprep"] == keys["datatrove"]
        summary["kept_keys_only_tuneprep"] = len(keys["tuneprep"] - keys["datatrove"])
        summary["kept_keys_only_datatrove"] = len(keys["datatrove"] - keys["tuneprep"])
    summary["load_before_runs"] = [r["load_before"] for r in runs]
    summary["runs"] = runs
    rv = summary["ratio_vs_datatrove"]
    print(f"  -> tuneprep / datatrove: median {rv['median']:.2f}x (range {rv['range'][0]:.2f}-{rv['range'][1]:.2f}, "
          f"{pairs} interleaved pairs; CPU seconds {rv['cpu_median']:.2f}x)")
    if plain:
        print(f"  -> without the unicode fast path: {summary['ratio_vs_datatrove_without_fast_path']['median']:.2f}x")
    if floor:
        print(f"  -> tuneprep = {summary['times_the_floor']['median']:.2f}x the floor (read, parse, hash, write)")
    if "handwritten_times_the_floor" in summary:
        print(f"  -> hand-written loop = {summary['handwritten_times_the_floor']['median']:.2f}x the floor; "
              f"tuneprep = {summary['tuneprep_times_handwritten']['median']:.2f}x the hand-written loop")
    if "same_documents_kept" in summary:
        print(f"  -> same documents kept (dedup keys): {summary['same_documents_kept']}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", choices=["mixed", "ascii", "both"], default="both",
                    help="mixed: 34%% non-ASCII real text (corpus.py --mixed); ascii: the API-reference-heavy corpus")
    ap.add_argument("--ascii-files", type=int, default=8, help="how many of the ASCII-heavy corpus' 8 files to use")
    ap.add_argument("--ascii-docs", type=int, default=0, help="only the first N documents of those files")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved A-B-B-A pairs per corpus")
    ap.add_argument("--no-extra", action="store_true", help="skip the plain-ftfy tuneprep runs and the floor")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help="comma-separated sides to run (tuneprep and datatrove always; e.g. tuneprep,datatrove,floor "
                         "on the whole ASCII-heavy corpus, where a plain-ftfy run adds minutes)")
    ap.add_argument("--scaling", type=int, default=0,
                    help="also run the per-record recipe on the ASCII corpus and on it repeated N times")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: cache/bench/work)")
    ap.add_argument("--result", default="pipeline_vs_datatrove", help="result file name (benchmarks/results/NAME.json)")
    ap.add_argument("--side", choices=["datatrove", "floor", "handwritten", "tuneprep-plain-ftfy"], help=argparse.SUPPRESS)
    ap.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result-file", dest="result_file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--executor", choices=["local", "ray"], default="local", help=argparse.SUPPRESS)
    a, rest = ap.parse_known_args()

    if a.side == "datatrove":
        res = run_datatrove(a.inputs, a.work, a.workers, a.executor)
        a.result_file.write_text(json.dumps(res))
        return
    if a.side == "floor":
        run_floor(a.inputs, a.work, a.workers)
        return
    if a.side == "handwritten":
        run_handwritten(a.inputs, a.work, a.workers, a.result_file)
        return
    if a.side == "tuneprep-plain-ftfy":
        import ftfy

        from tuneprep.cli import main as cli_main
        from tuneprep.ops.unicode_fast import UnicodeFixer

        UnicodeFixer.fix = lambda self, text: ftfy.fix_text(text, self.config)  # type: ignore[method-assign]
        UnicodeFixer.unchanged_whole = lambda self, text: False  # type: ignore[method-assign]
        sys.argv = ["tuneprep", *[x for x in rest if x != "--"]]
        cli_main()
        return

    import corpus
    from resultfile import Measurement

    sides = [x for x in SIDES if x in a.sides.split(",") and not (a.no_extra and x not in SIDES[:2])]
    if not {"tuneprep", "datatrove"} <= set(sides):
        ap.error("--sides must include tuneprep and datatrove")
    m = Measurement(a.result, libraries=["datatrove", "ftfy", "orjson", "xxhash"])
    compile_bytecode()
    results: dict[str, Any] = {"corpora": [], "bytecode": "compiled for both sides"}
    work_root = a.work
    if a.corpus in ("mixed", "both"):
        files = corpus.build_mixed()
        print("mixed corpus:", corpus.describe(files))
        work = work_root or files[0].parent.parent / "work"
        work.mkdir(parents=True, exist_ok=True)
        if a.pairs:
            results["corpora"].append(bench_corpus("mixed", files[0].parent, work, a.workers, a.pairs, sides))
    if a.corpus in ("ascii", "both"):
        files = corpus.build()
        print("ASCII-heavy corpus:", corpus.describe(files))
        inputs = files[0].parent
        if a.ascii_files < len(files) or a.ascii_docs:
            # A slice: the first N files (each holds the same mix), or their first N documents, dealt
            # again into as many files as the whole corpus has, so that datatrove (which splits work
            # by file) still gets 8 tasks.
            label = f"{a.ascii_docs}docs" if a.ascii_docs else str(a.ascii_files)
            inputs = files[0].parent.parent / f"real-text-slice{label}"
            if not (inputs / "DONE").exists():
                inputs.mkdir(exist_ok=True)
                outs = [open(inputs / f.name, "wb") for f in files]  # noqa: SIM115 - closed below
                i = 0
                for f in files[: a.ascii_files]:
                    with open(f, "rb") as fh:
                        for line in fh:
                            if a.ascii_docs and i >= a.ascii_docs:
                                break
                            outs[i % len(outs)].write(line)
                            i += 1
                for o in outs:
                    o.close()
                (inputs / "DONE").write_text("ok\n")
        work = work_root or files[0].parent.parent / "work"
        work.mkdir(parents=True, exist_ok=True)
        if a.pairs:
            results["corpora"].append(bench_corpus(
                f"ascii-heavy ({f'first {a.ascii_docs:,} documents' if a.ascii_docs else f'{a.ascii_files} of {len(files)} files'})",
                inputs,
                                                   work, a.workers, a.pairs, sides))
        if a.scaling:
            results["scaling"] = scaling(files, work, a.workers, a.scaling)
    m.write(results)


def scaling(files: list[Path], work: Path, workers: int, times: int) -> list[dict[str, Any]]:
    """The per-record recipe and the full one (with the exact dedup) on the corpus and on it
    repeated ``times`` times with distinct texts (``corpus.repeat(distinct=True)``: the dedup holds
    ``times`` as many distinct keys): is peak RSS flat with input size?"""
    import corpus

    rep = corpus.repeat(files, times, distinct=True)
    out = []
    for dedup in (False, True):
        for label, inp in (("1x", files[0].parent), (f"{times}x", rep[0].parent)):
            size = sum(p.stat().st_size for p in inp.glob("*.jsonl")) / 1e6
            load_before = _load()
            r = bench_tuneprep(inp, work, workers, dedup=dedup)
            r.pop("output", None)
            r.pop("steps", None)
            recipe = "with dedup.exact" if dedup else "per-record"
            r.update(input=label, recipe=recipe, input_mb=size, load_before=load_before,
                     docs_per_s=r["records_in"] / r["seconds"])
            out.append(r)
            print(f"  {recipe} recipe, {label} input ({size:,.0f} MB, {r['records_in']:,} docs, {r['kept']:,} kept): "
                  f"{r['seconds']:.1f} s (CPU {r['cpu_seconds']:.1f} s), {r['docs_per_s']:,.0f} docs/s, "
                  f"peak RSS tree {r['peak_tree_rss_mb']:,.0f} MB"
                  f" / largest process {r['peak_process_rss_mb']:,.0f} MB  [{load_before}]", flush=True)
    return out


if __name__ == "__main__":
    main()
