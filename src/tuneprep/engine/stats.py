"""Per-step accounting: records in, out, dropped by reason, seconds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepStats:
    step: str
    records_in: int = 0
    records_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    counters: Counter = field(default_factory=Counter)
    """Extra counts an op reports (``Op.take_counters``), e.g. edits made and the top replacements."""

    def merge(self, other: StepStats) -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.dropped.update(other.dropped)
        self.seconds += other.seconds
        self.counters.update(other.counters)

    def collect(self, op: Any) -> None:
        """Add what ``op`` counted since the last call (ops without ``take_counters`` report nothing)."""
        take = getattr(op, "take_counters", None)
        if take is not None:
            self.counters.update(take())

    def to_json(self) -> dict[str, Any]:
        d = {"step": self.step, "in": self.records_in, "out": self.records_out,
             "dropped": dict(sorted(self.dropped.items())), "seconds": round(self.seconds, 4)}
        if self.counters:
            d["counters"] = _capped(self.counters)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StepStats:
        return cls(d["step"], d["in"], d["out"], Counter(d["dropped"]), d["seconds"], Counter(d.get("counters", {})))


MAX_KEYED = 200  # per prefix ("replace:", "term:"…): the most frequent are kept, the rest summed


def _capped(counters: Counter) -> dict[str, int]:
    """Plain counters as they are; keyed families (``prefix:key``) cut to the MAX_KEYED most frequent.

    A corpus can have a hundred thousand distinct replacements; stats.json keeps the top ones and
    ``<prefix>:(other)`` for the rest (per shard, so a merged top list is exact for frequent keys).
    """
    plain = {k: v for k, v in counters.items() if ":" not in k}
    fams: dict[str, list[tuple[str, int]]] = {}
    for k, v in counters.items():
        if ":" in k:
            fams.setdefault(k.split(":", 1)[0], []).append((k, v))
    out = dict(sorted(plain.items()))
    for prefix in sorted(fams):
        ranked = sorted(fams[prefix], key=lambda kv: (-kv[1], kv[0]))
        out.update(ranked[:MAX_KEYED])
        rest = sum(v for _, v in ranked[MAX_KEYED:])
        if rest:
            out[f"{prefix}:(other)"] = out.get(f"{prefix}:(other)", 0) + rest
    return out


def step_names(recipe_steps: list[str]) -> list[str]:
    """Unique display names: ``read``, then ``<n>:<op>`` for each step (1-based)."""
    return ["read"] + [f"{i}:{op}" for i, op in enumerate(recipe_steps, 1)]
