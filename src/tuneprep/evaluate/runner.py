"""``tuneprep eval``: run a model (a training run or a registry/local model) on test records.

Classification (text + label records):

* ``loglik`` — every label verbalizer is scored under the prompt template (the run's saved
  ``template.json``; for a plain model, a template built from the test labels or ``labels``)
  and the most likely label is the prediction. Gives per-label probabilities, so errors can
  be ranked by confidence and calibration measured.
* ``generate`` — the model answers freely; the answer is parsed back to a label with the
  template. An answer that names no label is an explicit ``unparseable`` prediction (wrong).

Chat / SFT data (``messages`` records): ``generate`` answers the conversation up to its last
assistant turn and is scored against that turn (exact match, token F1, ROUGE-L).

Before scoring, the test records are checked against the run's training data (``leakage.py``);
``strict`` refuses to evaluate when any test record was seen in training.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tuneprep.evaluate import predictions as files
from tuneprep.evaluate.data import (
    load_test_records,
    recorded_fingerprints,
    stratified_sample,
    task_of,
    training_sources,
)
from tuneprep.evaluate.genmetrics import (
    generation_metrics,
    prompt_messages,
    reference_answer,
    score_generation,
)
from tuneprep.evaluate.leakage import check_leakage, file_fingerprint
from tuneprep.evaluate.metrics import GOLD_FIELD, classification_metrics
from tuneprep.evaluate.parallel import ParallelPredictor, RayPredictor
from tuneprep.evaluate.predictor import EvalError, ModelPredictor, Predictor
from tuneprep.evaluate.review import error_analysis, generation_review, review_records, write_review
from tuneprep.io.readers import InputError, load_records
from tuneprep.io.writers import atomic_open, write_jsonl
from tuneprep.models.longinput import LongInputStats
from tuneprep.models.precision import BF16_MARGIN, PrecisionStats
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import is_run_dir
from tuneprep.models.rundir import load_template
from tuneprep.models.runtime import peak_rss_mb
from tuneprep.ray_cluster import Engine, describe
from tuneprep.ui.progress import TaskBar


class LeakageError(EvalError):
    """``strict`` evaluation refused: test records overlap the training data."""


class EvalConfig(BaseModel):
    """Options of one evaluation (the CLI's flags)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A training run dir, registry name (smollm2-135m), local HF dir or hub id.")
    data: str = Field(description="Test file, or a recipe run dir (its test/ split).")
    out: str = Field(description="Output directory.")
    method: Literal["loglik", "generate"] | None = Field(
        None, description="Default: loglik for classification, generate for chat data.")
    limit: int | None = Field(None, ge=1, description="Seeded stratified subsample of this many records.")
    seed: int = 0
    batch_size: int = Field(8, ge=1)
    labels: list[str] | None = Field(None, description="Label set for a zero-shot model (default: test labels).")
    strict: bool = Field(False, description="Refuse to evaluate when test records overlap training data.")
    near_threshold: float = Field(0.8, gt=0, le=1)
    train_data: list[str] = Field(default_factory=list, description="More training files to check overlap with.")
    max_new_tokens: int | None = Field(None, ge=1, description="Default: 8 for labels, 128 for chat answers.")
    name: str | None = Field(None, description="Display name in reports (default: the model's name).")
    report: bool = True
    max_tokens: int | None = Field(None, ge=1, description=(
        "Long inputs (loglik): cut each text to this many tokens (of the text alone), or split it with chunk."))
    truncate: Literal["start", "end"] = Field("end", description=(
        "With max_tokens: 'end' cuts the end (keeps the first N tokens), 'start' cuts the start "
        "(keeps the last N tokens)."))
    quantize: Literal["int8"] | None = Field(None, description=(
        "int8: dynamic int8 quantisation of the Linear layers (CPU); less CPU time, different scores "
        "(measured: README, Evaluation at scale)."))
    bf16: bool = Field(False, description=(
        "Score labels with a bf16 copy of the model (several times faster on CPUs with AMX / "
        "AVX512-BF16) and re-score in fp32 every record whose two best labels are closer than "
        "bf16_margin, so predictions stay fp32's (measured: benchmarks/eval_bf16.py)."))
    bf16_margin: float = Field(BF16_MARGIN, ge=0, description=(
        "With bf16: the log-probability margin (nats) under which a record is re-scored in fp32."))
    workers: int = Field(1, ge=1, description=(
        "Processes, each with its own model copy and cores / workers threads; predictions are merged "
        "in input order (same predictions as one worker)."))
    chunk: bool = Field(False, description=(
        "With max_tokens: split long texts into N-token pieces and score each; a label's score is "
        "the mean over pieces of its log-probability. Nothing is cut."))
    engine: Engine = Field("local", description=(
        "local: this machine (one process, or --workers); ray: model replicas on a Ray cluster, the "
        "--workers chunks scored by the same code, predictions identical (docs/scaling.md)."))
    address: str | None = Field(None, description=(
        "engine ray: the cluster (host:6379, ray://host:10001, auto); default RAY_ADDRESS, else Ray on this machine."))
    replicas: int | None = Field(None, ge=1, description=(
        "engine ray: model replicas (one Ray actor each, the model loaded once per actor); default: as "
        "many as the cluster's CPUs hold, CPUs // threads."))
    threads: int = Field(1, ge=1, description="engine ray: CPU threads (Ray CPUs) per replica.")


@dataclass
class EvalResult:
    out: Path
    metrics: dict[str, Any]
    info: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)


def _progress(total: int, desc: str, enabled: bool) -> TaskBar:
    return TaskBar(desc, total, "records", enabled)


def _batches(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def _check_leakage(cfg: EvalConfig, records: list[dict[str, Any]], test_paths: list[Path],
                   run_dir: Path | None, log: Callable[[str], None]) -> dict[str, Any]:

    sources = training_sources(run_dir, cfg.data, cfg.train_data)
    test_set = {p.resolve() for p in test_paths}
    sources = [s for s in sources if s.resolve() not in test_set] + [s for s in sources if s.resolve() in test_set]

    train: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for s in list(sources):
        try:
            train.extend(load_records(s))
        except (InputError, OSError) as e:  # a recorded path that is not (or no longer) record data
            unreadable.append(f"{s}: {e}")
            sources.remove(s)
            log(f"leakage check: skipped {s} ({e})")
    rep = check_leakage(records, train, threshold=cfg.near_threshold)
    fps = recorded_fingerprints(run_dir)
    rep.fingerprint_match = [str(p) for p in test_paths if fps and file_fingerprint(str(p)) in fps]
    out = rep.to_dict()
    out["train_sources"] = [str(s) for s in sources]
    if unreadable:
        out["unreadable_sources"] = unreadable
    if not sources and run_dir is None:
        out["note"] = "no training data known (a base model): nothing to check against"
    elif not sources:
        out["note"] = "the run recorded no training data path that exists here; pass --train-data"
    if out["overlap_count"] or rep.fingerprint_match:
        ids = out["leaked_ids"]
        shown = ", ".join(ids[:20]) + (f" ... (+{len(ids) - 20})" if len(ids) > 20 else "")
        log(f"LEAKAGE: {out['overlap_count']} of {len(records)} test records appear in training data "
            f"({out['exact_count']} exact, {out['near_count']} near-duplicate at Jaccard >= {cfg.near_threshold})"
            + (f": {shown}" if ids else "")
            + (f"; test file fingerprint matches the run's data: {rep.fingerprint_match}" if rep.fingerprint_match else ""))
        if cfg.strict:
            raise LeakageError(f"--strict: {out['overlap_count']} test records overlap the training data "
                               f"(ids: {shown or '-'}); refusing to evaluate")
    elif sources:
        log(f"leakage check: 0 of {len(records)} test records overlap {len(train)} training records "
            f"({len(sources)} files)")
    return out


def evaluate(cfg: EvalConfig, predictor: Predictor | None = None, progress: bool = True,
             log: Callable[[str], None] | None = None) -> EvalResult:
    """Evaluate a model on test records and write metrics, predictions, review queue and report.

    ``predictor`` defaults to loading ``cfg.model``; tests and notebooks can pass their own.
    """

    say = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.time()
    out = Path(cfg.out)
    records, test_paths = load_test_records(cfg.data)
    task = task_of(records, cfg.data)
    n_all = len(records)
    sample_note = None
    if cfg.limit and cfg.limit < n_all:
        keep = stratified_sample(records, cfg.limit, seed=cfg.seed, key="label" if task == "classify" else None)
        records = [records[i] for i in keep]
        sample_note = (f"--limit {cfg.limit}: seeded (seed {cfg.seed}) "
                       f"{'stratified ' if task == 'classify' else ''}subsample of {len(records)} of {n_all} records")
        say(sample_note)
    method = cfg.method or ("loglik" if task == "classify" else "generate")
    if task == "chat" and method == "loglik":
        raise EvalError(f"{cfg.data}: chat records have no label set to score; use --method generate")
    if any(isinstance(r.get("label"), list) for r in records) and task == "classify":
        raise EvalError(f"{cfg.data}: multi-label records; eval scores single-label classification "
                        "(use `tuneprep metrics` on your own predictions)")

    # Labels and leakage are checked before the model is loaded: a refusal costs no model load.
    if predictor is not None:
        run_dir, saved_template = getattr(predictor, "run_dir", None), predictor.template
    else:
        run_dir = Path(cfg.model) if is_run_dir(cfg.model) else None
        saved_template = load_template(run_dir) if run_dir is not None else None
    template = _template_for(saved_template, records, cfg) if task == "classify" else None
    leakage = _check_leakage(cfg, records, test_paths, run_dir, say)
    t_load = time.time()
    if cfg.max_tokens is None and cfg.chunk:
        raise EvalError("--chunk needs --max-tokens N (the size of a piece)")
    if cfg.max_tokens is not None and method != "loglik":
        raise EvalError("--max-tokens/--truncate/--chunk apply to --method loglik (label scoring)")
    if cfg.engine == "ray" and cfg.workers > 1:
        raise EvalError("--workers is the local engine's; with --engine ray use --replicas (and --threads)")
    if predictor is not None:
        pred = predictor
    elif cfg.engine == "ray":
        pred = RayPredictor(cfg.model, cfg.batch_size, replicas=cfg.replicas, threads=cfg.threads,
                            address=cfg.address, **_model_settings(cfg))
        say(f"{describe()}; {pred.workers} model replicas of {cfg.threads} thread{'s' * (cfg.threads != 1)}")
    elif cfg.workers > 1:
        pred = ParallelPredictor(cfg.workers, cfg.model, cfg.batch_size, **_model_settings(cfg))
    else:
        pred = ModelPredictor(cfg.model, cfg.batch_size, **_model_settings(cfg))
    load_s = time.time() - t_load

    t_pred = time.time()
    if hasattr(pred, "new_stats"):  # a predictor reused across evaluations counts this one only
        pred.new_stats()
    try:
        preds, metrics = _predict(pred, template, records, method, task, cfg, progress, say)
    finally:
        if isinstance(pred, ParallelPredictor):
            pred.close()
    pred_s = time.time() - t_pred


    by_id = {str(r["id"]): r for r in records}
    review = review_records(preds, by_id) if task == "classify" else generation_review(preds, by_id)
    info: dict[str, Any] = {
        "name": cfg.name or _display_name(cfg.model),
        "model": cfg.model, "run_dir": str(run_dir) if run_dir else None, "task": task, "method": method,
        "data": cfg.data, "test_files": [str(p) for p in test_paths], "n_test_records": n_all, "n": len(records),
        "limit": cfg.limit, "seed": cfg.seed, "sample": sample_note, "batch_size": cfg.batch_size,
        "quantize": cfg.quantize, "bf16": cfg.bf16, "workers": cfg.workers, "engine": cfg.engine,
        **({"replicas": pred.workers, "threads_per_replica": cfg.threads}
           if isinstance(pred, RayPredictor) else {}),
        "zero_division": 0.0,
        "template": template.model_dump() if template is not None else None,
        "seconds": {"load": round(load_s, 2), "predict": round(pred_s, 2), "per_record": round(pred_s / len(records), 4)},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **({"peak_rss_mb_worker": round(_children_peak_rss_mb(), 1)} if cfg.workers > 1 and predictor is None else {}),
        "leakage": leakage, "review_count": len(review),
    }
    if task == "classify":
        info["error_analysis"] = error_analysis(preds, metrics)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / files.METRICS, metrics, atomic_open)
    write_jsonl(out / files.PREDICTIONS, preds)
    write_review(out / files.REVIEW, review)
    info["seconds"]["total"] = round(time.time() - t0, 2)
    info["peak_rss_mb"] = round(peak_rss_mb(), 1)
    _write_json(out / files.INFO, info, atomic_open)
    # cfg.report is honoured by the caller (tuneprep.api.evaluate): the report renders results
    # after evaluation, it is not part of it (docs/architecture.md, "report renders only").
    return EvalResult(out=out, metrics=metrics, info=info, predictions=preds)


def _model_settings(cfg: EvalConfig) -> dict[str, Any]:
    """The predictor's keyword settings from the config (the same for every engine)."""
    return {"max_tokens": cfg.max_tokens, "truncate": cfg.truncate, "chunk": cfg.chunk, "quantize": cfg.quantize,
            "bf16": cfg.bf16, "bf16_margin": cfg.bf16_margin}


def _children_peak_rss_mb() -> float:
    """Largest peak RSS of a finished child process (the --workers processes), MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _predict(pred: Predictor, template: ClassifyTemplate | None, records: list[dict[str, Any]], method: str,
             task: str, cfg: EvalConfig, progress: bool,
             say: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Predictions and metrics: labels (classification) or answers (chat)."""
    if template is None:
        preds = _predict_chat(pred, records, cfg, progress)
        return preds, generation_metrics([p["prediction"] for p in preds], [p["reference"] for p in preds],
                                         seed=cfg.seed)
    preds = _predict_classify(pred, template, records, method, cfg, progress)
    metrics = classification_metrics([r["label"] for r in records], [p["prediction"] for p in preds],
                                     labels=template.labels, seed=cfg.seed)
    long_inputs = getattr(pred, "long_inputs", None)
    if method == "loglik" and isinstance(long_inputs, LongInputStats):
        metrics["long_inputs"] = long_inputs.to_dict()
        note = _long_input_note(long_inputs)
        if note:
            say(note)
    precision = getattr(pred, "precision", None)
    if method == "loglik" and isinstance(precision, PrecisionStats):
        metrics["precision"] = precision.to_dict()
        say(f"bf16 scoring: {precision.rescored_fp32:,} of {precision.records:,} records re-scored in fp32 "
            f"(label margin < {precision.margin} nats)")
    return preds, metrics


def _write_json(path: Path, obj: Any, atomic_open: Any) -> None:
    import orjson

    with atomic_open(path) as fh:
        fh.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")


def _display_name(model: str) -> str:
    p = Path(model)
    return p.name if p.exists() else model


def _template_for(tpl: ClassifyTemplate | None, records: Sequence[dict[str, Any]], cfg: EvalConfig) -> ClassifyTemplate:
    """The run's saved template, or (plain model) one built from ``--labels`` or the test labels."""
    gold = sorted({str(r["label"]) for r in records})
    if tpl is None:
        labels = cfg.labels or gold
        missing = sorted(set(gold) - set(labels))
        if missing:
            raise EvalError(f"{cfg.data}: gold labels {missing} are not in --labels {labels}")
        return ClassifyTemplate(labels=labels)
    missing = sorted(set(gold) - set(tpl.labels))
    if missing:
        raise EvalError(f"{cfg.data}: gold labels {missing} are not in the run's label set {tpl.labels} "
                        f"(template.json of {cfg.model})")
    return tpl


def _long_input_note(st: LongInputStats) -> str | None:
    """One line saying what the long-input policy did, or None when it did nothing."""
    parts = []
    if st.truncated:
        kept = "first" if st.truncate == "end" else "last"
        parts.append(f"{st.truncated} of {st.records} records cut to their {kept} {st.max_tokens} tokens "
                     f"({st.tokens_cut:,} tokens cut, at most {st.tokens_cut_max:,} from one record)")
    if st.chunked:
        parts.append(f"{st.chunked} of {st.records} records split into {st.chunks} pieces of <= {st.max_tokens} "
                     "tokens (label score: mean of per-piece log-probabilities)")
    if st.fit_to_run_max_length:
        parts.append(f"{st.fit_to_run_max_length} texts shortened (start kept) to the run's max_length")
    return "long inputs: " + "; ".join(parts) if parts else None


def _accepts_on_batch(fn: Callable[..., Any]) -> bool:
    import inspect

    try:
        return "on_batch" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _predict_classify(pred: Predictor, template: ClassifyTemplate, records: Sequence[dict[str, Any]],
                      method: str, cfg: EvalConfig, progress: bool) -> list[dict[str, Any]]:
    texts = [str(r["text"]) for r in records]
    out: list[dict[str, Any]] = []
    labels = template.labels
    bar = _progress(len(texts), f"eval {method}", progress)
    # A scorer that reports progress itself gets every text in one call (the shared prompt
    # prefix is then computed once for all); others are called in chunks.
    one_call = _accepts_on_batch(pred.score if method == "loglik" else pred.generate)
    try:
        for a, b in _batches(len(texts), len(texts) if one_call else cfg.batch_size * 4):
            if method == "loglik":
                probs = (pred.score(template, texts[a:b], on_batch=bar.update) if one_call
                         else pred.score(template, texts[a:b]))
                if probs.shape != (b - a, len(labels)):
                    raise EvalError(f"scorer returned shape {probs.shape}, expected {(b - a, len(labels))}")
                for r, row in zip(records[a:b], probs):
                    j = int(np.argmax(row))
                    out.append({"id": r["id"], GOLD_FIELD: r["label"], "prediction": labels[j],
                                "confidence": float(row[j]),
                                "probs": {lab: float(x) for lab, x in zip(labels, row)}, "text": r["text"]})
            else:
                msgs = [template.messages(t) for t in texts[a:b]]
                answers = (pred.generate(msgs, cfg.max_new_tokens or 8, on_batch=bar.update) if one_call
                           else pred.generate(msgs, cfg.max_new_tokens or 8))
                for r, ans in zip(records[a:b], answers):
                    lab = template.label_for_answer(ans)
                    row = {"id": r["id"], GOLD_FIELD: r["label"], "prediction": lab, "raw_output": ans, "text": r["text"]}
                    if lab is None:
                        row["unparseable"] = True
                    out.append(row)
            if not one_call:
                bar.update(b - a)
    finally:
        bar.close()
    return out


def _predict_chat(pred: Predictor, records: Sequence[dict[str, Any]], cfg: EvalConfig,
                  progress: bool) -> list[dict[str, Any]]:

    out: list[dict[str, Any]] = []
    todo = []
    for r in records:
        ref = reference_answer(r)
        if ref is None:
            raise EvalError(f"{cfg.data}: record {r['id']!r} has no assistant message to use as the reference")
        prompt = prompt_messages(r)
        if not prompt:
            raise EvalError(f"{cfg.data}: record {r['id']!r} has nothing before its assistant answer")
        todo.append((r, prompt, ref))
    bar = _progress(len(todo), "eval generate", progress)
    one_call = _accepts_on_batch(pred.generate)
    try:
        for a, b in _batches(len(todo), len(todo) if one_call else cfg.batch_size * 4):
            msgs = [p for _, p, _ in todo[a:b]]
            answers = (pred.generate(msgs, cfg.max_new_tokens or 128, on_batch=bar.update) if one_call
                       else pred.generate(msgs, cfg.max_new_tokens or 128))
            for (r, prompt, ref), ans in zip(todo[a:b], answers):
                out.append({"id": r["id"], "prompt": prompt[-1]["content"], "reference": ref, "prediction": ans,
                            **score_generation(ans, ref)})
            if not one_call:
                bar.update(b - a)
    finally:
        bar.close()
    return out
