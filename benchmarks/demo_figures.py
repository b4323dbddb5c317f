"""The demo's figures as a result file: runs ``tuneprep demo`` and records what the README shows.

    .venv/bin/python benchmarks/demo_figures.py            # the full demo (about 12 min on 2 idle cores)
    .venv/bin/python benchmarks/demo_figures.py --quick    # what CI runs (demo_quick.json)

Writes ``benchmarks/results/demo.json`` (or ``demo_quick.json``): data accounting, zero-shot and
tuned macro-F1 / accuracy with 95 % CIs and per-class F1, the paired difference and McNemar test,
training figures and the wall time of every stage together.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from resultfile import Measurement


def _metrics(m: dict) -> dict:
    return {"macro_f1": round(m["f1_macro"], 4), "macro_f1_ci95": [round(x, 4) for x in m["ci95"]["f1_macro"]],
            "accuracy": round(m["accuracy"], 4), "n": m["n"],
            "per_class_f1": {k: round(v["f1"], 4) for k, v in m["per_class"].items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Reduced sizes, as CI runs it.")
    ap.add_argument("--out", default=None, help="Demo output dir (default: a temporary dir).")
    args = ap.parse_args()
    from tuneprep.demo import run_demo

    m = Measurement("demo_quick" if args.quick else "demo", libraries=["torch", "transformers", "peft"])
    out = Path(args.out or tempfile.mkdtemp(prefix="tuneprep-demo-"))
    res = run_demo(out, quick=args.quick)
    summary = json.loads((out / "demo.json").read_text())
    stats = json.loads((out / "prep" / "stats.json").read_text())
    diff = res.compare["differences"][0]
    figures = {
        "quick": args.quick,
        "wall_minutes": round(res.seconds / 60, 1),
        "data": {**summary["prep"], "dropped_by_reason": {k: v for s in stats["steps"] for k, v in s["dropped"].items()}},
        "zero_shot": _metrics(res.base),
        "tuned": _metrics(res.tuned),
        "difference": {"macro_f1": round(diff["f1_macro"]["diff"], 4),
                       "macro_f1_ci95": [round(x, 4) for x in diff["f1_macro"]["ci95"]],
                       "accuracy": round(diff["accuracy"]["diff"], 4),
                       "mcnemar_p": diff["mcnemar"]["pvalue"],
                       "only_tuned_correct": diff["mcnemar"]["only_other_correct"],
                       "only_zero_shot_correct": diff["mcnemar"]["only_baseline_correct"]},
        "train": summary["train"],
        "size": summary["size"],
    }
    m.write(figures)


if __name__ == "__main__":
    main()
