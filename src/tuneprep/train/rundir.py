"""The training run directory: layout, and loading a run back for prediction and evaluation.

    RUN/config.json        resolved config: format marker, task, method (lora|full|encoder),
                           base model, labels, max_length, training options, data fingerprint
    RUN/template.json      ClassifyTemplate (labels + verbalizers + prompt); classify runs only
    RUN/model/             LoRA adapter, or full weights (causal LM or encoder classifier),
                           with the tokenizer
    RUN/train_log.jsonl    one line per logged step: step, loss, lr, tokens/s, rss; eval lines
    RUN/preflight.json     counts, rejects by reason, token-length histogram, a marked example
    RUN/rejects.jsonl      records not trained on: {"id", "source", "reason", "detail"}
    RUN/metrics.json       summary: steps, train seconds, tokens/s, peak RSS, final losses
    RUN/checkpoints/       Trainer checkpoints for --resume (removed on success unless kept)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import RUN_FORMAT, ModelError, is_run_dir

CONFIG = "config.json"
TEMPLATE = "template.json"
MODEL_DIR = "model"
LOG = "train_log.jsonl"
PREFLIGHT = "preflight.json"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"


@dataclass
class TrainedRun:
    """A loaded training run. ``kind``: ``lora`` | ``full`` (causal LM) or ``encoder`` (classifier)."""

    path: Path
    model: Any
    tokenizer: Any
    template: ClassifyTemplate | None
    task: str  # "classify" | "sft"
    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


def read_config(path: str | Path) -> dict[str, Any]:
    """The run's config.json as a dict; ModelError when ``path`` is not a tuneprep run."""
    path = Path(path)
    if not is_run_dir(path):
        raise ModelError(f"{path}: not a tuneprep run directory (no {CONFIG} with format {RUN_FORMAT})")
    return json.loads((path / CONFIG).read_text())


def load_run(path: str | Path, *, device: str | None = None, merge: bool = True) -> TrainedRun:
    """Load a run for inference: a TrainedRun with model (eval mode), tokenizer, template, labels.

    LoRA runs load the base model named in the config and apply the adapter (merged into the
    weights when ``merge``, which makes inference as fast as the base model); full runs and
    encoder runs load their saved weights. ``template`` is None for SFT runs.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from tuneprep.models.registry import default_dtype, resolve_model
    from tuneprep.models.runtime import setup_torch

    path = Path(path)
    cfg = read_config(path)
    dev = device or setup_torch()
    mdir = path / MODEL_DIR
    if not mdir.is_dir():
        raise ModelError(f"{path}: the run has no {MODEL_DIR}/ (training did not finish?)")
    kind = cfg["method"] if cfg.get("kind") != "encoder" else "encoder"
    tok = AutoTokenizer.from_pretrained(mdir, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = default_dtype(dev)
    if kind == "encoder":
        model = AutoModelForSequenceClassification.from_pretrained(mdir, local_files_only=True, dtype=dtype)
    elif kind == "lora":
        from peft import PeftModel

        base = resolve_model(cfg["base_model"])
        model = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=base.local, dtype=dtype)
        model = PeftModel.from_pretrained(model, mdir)
        if merge:
            model = model.merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(mdir, local_files_only=True, dtype=dtype)
    model.to(dev).eval()
    template = ClassifyTemplate.load(path / TEMPLATE) if (path / TEMPLATE).exists() else None
    return TrainedRun(path=path, model=model, tokenizer=tok, template=template, task=cfg["task"],
                      kind=kind, config=cfg, labels=list(template.labels) if template else [])
