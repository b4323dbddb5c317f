"""The files of an eval directory, and reading them back (for compare, review and the report).

An eval directory (written by ``tuneprep eval``) holds:

* ``metrics.json`` — the metrics (keys as ``tuneprep metrics --json``);
* ``predictions.jsonl`` — one line per test record: ``id``, ``gold``, ``prediction`` and, for
  classification, ``probs`` (label → probability) and ``confidence`` (probability of the
  prediction); for generation, ``reference`` and per-record ``exact_match``/``token_f1``/``rouge_l``;
* ``eval.json`` — what was evaluated: model, method, data, limit, seconds, peak RSS, leakage;
* ``review.jsonl`` — the misclassified records for review (see ``review.py``);
* ``report.html`` — the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tuneprep.errors import TuneprepError

METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"
INFO = "eval.json"
REVIEW = "review.jsonl"
REPORT = "report.html"


class EvalDirError(TuneprepError, ValueError):
    """An eval directory that is missing a file or holds a malformed one (message names it)."""


def read_json(path: Path, required: bool = True) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when absent and not required."""
    if not path.exists():
        if required:
            raise EvalDirError(f"{path}: missing (is {path.parent} an eval directory written by `tuneprep eval`?)")
        return None
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EvalDirError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise EvalDirError(f"{path}: expected a JSON object")
    return obj


def read_predictions(eval_dir: str | Path) -> list[dict[str, Any]]:
    """Every line of ``DIR/predictions.jsonl``; each must have an ``id``."""
    path = Path(eval_dir) / PREDICTIONS
    if not path.exists():
        raise EvalDirError(f"{path}: missing (is {eval_dir} an eval directory written by `tuneprep eval`?)")
    out = []
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise EvalDirError(f"{path}:{lineno}: invalid JSON: {e}") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise EvalDirError(f"{path}:{lineno}: a prediction needs an 'id'")
            out.append(obj)
    return out


def run_name(eval_dir: str | Path) -> str:
    """A short display name for an eval dir: its ``eval.json`` name, else the folder name."""
    info = read_json(Path(eval_dir) / INFO, required=False) or {}
    return str(info.get("name") or Path(eval_dir).resolve().name)
