"""The overhead of the Ray engine: the same recipe, local engine vs Ray engine, on one machine.

Corpus: the pipeline benchmark's mixed corpus (``corpus.py --mixed``: real reviews, tweets,
headlines, chats, web pages... 34 % non-ASCII), its first ``--files`` files of 8; or, with
``--corpus ascii``, its ASCII-heavy corpus (268 MB, 1.2 M documents in 8 files), where the fixed
costs of a Ray run weigh less. Recipe: the
pipeline benchmark's (clean.unicode, clean.whitespace, filter.length >= 5 words, dedup.exact),
written by ``pipeline_vs_datatrove.recipe_yaml``.

* local: ``tuneprep run recipe.yaml -w 2 --engine local``;
* ray: ``tuneprep run recipe.yaml --engine ray`` with ``RAY_ADDRESS`` pointing at a Ray cluster of
  one node with 2 CPUs and a 2 GB object store (``--object-store-mb``) started beforehand with
  ``ray start`` (a standing cluster, as a user has one; its start-up time is reported apart). Phase A
  and the exact dedup run on the cluster, as Ray tasks over the work directory (the node shares it:
  docs/scaling.md, "Two exchanges");
* datatrove-ray (``--datatrove``): the pipeline benchmark's datatrove pipeline (the same work: the
  same ftfy configuration, whitespace rule, word filter and duplicate key) through datatrove's
  ``RayPipelineExecutor`` on the same cluster; its kept documents are compared with tuneprep's by
  their dedup keys (the first run of each side).

Runs alternate A-B-B-A (``--pairs``; with datatrove A-B-C-C-B-A). Reported per side: the median whole-process wall time
(interpreter start and, for Ray, connecting to the cluster included), docs/s, and the peak summed
RSS — of the ``tuneprep`` process tree, and for Ray also of every process of the cluster (its
raylet, GCS, workers and object store); the ratio Ray / local of the wall times per pair (target
<= 1.5) and whether both sides wrote identical data and rejects files. The load average is
recorded before and after (the machine is shared).

Usage::

    python benchmarks/engines.py --files 8 --pairs 3 --datatrove --result engines
    python benchmarks/engines.py --corpus ascii --files 8 --pairs 3 --datatrove --result engines_ascii
    python benchmarks/engines.py --corpus ascii --files 8 --pairs 3 --node-scaling --result engines_nodes

``--node-scaling`` runs the Ray engine alone, on a cluster of one node of 1 CPU and on one of two
nodes of 1 CPU each (both on this 2-core machine, started with ``ray start`` as the tests start
theirs): the speed-up from the second node, with the work spread by Ray's scheduler over both.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import build, build_mixed, describe  # noqa: E402
from pipeline_vs_datatrove import _env, _kept_keys, _load, recipe_yaml  # noqa: E402
from resultfile import Measurement  # noqa: E402

RAY = str(Path(sys.executable).with_name("ray"))
TUNEPREP = str(Path(sys.executable).with_name("tuneprep"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A `ray start --head` node with ``cpus`` CPUs, plus ``nodes - 1`` worker nodes of ``cpus`` CPUs
    each on this machine (each with its own temp dir and ports, as tests/engine/raycluster.py
    starts them; the object store is split between the nodes); stopped by killing its own
    processes only."""

    def __init__(self, cpus: int, object_store_mb: int = 2048, nodes: int = 1):
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        self.env = {**_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.tmps: list[str] = []
        t0 = time.perf_counter()
        for n in range(nodes):
            tmp = tempfile.mkdtemp(prefix="tpbench", dir="/tmp")
            self.tmps.append(tmp)
            args = [RAY, "start", f"--num-cpus={cpus}", f"--temp-dir={tmp}",
                    f"--object-store-memory={object_store_mb // nodes * 2**20}", "--disable-usage-stats",
                    f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                    f"--runtime-env-agent-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}"]
            if n == 0:
                args += ["--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={_free_port()}"]
            else:
                base = 20000 + secrets.randbelow(400) * 100
                args += [f"--address={self.address}", f"--min-worker-port={base}", f"--max-worker-port={base + 99}",
                         f"--node-manager-port={_free_port()}", f"--object-manager-port={_free_port()}"]
            subprocess.run(args, env=self.env, check=True, capture_output=True)
        self.start_seconds = time.perf_counter() - t0

    def processes(self) -> list[Any]:
        import psutil

        found = [p for p in psutil.process_iter(["cmdline"])
                 if any(t in " ".join(p.info["cmdline"] or []) for t in self.tmps)]
        for p in list(found):
            try:
                found.extend(p.children(recursive=True))
            except psutil.Error:
                pass
        return list({p.pid: p for p in found}.values())

    def stop(self) -> None:
        import psutil

        procs = self.processes()
        for p in procs:
            try:
                p.terminate()
            except psutil.Error:
                pass
        for p in psutil.wait_procs(procs, timeout=10)[1]:
            p.kill()
        for t in self.tmps:
            shutil.rmtree(t, ignore_errors=True)


def measure(cmd: list[str], env: dict[str, str], cluster: Cluster | None) -> dict[str, Any]:
    """Wall seconds and the peak summed RSS of the command's tree (plus the cluster's processes)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    peak = peak_driver = 0
    while proc.poll() is None:
        try:
            driver = [root] + root.children(recursive=True)
        except psutil.Error:
            driver = []
        others = cluster.processes() if cluster is not None else []
        rss_driver = rss_all = 0
        for group, is_driver in ((driver, True), (others, False)):
            for p in group:
                try:
                    r = p.memory_info().rss
                except psutil.Error:
                    continue
                rss_all += r
                rss_driver += r if is_driver else 0
        peak, peak_driver = max(peak, rss_all), max(peak_driver, rss_driver)
        time.sleep(0.1)
    out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak / 2**20,
            "peak_driver_rss_mb": peak_driver / 2**20}


def _digest(out: Path) -> str:
    """One hash of every data and rejects file (name and bytes)."""
    h = hashlib.sha256()
    for p in sorted(out.rglob("*.jsonl")):
        h.update(str(p.relative_to(out)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def run_datatrove_ray(inputs: Path, work: Path, cluster: Cluster, workers: int, keys: bool) -> dict[str, Any]:
    """datatrove's pipeline of the pipeline benchmark (the same work as the recipe) through its
    ``RayPipelineExecutor`` on the same cluster."""
    import json

    dt_work = work / "datatrove-ray"
    shutil.rmtree(dt_work, ignore_errors=True)
    res_file = work / "datatrove-ray.json"
    cmd = [sys.executable, str(HERE / "pipeline_vs_datatrove.py"), "--side", "datatrove", "--executor", "ray",
           "--inputs", str(inputs), "--work", str(dt_work), "--workers", str(workers), "--result-file", str(res_file)]
    r = measure(cmd, {**cluster.env, "RAY_ADDRESS": cluster.address}, cluster)
    res = json.loads(res_file.read_text())
    r.update(kept=res["kept"], docs_per_s=None)
    if keys:
        r["kept_keys"] = _kept_keys(sorted((dt_work / "final").glob("*.jsonl")))
    shutil.rmtree(dt_work, ignore_errors=True)
    return r


def run_side(side: str, inputs: Path, work: Path, cluster: Cluster, workers: int, keys: bool = False) -> dict[str, Any]:
    import json

    if side == "datatrove-ray":
        return run_datatrove_ray(inputs, work, cluster, workers, keys)
    out = work / f"out-{side}"
    shutil.rmtree(out, ignore_errors=True)
    recipe = work / "recipe.yaml"
    recipe.write_text(recipe_yaml(inputs, out))
    cmd = [TUNEPREP, "run", str(recipe), "-q", "--fresh", "--engine", side]
    if side == "local":
        r = measure(cmd + ["-w", str(workers)], _env(), None)
    else:
        r = measure(cmd, {**cluster.env, "RAY_ADDRESS": cluster.address}, cluster)
    stats = json.loads((out / "stats.json").read_text())
    r.update(records_in=stats["records_in"], kept=stats["kept"], digest=_digest(out),
             docs_per_s=stats["records_in"] / r["seconds"])
    if keys:
        r["kept_keys"] = _kept_keys(sorted((out / "data").glob("*.jsonl")))
    shutil.rmtree(out, ignore_errors=True)
    return r


def _corpus_line(files: list[Path], corpus: str) -> str:
    """The files used (``corpus.describe`` counts the documents of the whole corpus, all 8 files)."""
    mb = sum(f.stat().st_size for f in files) / 1e6
    return f"first {len(files)} of 8 files of the {corpus} corpus ({describe(files).splitlines()[0]}): {mb:.1f} MB"


def node_scaling(a: argparse.Namespace, files: list[Path], inputs: Path, work: Path, meas: Measurement) -> None:
    """The same recipe through the Ray engine on 1 node of 1 CPU and on 2 nodes of 1 CPU each (both
    on this machine, so the nodes share the work directory): A-B-B-A, the wall-time speed-up."""
    clusters = {"1 node": Cluster(1, a.object_store_mb, 1), "2 nodes": Cluster(1, a.object_store_mb, 2)}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in clusters}
    try:
        for i in range(a.pairs):
            for name in list(clusters) if i % 2 == 0 else list(clusters)[::-1]:
                r = run_side("ray", inputs, work, clusters[name], 1)
                runs[name].append(r)
                print(f"{name}: {r['seconds']:.1f} s, {r['kept']:,} kept | {_load()}", flush=True)
    finally:
        for c in clusters.values():
            c.stop()
        shutil.rmtree(work, ignore_errors=True)
    speedups = [r1["seconds"] / r2["seconds"] for r1, r2 in zip(runs["1 node"], runs["2 nodes"], strict=True)]
    figures: dict[str, Any] = {
        "corpus": _corpus_line(files, a.corpus), "documents": runs["1 node"][0]["records_in"], "pairs": a.pairs,
        "cpus_per_node": 1,
        "speedup_2_nodes": {"median": round(statistics.median(speedups), 3), "all": [round(x, 3) for x in speedups]},
        "identical_outputs": len({r["digest"] for rs in runs.values() for r in rs}) == 1,
    }
    for name, rs in runs.items():
        figures[name] = {"wall_seconds_median": round(statistics.median(r["seconds"] for r in rs), 2),
                         "docs_per_s_median": round(statistics.median(r["docs_per_s"] for r in rs)),
                         "kept": rs[0]["kept"]}
    print(f"2 nodes vs 1 node (1 CPU each): {figures['speedup_2_nodes']['median']:.2f}x faster; "
          f"identical outputs: {figures['identical_outputs']}")
    if a.result:
        meas.write(figures)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", choices=["mixed", "ascii"], default="mixed",
                    help="the pipeline benchmark's mixed corpus (19.5 MB) or its ASCII-heavy one (268 MB)")
    ap.add_argument("--files", type=int, default=4, help="first N of the corpus's 8 files")
    ap.add_argument("--pairs", type=int, default=1, help="A-B-B-A pairs")
    ap.add_argument("--workers", type=int, default=2, help="local workers = Ray CPUs")
    ap.add_argument("--object-store-mb", type=int, default=2048,
                    help="the cluster's object store (Ray's own default is 30 %% of the memory; with 512 MB "
                         "the 268 MB corpus spills to disk)")
    ap.add_argument("--datatrove", action="store_true",
                    help="also run datatrove's pipeline (the pipeline benchmark's) with its RayPipelineExecutor")
    ap.add_argument("--result", default=None, help="write benchmarks/results/NAME.json")
    ap.add_argument("--node-scaling", action="store_true",
                    help="instead: the Ray engine on a cluster of 1 node of 1 CPU vs 2 nodes of 1 CPU each")
    a = ap.parse_args()
    meas = Measurement(a.result or "engines", ["ray", "pyarrow", "ftfy"])
    files = (build_mixed() if a.corpus == "mixed" else build())[: a.files]
    work = Path(tempfile.mkdtemp(prefix="tpengines"))
    inputs = work / "in"
    inputs.mkdir()
    for f in files:
        os.symlink(f, inputs / f.name)
    print(_corpus_line(files, a.corpus), "|", _load(), flush=True)
    if a.node_scaling:
        node_scaling(a, files, inputs, work, meas)
        return
    cluster = Cluster(a.workers, a.object_store_mb)
    print(f"ray cluster started in {cluster.start_seconds:.1f} s", flush=True)
    sides = ("local", "ray", "datatrove-ray") if a.datatrove else ("local", "ray")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    try:
        for i in range(a.pairs):
            for side in sides if i % 2 == 0 else sides[::-1]:
                # The kept documents' keys once per side: datatrove's files differ in format, not in documents.
                r = run_side(side, inputs, work, cluster, a.workers, keys=a.datatrove and i == 0)
                runs[side].append(r)
                if r["docs_per_s"] is None:
                    r["docs_per_s"] = runs["local"][0]["records_in"] / r["seconds"] if runs["local"] else 0.0
                print(f"{side}: {r['seconds']:.1f} s, {r['kept']:,} kept, peak RSS "
                      f"{r['peak_rss_mb']:,.0f} MB (driver tree {r['peak_driver_rss_mb']:,.0f} MB) | {_load()}",
                      flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    ratios = [rr["seconds"] / rl["seconds"] for rl, rr in zip(runs["local"], runs["ray"], strict=True)]
    same = all(r["digest"] == runs["local"][0]["digest"] for side in ("local", "ray") for r in runs[side])
    figures: dict[str, Any] = {
        "corpus": _corpus_line(files, a.corpus), "documents": runs["local"][0]["records_in"], "workers": a.workers,
        "pairs": a.pairs, "ray_cluster_start_seconds": round(cluster.start_seconds, 1),
        "object_store_mb": a.object_store_mb,
        "ray_over_local_wall": {"median": round(statistics.median(ratios), 3), "all": [round(x, 3) for x in ratios],
                                "target": 1.5},
        "identical_outputs": same,
    }
    if a.datatrove:
        dt = [rd["seconds"] / rr["seconds"] for rr, rd in zip(runs["ray"], runs["datatrove-ray"], strict=True)]
        figures["datatrove_ray_over_tuneprep_ray_wall"] = {"median": round(statistics.median(dt), 3),
                                                          "all": [round(x, 3) for x in dt]}
        figures["datatrove_same_documents_kept"] = runs["datatrove-ray"][0]["kept_keys"] == runs["local"][0]["kept_keys"]
    for rs in runs.values():
        for r in rs:
            r.pop("kept_keys", None)
    for side, rs in runs.items():
        figures[side] = {
            "wall_seconds_median": round(statistics.median(r["seconds"] for r in rs), 2),
            "docs_per_s_median": round(statistics.median(r["docs_per_s"] for r in rs)),
            "peak_rss_mb_max": round(max(r["peak_rss_mb"] for r in rs)),
            "peak_driver_tree_rss_mb_max": round(max(r["peak_driver_rss_mb"] for r in rs)),
            "kept": rs[0]["kept"],
        }
    print(f"ray / local wall time: median {figures['ray_over_local_wall']['median']:.2f}x "
          f"(target <= 1.5); identical outputs: {same}")
    if a.datatrove:
        print(f"datatrove on Ray / tuneprep on Ray: median {figures['datatrove_ray_over_tuneprep_ray_wall']['median']:.2f}x;"
              f" the same documents kept: {figures['datatrove_same_documents_kept']}")
    if a.result:
        meas.write(figures)


if __name__ == "__main__":
    main()
