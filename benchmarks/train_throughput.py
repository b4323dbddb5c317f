"""Training throughput: tuneprep's LoRA training vs a plain transformers Trainer + PEFT script.

Both train the same model (smollm2-135m), on the same tokenized examples (real Rotten Tomatoes
snippets rendered by the chat template, loss on the answer tokens only), with the same LoRA
rank/targets, batch size, learning rate, steps, threads and dtype (fp32).

Like for like:

* **Two phase boundaries, the same for both sides**: the whole process wall time (interpreter
  start to exit: imports, model load, training, saving — what a user waits for), and the training
  loop alone, from the Trainer's ``on_train_begin`` to its ``on_train_end`` callback (a callback on
  both sides). Tokens per second use the loop time and the real (non-pad) tokens of the batches.
* **The same environment tuning**: tuneprep's process tunes glibc malloc (mmap/trim thresholds,
  2 arenas); the baseline gets the same through glibc's environment variables
  (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_ARENA_MAX``), which any user of
  the plain script can set.
* **Interleaved runs**: pairs in A-B-B-A order (baseline, tuneprep, tuneprep, baseline, …), at
  least 3 pairs by default; the median and the range of each side and of the per-pair ratio.

Where the speed comes from: length-grouped batches and padding to a multiple of 8 (fewer pad
tokens), and the vocabulary projection computed only at the trained positions (the baseline
materialises full-vocabulary logits for every token).

The baseline is what a practitioner writes from the docs: DataCollatorForSeq2Seq (dynamic
padding to the longest row of each batch), random batches, the model's own loss over full
logits.

    .venv/bin/python benchmarks/train_throughput.py --steps 8 --batch-size 8 --pairs 3
    .venv/bin/python benchmarks/train_throughput.py --quality                       # zero-shot vs LoRA
    .venv/bin/python benchmarks/train_throughput.py --quality --model minilm-l6     # encoder fast path

Each writes its result file: ``benchmarks/results/train_throughput.json``,
``train_quality_smollm2-135m.json`` or ``train_quality_minilm-l6.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from resultfile import Measurement

# The malloc tuning tuneprep applies in-process (models/runtime.configure_allocator), as the glibc
# environment variables a user of the plain script can set.
PEER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(8 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
                   "MALLOC_ARENA_MAX": "2"}


def _examples(n: int, seed: int, max_length: int) -> tuple[list[dict], list[dict]]:
    """(raw records, tokenized {input_ids, labels}) for n seeded RT records."""
    import random

    from tuneprep.datasets import SENTIMENT_LABELS, rotten_tomatoes
    from tuneprep.models.chat import encode_classification
    from tuneprep.models.prompt import ClassifyTemplate
    from tuneprep.models.registry import load_tokenizer

    rows = [json.loads(x) for x in open(rotten_tomatoes())]
    rows = [r for r in rows if r["text"].strip()]
    rows = random.Random(seed).sample(rows, n)
    tok = load_tokenizer("smollm2-135m")
    t = ClassifyTemplate(labels=sorted(SENTIMENT_LABELS))
    feats = []
    for r in rows:
        enc, _ = encode_classification(tok, t, r["text"], r["label"], max_length)
        feats.append({"input_ids": enc.input_ids, "labels": enc.labels})
    return rows, feats


def _loop_timer() -> Any:
    """A TrainerCallback timing the training loop (on_train_begin → on_train_end), for both sides."""
    from transformers import TrainerCallback

    class LoopTimer(TrainerCallback):
        t0 = t1 = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t1 = time.perf_counter()

    return LoopTimer()


def _baseline(args: argparse.Namespace, feats: list[dict]) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from tuneprep.models.registry import load_tokenizer, resolve_model

    torch.set_num_threads(args.threads)
    tok = load_tokenizer("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(resolve_model("smollm2-135m").path)
    model = get_peft_model(model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size,
                              learning_rate=5e-4, max_steps=args.steps, logging_steps=1, save_strategy="no",
                              report_to=[], disable_tqdm=True, use_cpu=True, seed=0,
                              remove_unused_columns=False, lr_scheduler_type="linear")
    tokens = {"n": 0}

    def collate(batch: list[dict]) -> dict:
        out = DataCollatorForSeq2Seq(tok, padding=True)(batch)
        tokens["n"] += int(out["attention_mask"].sum())
        return out

    timer = _loop_timer()
    trainer = Trainer(model=model, args=targs, train_dataset=[dict(f) for f in feats], data_collator=collate,
                      callbacks=[timer])
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": tokens["n"], "seconds": timer.t1 - timer.t0, "losses": losses}


def _tuneprep(args: argparse.Namespace, rows: list[dict]) -> dict:
    from tuneprep.train.config import TrainConfig
    from tuneprep.train.trainer import train

    d = Path(tempfile.mkdtemp())
    data = d / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = TrainConfig(data=str(data), out=str(d / "run"), max_steps=args.steps, batch_size=args.batch_size,
                      lr=5e-4, lora_r=args.lora_r, max_length=args.max_length, threads=args.threads,
                      save_steps=10**6, bf16=args.bf16)
    timer = _loop_timer()
    train(cfg, quiet=True, callbacks=[timer])
    log = [json.loads(x) for x in (d / "run" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    return {"tokens": sum(r["tokens"] for r in steps), "seconds": timer.t1 - timer.t0,
            "losses": [r["loss"] for r in steps]}


def _child(args: argparse.Namespace) -> None:
    from tuneprep.models.runtime import peak_rss_mb

    rows, feats = _examples(args.steps * args.batch_size, args.seed, args.max_length)
    out = _baseline(args, feats) if args.child == "baseline" else _tuneprep(args, rows)
    out["peak_rss_mb"] = round(peak_rss_mb())
    out["tokens_per_s"] = round(out["tokens"] / out["seconds"], 1)
    print("RESULT " + json.dumps(out))


def quality(args: argparse.Namespace) -> None:
    """Zero-shot vs fine-tuned macro-F1 on a stratified, disjoint RT split, as a user runs it.

    Training through ``tuneprep.train`` and both evaluations through ``tuneprep.evaluate`` (the code
    paths of ``tuneprep train`` / ``tuneprep eval``), on the same test records. ``--model minilm-l6``
    trains the encoder fast path (a classification head; it has no zero-shot mode).
    """
    from sklearn.model_selection import train_test_split

    from tuneprep.datasets import rotten_tomatoes
    from tuneprep.evaluate.runner import EvalConfig, evaluate
    from tuneprep.models.runtime import peak_rss_mb
    from tuneprep.train.config import TrainConfig
    from tuneprep.train.trainer import train

    m = Measurement(f"train_quality_{args.model}", libraries=["torch", "transformers", "peft"])
    rows = [json.loads(x) for x in open(rotten_tomatoes())]
    rows = [r for r in rows if r["text"].strip()]
    rest, test = train_test_split(rows, test_size=args.test_size, stratify=[r["label"] for r in rows],
                                  random_state=args.seed)
    tr, _ = train_test_split(rest, train_size=args.train_size, stratify=[r["label"] for r in rest],
                             random_state=args.seed)
    assert not {r["id"] for r in tr} & {r["id"] for r in test}
    d = Path(args.out or tempfile.mkdtemp())
    d.mkdir(parents=True, exist_ok=True)
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tr))
    (d / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    labels = sorted({r["label"] for r in rows})
    report: dict = {"model": args.model, "train_records": len(tr), "test_records": len(test),
                    "threads": args.threads, "seed": args.seed}

    def score(model: str, name: str) -> dict:
        t0 = time.perf_counter()
        res = evaluate(EvalConfig(model=model, data=str(d / "test.jsonl"), out=str(d / name), labels=labels,
                                  batch_size=16, name=name, report=False), progress=args.progress)
        mt = res.metrics
        return {"macro_f1": round(mt["f1_macro"], 4), "macro_f1_ci95": [round(x, 4) for x in mt["ci95"]["f1_macro"]],
                "accuracy": round(mt["accuracy"], 4),
                "per_class_f1": {k: round(v["f1"], 4) for k, v in mt["per_class"].items()},
                "seconds": round(time.perf_counter() - t0, 1)}

    if not args.skip_zero_shot and args.model != "minilm-l6":
        report["zero_shot"] = score(args.model, "zero-shot")
        print("zero-shot", report["zero_shot"], flush=True)
    cfg = TrainConfig(data=str(d / "train.jsonl"), out=str(d / "run"), model=args.model, epochs=args.epochs,
                      max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr, lora_r=args.lora_r,
                      max_length=args.max_length, threads=args.threads, seed=args.seed, bf16=args.bf16,
                      save_steps=100)
    t0 = time.perf_counter()
    res = train(cfg, overwrite=True, quiet=not args.progress)
    report["train"] = {k: res.metrics.get(k) for k in ("steps", "train_seconds_this_session", "tokens_per_s",
                                                       "train_loss_first", "train_loss_last10", "peak_rss_mb")}
    report["train"]["wall_s"] = round(time.perf_counter() - t0, 1)
    print("train", report["train"], flush=True)
    report["tuned"] = score(str(d / "run"), "tuned")
    report["peak_rss_mb"] = round(peak_rss_mb())
    print("tuned", report["tuned"], flush=True)
    m.write(report)


def _stats(xs: list[float]) -> dict:
    v = sorted(xs)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"median": round(med, 3), "min": round(v[0], 3), "max": round(v[-1], 3), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=3, help="Pairs of runs, interleaved A-B-B-A.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", action="store_true", help="tuneprep with bf16 autocast (CPU).")
    ap.add_argument("--child", choices=["baseline", "tuneprep"], help=argparse.SUPPRESS)
    q = ap.add_argument_group("quality mode (--quality): zero-shot vs fine-tuned macro-F1 on RT")
    q.add_argument("--quality", action="store_true")
    q.add_argument("--model", default="smollm2-135m", help="smollm2-135m (LoRA) or minilm-l6 (encoder fast path)")
    q.add_argument("--train-size", type=int, default=2000)
    q.add_argument("--test-size", type=int, default=300)
    q.add_argument("--epochs", type=float, default=1.0)
    q.add_argument("--max-steps", type=int, default=None)
    q.add_argument("--lr", type=float, default=None)
    q.add_argument("--out", default=None)
    q.add_argument("--progress", action="store_true")
    q.add_argument("--skip-zero-shot", action="store_true")
    args = ap.parse_args()
    if args.quality:
        quality(args)
        return
    if args.child:
        _child(args)
        return

    m = Measurement("train_throughput", libraries=["torch", "transformers", "peft"])

    def run(kind: str) -> dict:
        cmd = [sys.executable, __file__, "--child", kind, "--steps", str(args.steps), "--batch-size",
               str(args.batch_size), "--lora-r", str(args.lora_r), "--max-length", str(args.max_length),
               "--threads", str(args.threads), "--seed", str(args.seed)] + (["--bf16"] if args.bf16 else [])
        env = {**os.environ, **(PEER_MALLOC_ENV if kind == "baseline" else {})}
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
        if p.returncode != 0 or not line:
            raise SystemExit(f"{kind} failed:\n{p.stderr[-3000:]}")
        res = json.loads(line[0][7:])
        res["process_wall_s"] = round(wall, 2)
        res["load_avg"] = round((load0 + os.getloadavg()[0]) / 2, 2)
        print(f"{kind:9s} {res['tokens_per_s']:8.1f} tok/s in the loop ({res['tokens']:6d} tokens, "
              f"{res['seconds']:6.1f} s); process {wall:6.1f} s; peak RSS {res['peak_rss_mb']:5d} MB; "
              f"load {res['load_avg']}; loss {res['losses'][0]:.3f} → {res['losses'][-1]:.3f}", flush=True)
        return res

    print(f"smollm2-135m LoRA r={args.lora_r} all-linear, batch {args.batch_size}, {args.steps} steps, "
          f"max_length {args.max_length}, {args.threads} threads, {'bf16' if args.bf16 else 'fp32'}, "
          f"{os.cpu_count()} cores; {args.pairs} pairs A-B-B-A", flush=True)
    runs: dict[str, list[dict]] = {"baseline": [], "tuneprep": []}
    for i in range(args.pairs):
        order = ("baseline", "tuneprep") if i % 2 == 0 else ("tuneprep", "baseline")
        for kind in order:
            runs[kind].append(run(kind))
    pairs = list(zip(runs["baseline"], runs["tuneprep"]))
    figures = {
        "setup": {"model": "smollm2-135m", "lora_r": args.lora_r, "batch_size": args.batch_size, "steps": args.steps,
                  "max_length": args.max_length, "threads": args.threads, "bf16": args.bf16, "pairs": args.pairs,
                  "order": "A-B-B-A", "peer_malloc_env": PEER_MALLOC_ENV},
        "loop_tokens_per_s": {k: _stats([r["tokens_per_s"] for r in v]) for k, v in runs.items()},
        "process_wall_s": {k: _stats([r["process_wall_s"] for r in v]) for k, v in runs.items()},
        "peak_rss_mb": {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()},
        "ratio_loop_tokens_per_s": _stats([t["tokens_per_s"] / b["tokens_per_s"] for b, t in pairs]),
        "ratio_process_wall": _stats([b["process_wall_s"] / t["process_wall_s"] for b, t in pairs]),
        "runs": runs,
    }
    r1, r2 = figures["ratio_loop_tokens_per_s"], figures["ratio_process_wall"]
    print(f"tuneprep/baseline, training loop tokens/s: median {r1['median']:.2f}x (range {r1['min']:.2f}–{r1['max']:.2f}); "
          f"whole process wall time: {r2['median']:.2f}x (range {r2['min']:.2f}–{r2['max']:.2f})")
    m.write(figures)


if __name__ == "__main__":
    main()
