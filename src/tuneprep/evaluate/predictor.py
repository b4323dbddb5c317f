"""What evaluation runs: the ``Predictor`` protocol and the model-backed predictor (one process).

``parallel.py`` runs the same predictor in worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from tuneprep.errors import TuneprepError
from tuneprep.models.longinput import LongInputStats
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.quantize import Quantize, quantize_model
from tuneprep.models.registry import load_model
from tuneprep.models.scoring import generate, score_texts


class EvalError(TuneprepError, ValueError):
    """An evaluation that cannot run as asked (message says why and what to change)."""


class Predictor(Protocol):
    """What eval needs from a model. ``template`` is None for a model without a saved template."""

    template: ClassifyTemplate | None
    run_dir: Path | None

    def score(self, template: ClassifyTemplate, texts: list[str]) -> np.ndarray: ...
    # Optionally also: ``score(..., on_batch=callable)`` for progress within one call, and a
    # ``long_inputs`` attribute (LongInputStats) saying what the long-input policy cut.

    def generate(self, messages_list: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]: ...


class ModelPredictor:
    """A causal LM (or an encoder classification run) loaded through the model registry."""

    def __init__(self, name_or_path: str, batch_size: int = 8, max_tokens: int | None = None,
                 truncate: Literal["start", "end"] = "end", chunk: bool = False, quantize: Quantize | None = None):
        m = load_model(name_or_path)
        self.model, self.tokenizer = quantize_model(m.model, quantize), m.tokenizer
        self.template: ClassifyTemplate | None = m.template
        self.kind = m.kind
        self.batch_size = batch_size
        self.run_dir: Path | None = m.path
        self.max_length: int | None = m.config.get("max_length")
        self.max_tokens, self.truncate, self.chunk = max_tokens, truncate, chunk
        self.long_inputs = self.new_stats()

    def new_stats(self) -> LongInputStats:
        """Start counting what the long-input policy does afresh (one evaluation); returns the counter."""
        self.long_inputs = LongInputStats(max_tokens=self.max_tokens, chunk=self.chunk and bool(self.max_tokens),
                                          truncate=None if self.chunk or not self.max_tokens else self.truncate)
        return self.long_inputs

    def score(self, template: ClassifyTemplate, texts: list[str],
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        res = score_texts(self.model, self.tokenizer, template, texts, batch_size=self.batch_size,
                          max_length=self.max_length, max_tokens=self.max_tokens, truncate=self.truncate,
                          chunk=self.chunk, on_batch=on_batch)
        self.long_inputs.add(res.long_inputs)
        return res.probs

    def generate(self, messages_list: list[list[dict[str, str]]], max_new_tokens: int,
                 on_batch: Callable[[int], None] | None = None) -> list[str]:
        if self.kind == "encoder":
            raise EvalError(f"{self.run_dir}: an encoder classification run cannot generate; use --method loglik")

        return list(generate(self.model, self.tokenizer, messages_list, max_new_tokens, batch_size=self.batch_size,
                             on_batch=on_batch))
