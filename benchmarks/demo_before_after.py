"""The demo's wall time before and after a change: ``tuneprep demo`` at two git revisions, same machine.

Each revision is checked out into a temporary worktree and its own ``tuneprep demo --out DIR`` runs
as a fresh process (same virtualenv, same model caches, same data), one after the other: ``--before``
first, then ``--after`` (default ``HEAD``), both with ``TUNEPREP_THREADS=min(2, cores)``. Recorded per run: the whole command's wall and CPU time,
the two evaluations' prediction seconds (``base/eval.json``, ``tuned/eval.json``), the training
time (``train/``), and the zero-shot and tuned macro-F1 (which must not move beyond float rounding
when only the scoring path changed). The default ``--before`` is the parent of the commit that
brought one-pass label scoring (``models/loglik.py``).

    .venv/bin/python benchmarks/demo_before_after.py                 # full demo, ~25 min on 2 idle cores
    .venv/bin/python benchmarks/demo_before_after.py --quick         # CI-sized demo
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]


def _first_commit_of(path: str) -> str:
    out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", path], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split()
    return out[-1]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _run(rev: str, work: Path, quick: bool) -> dict:
    tree = work / f"tree-{rev[:10]}"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=REPO, check=True,
                   capture_output=True)
    try:
        out = work / f"demo-{rev[:10]}"
        # both sides get the same thread count whatever the load average says when a stage starts
        env = {**os.environ, "PYTHONPATH": str(tree / "src"), "TUNEPREP_THREADS": str(min(2, os.cpu_count() or 1))}
        cmd = [sys.executable, "-m", "tuneprep.cli", "demo", "--out", str(out), *(["--quick"] if quick else [])]
        t0, c0 = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
    res: dict = {"revision": rev, "wall_s": round(wall, 1), "wall_minutes": round(wall / 60, 2), "cpu_s": round(cpu, 1)}
    for stage in ("base", "tuned"):
        info, metrics = _read(out / stage / "eval.json"), _read(out / stage / "metrics.json")
        res[stage] = {"predict_s": (info.get("seconds") or {}).get("predict"), "n": metrics.get("n"),
                      "f1_macro": round(metrics["f1_macro"], 4) if "f1_macro" in metrics else None}
    res["train_s"] = (_read(out / "demo.json").get("train") or {}).get("train_seconds_this_session")
    print(f"{rev[:10]}: demo {wall / 60:.1f} min; zero-shot eval {res['base']['predict_s']} s, "
          f"tuned eval {res['tuned']['predict_s']} s; macro-F1 {res['base']['f1_macro']} -> {res['tuned']['f1_macro']}",
          flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default=None, help="revision (default: parent of the commit adding models/loglik.py)")
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--result", default=None)
    args = ap.parse_args()
    before = args.before or _first_commit_of("src/tuneprep/models/loglik.py") + "^"

    def rev(r: str) -> str:
        return subprocess.run(["git", "rev-parse", r], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()

    m = Measurement(args.result or ("demo_before_after_quick" if args.quick else "demo_before_after"),
                    libraries=["torch", "transformers", "peft"])
    work = Path(tempfile.mkdtemp(prefix="demo-ba-"))
    revs = {"before": rev(before), "after": rev(args.after)}  # fixed now: commits made meanwhile don't count
    runs = {k: _run(r, work, args.quick) for k, r in revs.items()}
    b, a = runs["before"], runs["after"]
    evals = {k: (r["base"]["predict_s"] or 0) + (r["tuned"]["predict_s"] or 0) for k, r in runs.items()}
    figures = {"quick": args.quick, "runs": runs, "order": "before, then after (one run each)",
               "demo_wall_ratio_before_over_after": round(b["wall_s"] / a["wall_s"], 3),
               "eval_predict_s": evals,
               "eval_ratio_before_over_after": round(evals["before"] / evals["after"], 2) if evals["after"] else None}
    print(f"demo {b['wall_minutes']:.1f} -> {a['wall_minutes']:.1f} min; the two evaluations "
          f"{evals['before']:.0f} -> {evals['after']:.0f} s")
    m.write(figures)


if __name__ == "__main__":
    main()
