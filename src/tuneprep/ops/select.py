"""Selection operators: seeded sampling."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pydantic import model_validator

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.records import seeded_hash


class SampleParams(OpParams):
    n: int | None = None
    """Keep exactly n records (or all when fewer)."""
    fraction: float | None = None
    """Keep each record with this probability (seeded, per record id)."""
    seed: int = 0

    @model_validator(mode="after")
    def _one_of(self) -> SampleParams:
        if (self.n is None) == (self.fraction is None):
            raise ValueError("give exactly one of n or fraction")
        if self.n is not None and self.n < 0:
            raise ValueError("n must be >= 0")
        if self.fraction is not None and not 0 <= self.fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        return self


def _priority(seed: int, rid: str) -> int:
    return seeded_hash(seed, rid)


@register
class SelectSample(GlobalOp):
    """Seeded random sample by record id: the same seed and ids give the same sample on every run."""

    name: ClassVar[str] = "select.sample"
    Params: ClassVar[type[OpParams]] = SampleParams
    description: ClassVar[str] = "Keep a seeded random sample (n records or a fraction)."

    ranked: ClassVar[bool] = True

    def prepare(self, record: dict[str, Any]) -> Any:
        return _priority(self.params.seed, str(record.get("id", "")))

    def rank_of(self, key: Any) -> Any:
        return key

    def rank_budget(self, ranked: int) -> int | None:
        return self.params.n

    def rank_verdict(self, key: Any, kept: bool | None, last_kept: Any) -> Drop | None:
        p = self.params
        if p.fraction is not None:
            return None if key < p.fraction * 2**64 else Drop("not_sampled", {"fraction": p.fraction})
        return None if kept else Drop("not_sampled", {"n": p.n})

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        p = self.params
        if p.fraction is not None:
            for item in open_items():
                key = item.key if item.key is not None else self.prepare(item.record)
                yield item, self.rank_verdict(key, None, None)
            return
        # n: first pass finds the n-th smallest priority (bounded heap), second pass keeps those below.
        heap: list[tuple[int, int]] = []
        for pos, item in enumerate(open_items()):
            key = item.key if item.key is not None else self.prepare(item.record)
            entry = (-key, -pos)
            if len(heap) < p.n:
                heapq.heappush(heap, entry)
            elif p.n and entry > heap[0]:
                heapq.heapreplace(heap, entry)
        keep = {-pos for _, pos in heap}
        for pos, item in enumerate(open_items()):
            yield item, self.rank_verdict(None, pos in keep, None)
