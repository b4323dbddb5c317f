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

    ranked: ClassVar[bool] = True

    def prepare(self, record: dict[str, Any]) -> Any:
        """[score or None, the seeded tie-break priority]."""
        return [_number(field_value(record, self.params.by)), priority(self.params.seed, record)]

    @property
    def _sign(self) -> float:
        return -1.0 if self.params.order == "desc" else 1.0

    def rank_of(self, key: Any) -> Any:
        return None if key[0] is None else [self._sign * key[0], key[1]]

    def rank_budget(self, ranked: int) -> int | None:
        p = self.params
        return p.n if p.n is not None else math.ceil(p.fraction * ranked)  # type: ignore[operator]

    def rank_verdict(self, key: Any, kept: bool | None, last_kept: Any) -> Drop | None:
        p = self.params
        if key[0] is None:
            return None if p.missing == "keep" else Drop("missing_score", {"by": p.by})
        if kept:
            return None
        cutoff = self._sign * last_kept[0] if last_kept is not None else None
        return Drop("not_top", {"by": p.by, "score": key[0], "cutoff": cutoff, "order": p.order})

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        scored: list[tuple[Any, int]] = []
        for pos, item in enumerate(open_items()):
            rank = self.rank_of(self.prepare(item.record))
            if rank is not None:
                scored.append((rank, pos))
        scored.sort()
        k = self.rank_budget(len(scored))
        keep = {pos for _, pos in scored[:k]}
        last = scored[k - 1][0] if 0 < k <= len(scored) else None  # type: ignore[operator]
        for pos, item in enumerate(open_items()):
            key = self.prepare(item.record)
            yield item, self.rank_verdict(key, (pos in keep) if key[0] is not None else None, last)
