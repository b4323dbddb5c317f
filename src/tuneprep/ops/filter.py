"""Filter operators: length bounds and field rules. Each drop says why, with the measured value."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from tuneprep.ops.base import Drop, OpParams, RecordOp, register
from tuneprep.records import get_path, record_text, set_score


class LengthParams(OpParams):
    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None

    @model_validator(mode="after")
    def _check(self) -> LengthParams:
        for lo, hi in (("min_chars", "max_chars"), ("min_words", "max_words")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} ({a}) is greater than {hi} ({b})")
        return self


@register
class FilterLength(RecordOp):
    """Keep records whose text length (chars and/or whitespace words) is within bounds."""

    name: ClassVar[str] = "filter.length"
    Params: ClassVar[type[OpParams]] = LengthParams
    description: ClassVar[str] = "Drop records shorter or longer than the bounds (chars / words)."

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        p = self.params
        text = record_text(record)
        chars = len(text)
        words = len(text.split())
        set_score(record, self.name, {"chars": chars, "words": words})
        if p.min_words is not None and words < p.min_words:
            return Drop("too_few_words", {"words": words, "min_words": p.min_words})
        if p.max_words is not None and words > p.max_words:
            return Drop("too_many_words", {"words": words, "max_words": p.max_words})
        if p.min_chars is not None and chars < p.min_chars:
            return Drop("too_few_chars", {"chars": chars, "min_chars": p.min_chars})
        if p.max_chars is not None and chars > p.max_chars:
            return Drop("too_many_chars", {"chars": chars, "max_chars": p.max_chars})
        return record


class FieldsParams(OpParams):
    required: list[str] = []
    """Fields (dotted paths allowed) that must be present and non-empty."""
    keep_regex: dict[str, str] = {}
    """field → regex: keep only records where the field matches (search)."""
    drop_regex: dict[str, str] = {}
    """field → regex: drop records where the field matches (search)."""
    allowed_values: dict[str, list[str]] = {}
    """field → allowed values (e.g. label: [positive, negative, neutral])."""

    @field_validator("keep_regex", "drop_regex")
    @classmethod
    def _compiles(cls, v: dict[str, str]) -> dict[str, str]:
        for field, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"regex for '{field}' does not compile: {e}") from None
        return v


def _field_text(record: dict[str, Any], field: str) -> str | None:
    if field == "text" and "text" not in record:
        return record_text(record) or None
    try:
        v = get_path(record, field)
    except KeyError:
        return None
    return v if isinstance(v, str) else (None if v is None else str(v))


@register
class FilterFields(RecordOp):
    """Required fields, allowed values, and regex keep/drop rules on any field."""

    name: ClassVar[str] = "filter.fields"
    Params: ClassVar[type[OpParams]] = FieldsParams
    description: ClassVar[str] = "Require fields, restrict values, keep/drop by regex."

    def setup(self) -> None:
        self._keep = {f: re.compile(p) for f, p in self.params.keep_regex.items()}
        self._drop = {f: re.compile(p) for f, p in self.params.drop_regex.items()}

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        for field in self.params.required:
            v = _field_text(record, field)
            if v is None or not v.strip():
                return Drop("missing_field", {"field": field})
        for field, allowed in self.params.allowed_values.items():
            v = _field_text(record, field)
            if v not in allowed:
                return Drop("value_not_allowed", {"field": field, "value": v, "allowed": allowed})
        for field, rx in self._keep.items():
            v = _field_text(record, field)
            if v is None or not rx.search(v):
                return Drop("no_keep_match", {"field": field, "pattern": rx.pattern})
        for field, rx in self._drop.items():
            v = _field_text(record, field)
            if v is not None:
                m = rx.search(v)
                if m:
                    return Drop("drop_match", {"field": field, "pattern": rx.pattern, "match": m.group(0)[:80]})
        return record
