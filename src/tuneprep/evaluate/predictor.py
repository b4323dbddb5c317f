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
from tuneprep.models.precision import BF16_MARGIN, PrecisionStats, bf16_copy, close_calls
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.quantize import Quantize, quantize_model
from tuneprep.models.registry import load_model
from tuneprep.models.scoring import LabelScores, generate, score_texts


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
                 truncate: Literal["start", "end"] = "end", chunk: bool = False, quantize: Quantize | None = None,
                 bf16: bool = False, bf16_margin: float = BF16_MARGIN):
        m = load_model(name_or_path)
        if bf16 and (quantize is not None or m.kind == "encoder"):
            raise EvalError("--bf16 scores a causal LM in bf16; it does not combine with --quantize "
                            "or apply to an encoder run")
        self.model, self.tokenizer = quantize_model(m.model, quantize), m.tokenizer
        # bf16 scores every record; fp32 (self.model) re-scores the close calls only
        self.model_bf16 = bf16_copy(m.model) if bf16 else None
        self.bf16_margin = bf16_margin
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
        self.precision = PrecisionStats(self.bf16_margin) if self.model_bf16 is not None else None
        return self.long_inputs

    def score(self, template: ClassifyTemplate, texts: list[str],
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        res = self._score(self.model_bf16 if self.model_bf16 is not None else self.model, template, texts, on_batch)
        self.long_inputs.add(res.long_inputs)
        probs = res.probs
        if self.model_bf16 is not None and self.precision is not None:
            close = close_calls(probs, self.bf16_margin)
            if close.size:
                probs = probs.copy()
                probs[close] = self._score(self.model, template, [texts[i] for i in close], None).probs
            self.precision.add(PrecisionStats(self.bf16_margin, len(texts), int(close.size)))
        return probs

    def _score(self, model: object, template: ClassifyTemplate, texts: list[str],
               on_batch: Callable[[int], None] | None) -> LabelScores:
        return score_texts(model, self.tokenizer, template, texts, batch_size=self.batch_size,
                           max_length=self.max_length, max_tokens=self.max_tokens, truncate=self.truncate,
                           chunk=self.chunk, on_batch=on_batch)

    def generate(self, messages_list: list[list[dict[str, str]]], max_new_tokens: int,
                 on_batch: Callable[[int], None] | None = None) -> list[str]:
        if self.kind == "encoder":
            raise EvalError(f"{self.run_dir}: an encoder classification run cannot generate; use --method loglik")

        return list(generate(self.model, self.tokenizer, messages_list, max_new_tokens, batch_size=self.batch_size,
                             on_batch=on_batch))
