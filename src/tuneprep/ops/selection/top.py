"""``select.top``: keep the best ``n`` (or ``fraction``) records by any score in the record.

The score is read at a dotted path, e.g. ``meta.scores.filter.length.words``,
``meta.annotation.confidence``, ``meta.scores.filter.label_issues`` (cleanlab's label quality)
or ``meta.scores.select.relevance``. Ties are broken by the seeded priority of
``select.sample``, so the choice is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.ops.selection.common import field_value, priority


class TopParams(OpParams):
    by: str
    """Dotted path of the score (meta.scores.<op>..., meta.annotation.confidence, a top-level field)."""
    n: int | None = Field(None, ge=0)
    """Keep this many records."""
    fraction: float | None = Field(None, ge=0, le=1)
    """Keep this fraction of the records that have a score (rounded up)."""
    order: Literal["desc", "asc"] = "desc"
    """desc keeps the highest scores, asc the lowest (e.g. a loss or a perplexity)."""
    missing: Literal["drop", "keep"] = "drop"
    """A record without a numeric score at `by`: drop it (reason missing_score) or keep it."""
    seed: int = 0
    """Seed of the tie-break order."""

    @model_validator(mode="after")
    def _one_of(self) -> TopParams:
        if (self.n is None) == (self.fraction is None):
            raise ValueError("give exactly one of n or fraction")
        return self


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return None
    return float(v)


@register
class SelectTop(GlobalOp):
    """Keep the top n / fraction of records by a score path, ascending or descending."""

    name: ClassVar[str] = "select.top"
    Params: ClassVar[type[OpParams]] = TopParams
    description: ClassVar[str] = "Keep the top n or fraction by any meta score path (asc or desc)."

    def prepare(self, record: dict[str, Any]) -> Any:
        return _number(field_value(record, self.params.by))

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        p = self.params
        sign = -1.0 if p.order == "desc" else 1.0
        scored: list[tuple[float, int, int]] = []
        for pos, item in enumerate(open_items()):
            s = _number(field_value(item.record, p.by))
            if s is not None:
                scored.append((sign * s, priority(p.seed, item.record), pos))
        scored.sort()
        k = p.n if p.n is not None else math.ceil(p.fraction * len(scored))  # type: ignore[operator]
        keep = {pos for _, _, pos in scored[:k]}
        cutoff = sign * scored[k - 1][0] if 0 < k <= len(scored) else None
        for pos, item in enumerate(open_items()):
            s = _number(field_value(item.record, p.by))
            if s is None:
                yield item, (None if p.missing == "keep" else Drop("missing_score", {"by": p.by}))
            elif pos in keep:
                yield item, None
            else:
                yield item, Drop("not_top", {"by": p.by, "score": s, "cutoff": cutoff, "order": p.order})
