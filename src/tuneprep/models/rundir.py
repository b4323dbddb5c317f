"""The training run directory layout: file names, the run marker, reading a run's config.

A leaf of the models area (docs/architecture.md): training writes runs with these names,
``tuneprep.models.registry.load_model`` loads them, evaluation and the report read them; no
other module spells a run file name.

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

from tuneprep.errors import TuneprepError
from tuneprep.models.prompt import ClassifyTemplate

RUN_FORMAT = "tuneprep-run/1"  # marker key in a training run's config.json
CONFIG = "config.json"
TEMPLATE = "template.json"
MODEL_DIR = "model"
LOG = "train_log.jsonl"
PREFLIGHT = "preflight.json"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"


REJECTS = "rejects.jsonl"


class ModelError(TuneprepError, RuntimeError):
    """A model that cannot be found or loaded; the message says what to install or pass."""


@dataclass
class LoadedModel:
    """A model ready for inference, from a training run or from a model name / directory.

    ``kind``: ``lora`` | ``full`` (a tuned causal LM), ``encoder`` (a tuned classifier) or
    ``causal`` (a base causal LM that is no run). ``path`` is the run directory (None when the
    model is no run); ``template``/``labels`` are set for classification runs only.
    """

    path: Path | None
    model: Any
    tokenizer: Any
    template: ClassifyTemplate | None
    task: str | None  # "classify" | "sft" for runs; None for a base model
    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def is_run(self) -> bool:
        return self.path is not None


TrainedRun = LoadedModel  # the name training code and tests use for a loaded run


def is_run_dir(path: str | Path) -> bool:
    """True when ``path`` is a tuneprep training run directory (config.json with the run marker)."""
    cfg = Path(path) / CONFIG
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("format") == RUN_FORMAT
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def load_template(path: str | Path) -> ClassifyTemplate | None:
    """The run's saved ClassifyTemplate, or None (SFT runs have none)."""
    p = Path(path) / TEMPLATE
    return ClassifyTemplate.load(p) if p.exists() else None


def read_config(path: str | Path) -> dict[str, Any]:
    """The run's config.json as a dict; ModelError when ``path`` is not a tuneprep run."""
    path = Path(path)
    if not is_run_dir(path):
        raise ModelError(f"{path}: not a tuneprep run directory (no {CONFIG} with format {RUN_FORMAT})")
    return json.loads((path / CONFIG).read_text())


