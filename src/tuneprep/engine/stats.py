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

    def merge(self, other: StepStats) -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.dropped.update(other.dropped)
        self.seconds += other.seconds

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "in": self.records_in, "out": self.records_out,
                "dropped": dict(sorted(self.dropped.items())), "seconds": round(self.seconds, 4)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StepStats:
        return cls(d["step"], d["in"], d["out"], Counter(d["dropped"]), d["seconds"])


def step_names(recipe_steps: list[str]) -> list[str]:
    """Unique display names: ``read``, then ``<n>:<op>`` for each step (1-based)."""
    return ["read"] + [f"{i}:{op}" for i, op in enumerate(recipe_steps, 1)]
