"""Training throughput: tuneprep's LoRA training vs a plain transformers Trainer + PEFT script.

Both train the same model (smollm2-135m), on the same tokenized examples (real Rotten Tomatoes
snippets rendered by the chat template, loss on the answer tokens only), with the same LoRA
rank/targets, batch size, learning rate, steps, threads and dtype (fp32). Each run is a fresh
subprocess (so peak RSS is per run) and the runs alternate baseline/tuneprep to spread any
change in machine load over both. Reported: real (non-pad) tokens per second of training
wall time (model loading excluded), peak RSS, the ratio, and the machine load.

The baseline is what a practitioner writes from the docs: DataCollatorForSeq2Seq (dynamic
padding to the longest row of each batch), random batches, the model's own loss over full
logits.

    .venv/bin/python benchmarks/train_throughput.py --steps 20 --batch-size 8 --repeats 1
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

    trainer = Trainer(model=model, args=targs, train_dataset=[dict(f) for f in feats], data_collator=collate)
    t0 = time.perf_counter()
    trainer.train()
    secs = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": tokens["n"], "seconds": secs, "losses": losses}


def _tuneprep(args: argparse.Namespace, rows: list[dict]) -> dict:
    from tuneprep.train.config import TrainConfig
    from tuneprep.train.trainer import train

    d = Path(tempfile.mkdtemp())
    data = d / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = TrainConfig(data=str(data), out=str(d / "run"), max_steps=args.steps, batch_size=args.batch_size,
                      lr=5e-4, lora_r=args.lora_r, max_length=args.max_length, threads=args.threads,
                      save_steps=10**6, bf16=args.bf16)
    res = train(cfg, quiet=True)
    log = [json.loads(x) for x in (d / "run" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    return {"tokens": sum(r["tokens"] for r in steps), "seconds": sum(r["seconds"] for r in steps),
            "losses": [r["loss"] for r in steps], "metrics": res.metrics}


def _child(args: argparse.Namespace) -> None:
    from tuneprep.models.runtime import peak_rss_mb

    rows, feats = _examples(args.steps * args.batch_size, args.seed, args.max_length)
    out = _baseline(args, feats) if args.child == "baseline" else _tuneprep(args, rows)
    out["peak_rss_mb"] = round(peak_rss_mb())
    out["tokens_per_s"] = round(out["tokens"] / out["seconds"], 1)
    print("RESULT " + json.dumps(out))


def quality(args: argparse.Namespace) -> None:
    """Zero-shot vs LoRA macro-F1 on a stratified, disjoint RT split, in one process (as the demo runs).

    Also reports wall times and the peak/last RSS after each phase (the NOTES.md memory hazard
    was a scoring pass followed by training).
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from tuneprep.datasets import rotten_tomatoes
    from tuneprep.models.prompt import ClassifyTemplate
    from tuneprep.models.registry import load_causal_lm, load_run
    from tuneprep.models.runtime import peak_rss_mb, rss_mb, setup_torch
    from tuneprep.models.scoring import score_labels
    from tuneprep.train.config import TrainConfig
    from tuneprep.train.trainer import train

    setup_torch(args.threads)
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
    labels = sorted({r["label"] for r in rows})
    template = ClassifyTemplate(labels=labels)
    texts, gold = [r["text"] for r in test], [r["label"] for r in test]
    report: dict = {"train": len(tr), "test": len(test), "threads": args.threads, "load_start": os.getloadavg()}

    def evaluate(model, tok, tmpl, max_length):
        t0 = time.perf_counter()
        p = score_labels(model, tok, tmpl, texts, batch_size=16, max_length=max_length)
        pred = [tmpl.labels[i] for i in p.argmax(1)]
        return {"macro_f1": round(f1_score(gold, pred, average="macro"), 4),
                "accuracy": round(sum(a == b for a, b in zip(pred, gold)) / len(gold), 4),
                "seconds": round(time.perf_counter() - t0, 1), "rss_mb": round(rss_mb()),
                "peak_rss_mb": round(peak_rss_mb())}

    if not args.skip_zero_shot:
        model, tok = load_causal_lm("smollm2-135m")
        report["zero_shot"] = evaluate(model, tok, template, args.max_length)
        print("zero-shot", report["zero_shot"], flush=True)
        del model
    cfg = TrainConfig(data=str(d / "train.jsonl"), out=str(d / "run"), epochs=args.epochs,
                      max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr, lora_r=args.lora_r,
                      max_length=args.max_length, threads=args.threads, seed=args.seed, bf16=args.bf16,
                      save_steps=100)
    t0 = time.perf_counter()
    res = train(cfg, overwrite=True, quiet=not args.progress)
    report["train"] = {**res.metrics, "wall_s": round(time.perf_counter() - t0, 1), "rss_mb": round(rss_mb())}
    print("train", report["train"], flush=True)
    run = load_run(d / "run")
    report["lora"] = evaluate(run.model, run.tokenizer, run.template, args.max_length)
    report["load_end"] = os.getloadavg()
    print("lora", report["lora"], flush=True)
    print("QUALITY " + json.dumps(report))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="Alternating pairs of runs.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", action="store_true", help="Also run tuneprep with bf16 autocast (CPU).")
    ap.add_argument("--child", choices=["baseline", "tuneprep"], help=argparse.SUPPRESS)
    q = ap.add_argument_group("quality mode (--quality): zero-shot vs LoRA macro-F1 on RT")
    q.add_argument("--quality", action="store_true")
    q.add_argument("--train-size", type=int, default=2000)
    q.add_argument("--test-size", type=int, default=300)
    q.add_argument("--epochs", type=float, default=1.0)
    q.add_argument("--max-steps", type=int, default=None)
    q.add_argument("--lr", type=float, default=5e-4)
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

    def run(kind: str, bf16: bool = False) -> dict:
        cmd = [sys.executable, __file__, "--child", kind, "--steps", str(args.steps), "--batch-size",
               str(args.batch_size), "--lora-r", str(args.lora_r), "--max-length", str(args.max_length),
               "--threads", str(args.threads), "--seed", str(args.seed)] + (["--bf16"] if bf16 else [])
        load0 = os.getloadavg()[0]
        p = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
        if p.returncode != 0 or not line:
            raise SystemExit(f"{kind} failed:\n{p.stderr[-3000:]}")
        res = json.loads(line[0][7:])
        res["load_avg"] = round((load0 + os.getloadavg()[0]) / 2, 2)
        name = kind + ("+bf16" if bf16 else "")
        print(f"{name:14s} {res['tokens_per_s']:8.1f} tok/s  {res['tokens']:6d} tokens in {res['seconds']:7.1f} s"
              f"  peak RSS {res['peak_rss_mb']:5d} MB  load {res['load_avg']}  "
              f"loss {res['losses'][0]:.3f} → {res['losses'][-1]:.3f}", flush=True)
        return res

    print(f"smollm2-135m LoRA r={args.lora_r} all-linear, batch {args.batch_size}, {args.steps} steps, "
          f"max_length {args.max_length}, {args.threads} threads, fp32, {os.cpu_count()} cores", flush=True)
    base, ours, ours16 = [], [], []
    for _ in range(args.repeats):
        base.append(run("baseline"))
        ours.append(run("tuneprep"))
        if args.bf16:
            ours16.append(run("tuneprep", bf16=True))

    def med(xs: list[dict]) -> float:
        v = sorted(x["tokens_per_s"] for x in xs)
        return v[len(v) // 2]

    print(f"ratio tuneprep/baseline tokens/s: {med(ours) / med(base):.2f}x "
          f"(peak RSS {max(x['peak_rss_mb'] for x in ours)} vs {max(x['peak_rss_mb'] for x in base)} MB)")
    if ours16:
        print(f"ratio tuneprep+bf16/baseline tokens/s: {med(ours16) / med(base):.2f}x")


if __name__ == "__main__":
    main()
