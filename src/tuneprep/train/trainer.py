"""``tuneprep train`` as a library call: data → preflight → LoRA/full (or encoder) training → run dir."""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.errors import TuneprepError
from tuneprep.models import rundir as R
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import ModelError, default_dtype, load_tokenizer, resolve_model
from tuneprep.models.runtime import peak_rss_mb, release_memory, setup_torch
from tuneprep.train import distributed as D
from tuneprep.train.config import TrainConfig
from tuneprep.train.data import (
    DataSource,
    Example,
    TrainDataError,
    infer_labels,
    read_examples,
    resolve_data,
    subsample,
)
from tuneprep.train.encoder import build_encoder_model, encode_examples, encoder_collator
from tuneprep.train.formatting import format_examples, length_histogram, mark_trained
from tuneprep.train.loop import (
    CausalCollator,
    LengthGroupedBatchSampler,
    ListDataset,
    Meter,
    evaluate_loss,
    make_progress_callback,
    make_trainer_class,
)


class RunDirError(TuneprepError, RuntimeError):
    """The output run directory is in a state that forbids this action (exists, nothing to resume)."""


@dataclass
class Prepared:
    """Everything known before training starts (what ``--check`` reports)."""

    cfg: TrainConfig
    source: DataSource
    kind: str  # "causal" | "encoder"
    model_path: str
    model_local: bool
    tokenizer: Any
    template: ClassifyTemplate | None
    labels: list[str]
    train: Any  # Formatted (causal) or list of encoder features
    val: Any
    n_read: int
    rejects: list[dict[str, Any]] = field(default_factory=list)  # {"id", "source", "reason", "detail"}
    preflight: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What a finished run reports (also written to RUN/metrics.json)."""

    run_dir: Path
    metrics: dict[str, Any]
    rank: int = 0  # in a multi-process run, only rank 0's result carries the metrics


def prepare(cfg: TrainConfig) -> Prepared:
    """Read, validate and tokenize the data; build the preflight report. No model weights loaded."""

    src = resolve_data(cfg.data)
    r = resolve_model(cfg.model)
    if r.kind == "run":
        raise ModelError(f"{cfg.model}: a training run; train from its base model "
                         f"({R.read_config(r.path).get('base_model')}) instead")
    encoder = r.kind == "encoder"
    if encoder and cfg.task != "classify":
        raise ModelError(f"{cfg.model} is an encoder: only --task classify is supported with it")
    cfg = cfg.resolved(encoder=encoder)
    read_rejects: list[dict[str, Any]] = []
    examples = read_examples(src.train_files, cfg.task, cfg.labels, read_rejects)
    n_read = len(examples) + len(read_rejects)
    examples = subsample(examples, cfg.limit, cfg.seed)
    labels = list(cfg.labels) if cfg.labels else (infer_labels(examples) if cfg.task == "classify" else [])
    val_ex: list[Example] = []
    if src.val_files:
        val_ex = subsample(read_examples(src.val_files, cfg.task, labels or None, []), cfg.val_limit, cfg.seed)
    template = ClassifyTemplate(labels=labels) if cfg.task == "classify" else None
    if cfg.task == "classify" and len(labels) < 2:
        raise TrainDataError(f"classification needs at least 2 labels; the data has {labels}")

    tok = load_tokenizer(cfg.model)
    if encoder:
        train = encode_examples(examples, tok, labels, cfg.max_length)
        val = encode_examples(val_ex, tok, labels, cfg.max_length) if val_ex else None
        prep = Prepared(cfg, src, "encoder", r.path, r.local, tok, template, labels, train, val, n_read,
                        read_rejects)
        prep.preflight = _encoder_preflight(prep, examples)
        return prep
    train = format_examples(examples, tok, task=cfg.task, template=template, max_length=cfg.max_length,
                            length_policy=cfg.length_policy)
    train.rejects[:0] = read_rejects
    if len(train) == 0:
        raise TrainDataError(f"no training record left after the length policy: {train.counts()}")
    val = None
    if val_ex:
        val = format_examples(val_ex, tok, task=cfg.task, template=template, max_length=cfg.max_length,
                              length_policy="truncate" if cfg.length_policy == "error" else cfg.length_policy)
    prep = Prepared(cfg, src, "causal", r.path, r.local, tok, template, labels, train, val, n_read,
                    train.rejects)
    prep.preflight = _causal_preflight(prep, examples)
    return prep


def _label_counts(examples: list[Example]) -> dict[str, int]:
    from collections import Counter

    return dict(sorted(Counter(e.label for e in examples if e.label is not None).items()))


def _causal_preflight(p: Prepared, examples: list[Example]) -> dict[str, Any]:
    lengths = [len(x) for x in p.train.input_ids]
    trained = [sum(1 for t in lab if t != -100) for lab in p.train.labels]
    ex_i = 0
    pre = {
        "task": p.cfg.task, "model": p.cfg.model, "method": p.cfg.method,
        "data": [str(f) for f in p.source.train_files], "val": [str(f) for f in p.source.val_files],
        "records_read": p.n_read, "records_used": len(examples), **p.train.counts(),
        "labels": p.labels, "label_counts": _label_counts(examples) if p.cfg.task == "classify" else None,
        "max_length": p.cfg.max_length, "length_policy": p.cfg.length_policy,
        "tokens": {"total": sum(lengths), "trained": sum(trained),
                   "mean_length": round(sum(lengths) / max(len(lengths), 1), 1),
                   "max_length_seen": max(lengths, default=0)},
        "length_histogram": length_histogram(lengths, p.cfg.max_length),
        "val_records": len(p.val) if p.val is not None else 0,
        "example": {"id": p.train.ids[ex_i],
                    "rendered": mark_trained(p.tokenizer, p.train.input_ids[ex_i], p.train.labels[ex_i])},
        "rejects_sample": p.train.rejects[:5],
    }
    return pre


def _encoder_preflight(p: Prepared, examples: list[Example]) -> dict[str, Any]:
    from collections import Counter

    lengths = [len(f["input_ids"]) for f in p.train]
    return {
        "task": "classify", "model": p.cfg.model, "method": "encoder",
        "data": [str(f) for f in p.source.train_files], "val": [str(f) for f in p.source.val_files],
        "records_read": p.n_read, "records_used": len(examples), "kept": len(p.train),
        "truncated": sum(f.pop("_truncated", False) for f in p.train),
        "rejected": dict(Counter(r["reason"] for r in p.rejects)),
        "labels": p.labels, "label_counts": _label_counts(examples), "max_length": p.cfg.max_length,
        "tokens": {"total": sum(lengths), "mean_length": round(sum(lengths) / max(len(lengths), 1), 1),
                   "max_length_seen": max(lengths, default=0)},
        "length_histogram": length_histogram(lengths, p.cfg.max_length),
        "val_records": len(p.val) if p.val is not None else 0,
        "example": {"id": examples[0].id, "rendered": p.tokenizer.decode(p.train[0]["input_ids"])},
    }


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("tuneprep", "torch", "transformers", "peft", "accelerate", "sentence-transformers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _newest_checkpoint(out: Path) -> str:
    ck = out / R.CHECKPOINTS
    cks = sorted(ck.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if ck.is_dir() else []
    if not cks:
        raise RunDirError(f"{out}: no checkpoint to resume from (looked in {ck})")
    return str(cks[-1])


def _check_out(out: Path, resume: bool, overwrite: bool) -> None:
    """Raise RunDirError when the run dir forbids this action (changes nothing)."""
    if resume:
        _newest_checkpoint(out)
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise RunDirError(f"{out} exists and is not empty: pass --resume to continue an interrupted run, "
                          "or --overwrite to start over")


def _prepare_out(out: Path, resume: bool, overwrite: bool) -> str | None:
    """Create/clean the run dir; returns the checkpoint to resume from (or None)."""
    _check_out(out, resume, overwrite)
    if resume:
        return _newest_checkpoint(out)
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return None


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def _truncate_log(log: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (they will be redone)."""
    if not log.exists():
        return
    keep = [ln for ln in log.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= step]
    log.write_text("".join(ln + "\n" for ln in keep))


def run_config(p: Prepared, status: str) -> dict[str, Any]:
    """The run's config.json content."""
    return {
        "format": R.RUN_FORMAT,
        "status": status,
        "task": p.cfg.task,
        "kind": p.kind,
        "method": "encoder" if p.kind == "encoder" else p.cfg.method,
        "base_model": p.cfg.model,
        "base_model_path": p.model_path,
        "labels": p.labels,
        "max_length": p.cfg.max_length,
        "train": p.cfg.model_dump(),
        "data": p.source.fingerprint(),
        "versions": _versions(),
    }


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False, quiet: bool = False,
          keep_checkpoints: bool = False, prepared: Prepared | None = None,
          callbacks: list[Any] | None = None) -> TrainResult:
    """Train and write the run directory ``cfg.out``; returns a TrainResult with the metrics.

    ``resume`` continues from the newest checkpoint in ``RUN/checkpoints`` (same data and
    options); the batches seen are those of an uninterrupted run. Raises TrainDataError for bad
    data, RunDirError when ``cfg.out`` exists (without ``resume``/``overwrite``). ``callbacks``:
    extra transformers TrainerCallbacks.

    ``cfg.processes > 1`` runs the same call on that many local processes (data parallel,
    tuneprep.train.distributed); a process started by torchrun / accelerate launch trains as
    its rank. Either way the log and weights match a one-process run (to float rounding).
    """
    out = Path(cfg.out)
    world = D.current_world()
    if cfg.processes > 1 and world.size == 1:
        _check_out(out, resume, overwrite)  # fail here, before starting any process
        return D.launch(train, cfg, cfg.processes, resume=resume, overwrite=overwrite, quiet=quiet,
                        keep_checkpoints=keep_checkpoints, prepared=prepared, callbacks=callbacks)
    D.check_world(world, cfg.processes, cfg.batch_size)
    device = setup_torch(cfg.threads or (D.rank_threads(world.local_size) if world.size > 1 else None))
    own_group = D.init_group(world, device)
    if resume and (out / R.CONFIG).exists():
        saved = json.loads((out / R.CONFIG).read_text()).get("train", {})
        if saved and saved.get("data") != cfg.data:
            raise RunDirError(f"{out}: was trained on {saved.get('data')}, not {cfg.data}")
    p = prepared or prepare(cfg)
    cfg = p.cfg
    log = out / R.LOG
    if world.main:  # rank 0 alone writes the run directory
        ckpt = _prepare_out(out, resume, overwrite)
        _write_json(out / R.PREFLIGHT, p.preflight)
        if p.template is not None:
            p.template.save(out / R.TEMPLATE)
        if p.rejects:
            with open(out / "rejects.jsonl", "w") as fh:
                for r in p.rejects:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        if not resume:
            _write_json(out / R.CONFIG, run_config(p, "training"))
        if ckpt:
            state = json.loads((Path(ckpt) / "trainer_state.json").read_text())
            _truncate_log(log, int(state.get("global_step", 0)))
    D.barrier()  # the others wait for the run dir (and read the checkpoint rank 0 chose)
    if not world.main:
        ckpt = _newest_checkpoint(out) if resume else None

    import torch
    from transformers import set_seed

    set_seed(cfg.seed)
    if p.kind == "encoder":
        model = build_encoder_model(p)
        train_rows = p.train
        val_rows = p.val
        collator = encoder_collator(p.tokenizer)
        loss_kind = "encoder"
    else:
        model = _build_causal_model(p, device)
        train_rows = [{"input_ids": a, "labels": b} for a, b in zip(p.train.input_ids, p.train.labels)]
        val_rows = ([{"input_ids": a, "labels": b} for a, b in zip(p.val.input_ids, p.val.labels)]
                    if p.val is not None and len(p.val) else None)
        pad = p.tokenizer.pad_token_id if p.tokenizer.pad_token_id is not None else p.tokenizer.eos_token_id
        collator = CausalCollator(pad)
        loss_kind = "causal"

    lengths = [len(r["input_ids"]) for r in train_rows]
    per_epoch = math.ceil(len(train_rows) / cfg.batch_size / cfg.grad_accum)
    total = cfg.max_steps or max(1, math.ceil(per_epoch * cfg.epochs))
    bf16 = cfg.bf16 if cfg.bf16 is not None else (device == "cuda" and torch.cuda.is_bf16_supported())
    args = _training_args(out, cfg, total, bool(bf16), device, world.size)
    Trainer = make_trainer_class(loss_kind)
    meter = Meter()
    cb = make_progress_callback(meter, log, total, quiet, writer=world.main)
    train_ds: Any = ListDataset(train_rows) if world.size == 1 else D.PaddedRows(ListDataset(train_rows))
    trainer = Trainer(model=model, args=args, train_dataset=train_ds,
                      data_collator=collator, callbacks=[cb, *(callbacks or [])])
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for c in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(c)
    trainer.meter = meter
    trainer.batch_sampler = LengthGroupedBatchSampler(lengths, cfg.batch_size * cfg.grad_accum, cfg.seed)
    trainer.model_accepts_loss_kwargs = False

    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=ckpt)
    train_s = time.perf_counter() - t0
    release_memory()
    eval_loss = None
    if val_rows:  # every rank takes part (the evaluation batches are spread over them)
        eval_loss = evaluate_loss(trainer, val_rows, args.per_device_eval_batch_size)
        trainer.log({"eval_loss": eval_loss})  # a train_log.jsonl row, as Trainer.evaluate writes
        release_memory()
    if not world.main:
        D.finish(own_group)
        return TrainResult(out, {}, rank=world.rank)

    mdir = out / R.MODEL_DIR
    tmp = out / (R.MODEL_DIR + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    trainer.model.save_pretrained(tmp, safe_serialization=True)
    p.tokenizer.save_pretrained(tmp)
    if mdir.exists():
        shutil.rmtree(mdir)
    tmp.rename(mdir)

    rows = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()] if log.exists() else []
    steps = [r for r in rows if "loss" in r]
    tok_s = [r["tokens_per_s"] for r in steps[1:]]  # the first step includes warm-up
    total_tokens = sum(r["tokens"] for r in steps)
    total_secs = sum(r["seconds"] for r in steps)
    metrics = {
        "steps": int(result.global_step),
        "train_seconds_this_session": round(train_s, 2),
        "train_loss_first": steps[0]["loss"] if steps else None,
        "train_loss_last10": round(sum(r["loss"] for r in steps[-10:]) / max(len(steps[-10:]), 1), 5)
        if steps else None,
        "eval_loss": eval_loss,
        "tokens": total_tokens,
        "trained_tokens": sum(r["trained_tokens"] for r in steps),
        "tokens_per_s": round(total_tokens / total_secs, 1) if total_secs else None,
        "tokens_per_s_median": sorted(tok_s)[len(tok_s) // 2] if tok_s else None,
        "peak_rss_mb": round(max(cb.peak_rss, peak_rss_mb())),
        "device": device,
        "threads": torch.get_num_threads(),
        "bf16": bool(bf16),
        "records": len(train_rows),
        "processes": world.size,
    }
    _write_json(out / R.METRICS, metrics)
    _write_json(out / R.CONFIG, run_config(p, "complete"))
    if not keep_checkpoints:
        shutil.rmtree(out / R.CHECKPOINTS, ignore_errors=True)
    D.finish(own_group)
    return TrainResult(out, metrics)


def _training_args(out: Path, cfg: TrainConfig, total: int, bf16: bool, device: str, world: int = 1) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out / R.CHECKPOINTS),
        # the global batch is cfg.batch_size whatever the number of processes
        per_device_train_batch_size=cfg.batch_size // world,
        per_device_eval_batch_size=cfg.batch_size * 2,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        max_steps=total,
        lr_scheduler_type="linear",
        warmup_steps=int(round(cfg.warmup_ratio * total)),
        weight_decay=cfg.weight_decay,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        eval_strategy="no",
        prediction_loss_only=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=bf16,
        use_cpu=device == "cpu",
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        optim="adamw_torch",
        ddp_backend=None if world == 1 else ("nccl" if device == "cuda" else "gloo"),
    )


def _build_causal_model(p: Prepared, device: str) -> Any:
    from transformers import AutoModelForCausalLM

    dtype = default_dtype(device)
    model = AutoModelForCausalLM.from_pretrained(p.model_path, local_files_only=p.model_local, dtype=dtype)
    model.config.use_cache = False
    if p.cfg.method == "lora":
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(r=p.cfg.lora_r, lora_alpha=p.cfg.lora_alpha, lora_dropout=p.cfg.lora_dropout,
                          target_modules="all-linear", task_type="CAUSAL_LM", bias="none")
        model = get_peft_model(model, lcfg)
    return model
