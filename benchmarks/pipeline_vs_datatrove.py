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

Each side runs as its own process tree; the harness polls the tree's memory (psutil, every 50 ms) and
reports the peak of the summed RSS of all its processes (an upper bound: pages shared after fork count
once per process) and the largest single process.

Usage::

    python benchmarks/pipeline_vs_datatrove.py                 # both sides, twice each, on the 200+ MB corpus
    python benchmarks/pipeline_vs_datatrove.py --scaling 5     # + per-record recipe RSS at 1x vs 5x input
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def run_datatrove(inputs: Path, work: Path, workers: int) -> dict[str, Any]:
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
    t0 = time.perf_counter()
    stage1 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(inputs), glob_pattern="*.jsonl"),
            ftfy,
            WhitespaceFormatter(),
            LambdaFilter(_long_enough),
            JsonlWriter(str(work / "filtered"), compression=None),
            ExactDedupSignature(output_folder=str(work / "sigs"), config=cfg),
        ],
        tasks=n_files, workers=workers, logging_dir=str(work / "logs1"), start_method="fork",
    )
    stage1.run()
    stage2 = LocalPipelineExecutor(
        pipeline=[ExactFindDedups(data_folder=str(work / "sigs"), output_folder=str(work / "dups"), config=cfg)],
        tasks=1, workers=1, logging_dir=str(work / "logs2"), start_method="fork",
    )
    stage2.run()
    stage3 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(work / "filtered"), glob_pattern="*.jsonl"),
            ExactDedupFilter(data_folder=str(work / "dups"), config=cfg),
            JsonlWriter(str(work / "final"), compression=None),
        ],
        tasks=n_files, workers=workers, logging_dir=str(work / "logs3"), start_method="fork",
    )
    stage3.run()
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


def bench_tuneprep(inputs: Path, work: Path, workers: int, dedup: bool = True) -> dict[str, Any]:
    out = work / "tuneprep-out"
    shutil.rmtree(out, ignore_errors=True)
    recipe = work / ("recipe.yaml" if dedup else "recipe-per-record.yaml")
    recipe.write_text(recipe_yaml(inputs, out, dedup))
    r = measure(tuneprep_cmd(recipe, workers))
    stats = json.loads((out / "stats.json").read_text())
    r.update(records_in=stats["records_in"], kept=stats["kept"],
             after_length_filter=stats["steps"][3]["out"], steps=stats["steps"])
    shutil.rmtree(out, ignore_errors=True)
    return r


def bench_datatrove(inputs: Path, work: Path, workers: int) -> dict[str, Any]:
    dt_work = work / "datatrove-work"
    shutil.rmtree(dt_work, ignore_errors=True)
    res_file = work / "datatrove-result.json"
    r = measure([sys.executable, __file__, "--side", "datatrove", "--inputs", str(inputs),
                 "--work", str(dt_work), "--workers", str(workers), "--result", str(res_file)])
    r.update(json.loads(res_file.read_text()))
    shutil.rmtree(dt_work, ignore_errors=True)
    return r


def _load() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2, help="runs per side (alternating)")
    ap.add_argument("--scaling", type=int, default=0,
                    help="also run the per-record recipe on the corpus and on the corpus repeated N times")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: cache/bench/work)")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--side", choices=["datatrove"], help=argparse.SUPPRESS)
    ap.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.side == "datatrove":
        res = run_datatrove(a.inputs, a.work, a.workers)
        a.result.write_text(json.dumps(res))
        return

    from importlib.metadata import version

    import corpus

    files = corpus.build()
    inputs = files[0].parent
    print("corpus:", corpus.describe(files))
    work = a.work or inputs.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    n_docs = sum(_count_lines(f) for f in files)
    print(f"\ntuneprep {version('tuneprep')} vs datatrove {version('datatrove')} (ftfy {version('ftfy')}), "
          f"{a.workers} workers each, {n_docs:,} input docs")
    results: dict[str, Any] = {"input_docs": n_docs, "input_mb": sum(f.stat().st_size for f in files) / 1e6,
                               "workers": a.workers, "runs": []}
    for i in range(a.runs):
        for side in ("tuneprep", "datatrove"):
            load_before = _load()
            r = (bench_tuneprep if side == "tuneprep" else bench_datatrove)(inputs, work, a.workers)
            r.pop("output", None)
            r.update(side=side, run=i + 1, docs_per_s=n_docs / r["seconds"], load_before=load_before)
            results["runs"].append(r)
            print(f"  run {i + 1} {side:9s} {r['seconds']:7.1f} s (CPU {r['cpu_seconds']:6.1f} s)  "
                  f"{r['docs_per_s']:9,.0f} docs/s  "
                  f"kept {r['kept']:,} (after length filter {r['after_length_filter']:,})  "
                  f"peak RSS tree {r['peak_tree_rss_mb']:,.0f} MB / largest process {r['peak_process_rss_mb']:,.0f} MB"
                  f"  [{load_before}]")

    if results["runs"]:  # --runs 0: only the memory-scaling check
        def best(side: str) -> dict[str, Any]:
            return min((r for r in results["runs"] if r["side"] == side), key=lambda r: r["seconds"])

        tp, dt = best("tuneprep"), best("datatrove")
        results["ratio_best"] = tp["docs_per_s"] / dt["docs_per_s"]
        print(f"\nbest of {a.runs}: tuneprep {tp['docs_per_s']:,.0f} docs/s, datatrove {dt['docs_per_s']:,.0f} docs/s, "
              f"ratio {results['ratio_best']:.2f}x")
        cpu_tp = min(r["cpu_seconds"] for r in results["runs"] if r["side"] == "tuneprep")
        cpu_dt = min(r["cpu_seconds"] for r in results["runs"] if r["side"] == "datatrove")
        print(f"CPU seconds (all processes, best of {a.runs}): tuneprep {cpu_tp:.1f}, datatrove {cpu_dt:.1f}, "
              f"ratio {cpu_dt / cpu_tp:.2f}x")
        print(f"docs kept: tuneprep {tp['kept']:,}, datatrove {dt['kept']:,} (difference {tp['kept'] - dt['kept']:+,})")

    if a.scaling:
        rep = corpus.repeat(files, a.scaling)
        results["scaling"] = []
        for label, inp in (("1x", inputs), (f"{a.scaling}x", rep[0].parent)):
            size = sum(p.stat().st_size for p in inp.glob("*.jsonl")) / 1e6
            load_before = _load()
            r = bench_tuneprep(inp, work, a.workers, dedup=False)
            r.pop("output", None)
            r.update(input=label, input_mb=size, load_before=load_before, docs_per_s=r["records_in"] / r["seconds"])
            r.pop("steps", None)
            results["scaling"].append(r)
            print(f"  per-record recipe, {label} input ({size:,.0f} MB, {r['records_in']:,} docs): "
                  f"{r['seconds']:.1f} s (CPU {r['cpu_seconds']:.1f} s), {r['docs_per_s']:,.0f} docs/s, "
                  f"peak RSS tree {r['peak_tree_rss_mb']:,.0f} MB"
                  f" / largest process {r['peak_process_rss_mb']:,.0f} MB  [{load_before}]")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
