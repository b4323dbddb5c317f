"""Data-parallel training: ``tuneprep train --processes 2`` against the same run on 1 process.

Both sides run the real CLI on the same real data (Rotten Tomatoes snippets, smollm2-135m LoRA),
with the same global batch, steps and seed, so they train on the same rows and log the same
losses (tests/train/test_ddp.py checks that); only the number of processes differs, and the
threads follow the defaults (one process: the default threads; N processes: cores / N each).
Runs are interleaved A-B-B-A (1, 2, 2, 1 processes per pair) because the machine is shared.

Figures per run: tokens/s of the training loop (``metrics.json``: real tokens over the logged
step times, the first step included) and the whole-process wall time (start-up, model load in
every process, training, evaluation, saving). The ratio is 2 processes over 1 (> 1: faster).

    .venv/bin/python benchmarks/train_ddp.py --steps 6 --batch-size 8 --pairs 1

Result file: ``benchmarks/results/train_ddp.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resultfile import Measurement


def _data(d: Path, n: int) -> Path:
    from tuneprep.datasets import rotten_tomatoes

    by_label: dict[str, list[dict]] = {}
    with open(rotten_tomatoes()) as fh:
        for line in fh:
            r = json.loads(line)
            if r["text"].strip():
                by_label.setdefault(r["label"], []).append(r)
    # the labels in turn (the file is sorted by label): every batch sees every class
    rows = [r for group in zip(*by_label.values()) for r in group][:n]
    (d / "train").mkdir(parents=True, exist_ok=True)
    (d / "train" / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--pairs", type=int, default=1, help="A-B-B-A pairs (1: runs 1, 2, 2, 1 processes)")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    m = Measurement("train_ddp", libraries=["torch", "transformers", "peft", "accelerate"])
    tmp = Path(tempfile.mkdtemp(prefix="train_ddp_"))
    data = _data(tmp / "data", args.steps * args.batch_size)
    order = [1, args.processes, args.processes, 1] * args.pairs
    runs: list[dict] = []
    for i, n in enumerate(order):
        out = tmp / f"run{i}-p{n}"
        cmd = [sys.executable, "-m", "tuneprep.cli", "train", "--data", str(data), "--out", str(out),
               "--max-steps", str(args.steps), "--batch-size", str(args.batch_size), "--max-length",
               str(args.max_length), "--processes", str(n), "--seed", "0", "--quiet"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"run failed ({n} processes):\n{p.stderr[-3000:]}")
        met = json.loads((out / "metrics.json").read_text())
        log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
        runs.append({"processes": n, "tokens_per_s": met["tokens_per_s"], "wall_s": round(wall, 1),
                     "threads_per_process": met["threads"], "peak_rss_mb_rank0": met["peak_rss_mb"],
                     "losses": [r["loss"] for r in log if "loss" in r]})
        print(json.dumps(runs[-1]), flush=True)

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs if r["processes"] == n)

    one, many = 1, args.processes
    losses_one = [r["losses"] for r in runs if r["processes"] == one][0]
    losses_many = [r["losses"] for r in runs if r["processes"] == many][0]
    figures = {
        "setup": {"model": "smollm2-135m", "method": "lora", "steps": args.steps, "batch_size": args.batch_size,
                  "max_length": args.max_length, "records": args.steps * args.batch_size},
        "runs": runs,
        "tokens_per_s_median": {str(one): med(one, "tokens_per_s"), str(many): med(many, "tokens_per_s")},
        "wall_s_median": {str(one): med(one, "wall_s"), str(many): med(many, "wall_s")},
        "speedup_training_loop": round(med(many, "tokens_per_s") / med(one, "tokens_per_s"), 3),
        "speedup_whole_process": round(med(one, "wall_s") / med(many, "wall_s"), 3),
        "max_loss_difference": max(abs(a - b) for a, b in zip(losses_one, losses_many)),
    }
    m.write(figures)
    print(f"{many} processes vs 1: training loop x{figures['speedup_training_loop']}, "
          f"whole process x{figures['speedup_whole_process']}")


if __name__ == "__main__":
    main()
