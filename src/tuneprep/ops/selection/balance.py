"""``select.balance``: reach a label distribution within a budget.

Single-label records are grouped by the value at ``field`` (``label``, a top-level field such as
``category``, or a meta path such as ``meta.topic``) and each group keeps its quota (see
``common.quotas``), chosen by the seeded random priority of ``select.sample``. Multi-label
records (a list at ``field``) are picked greedily: the label furthest below its target share
takes its next record, and a record counts towards every label it carries.
Dropped records get ``over_budget`` with their label, the label's count and its quota.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pydantic import Field

from tuneprep.ops.base import Drop, GlobalOp, Item, NotRanked, OpParams, register
from tuneprep.ops.selection.common import Collected, Strategy, by_priority, labels_at, priority, quotas


class BalanceParams(OpParams):
    n: int | None = Field(None, ge=0)
    """Total records to keep (None: equal → as many per class as the smallest class has; otherwise all up to max_per_class)."""
    strategy: Strategy = "equal"
    """equal: same count per class; proportional: as in the input; sqrt: by √(class count), rare classes up-weighted."""
    min_per_class: int = Field(0, ge=0)
    """Keep at least this many of every class (as far as it has them)."""
    max_per_class: int | None = Field(None, ge=1)
    """Keep at most this many of any class."""
    field: str = "label"
    """Where the label is: a field or a dotted meta path (meta.topic); a list there is multi-label."""
    keep_unlabeled: bool = False
    """Keep records with no label at field (default: drop them with reason no_label)."""
    seed: int = 0
    """Seed of the random choice within each class (the same priority as select.sample)."""


@register
class SelectBalance(GlobalOp):
    """Keep a label distribution (equal, proportional or √-frequency) within a budget."""

    name: ClassVar[str] = "select.balance"
    Params: ClassVar[type[OpParams]] = BalanceParams
    description: ClassVar[str] = "Balance classes within a budget n (equal | proportional | sqrt); reason over_budget."

    # Ranked (engine/ranked.py) for single-label input: each label is a group whose budget is its
    # quota, ranked by the seeded priority. Multi-label input is chosen greedily: the serial path.
    ranked: ClassVar[bool] = True

    def prepare(self, record: dict[str, Any]) -> Any:
        """[the labels at ``field``, the seeded priority]."""
        return [labels_at(record, self.params.field), priority(self.params.seed, record)]

    def rank_of(self, key: Any) -> Any:
        return key[1] if key[0] else None

    def rank_group(self, key: Any) -> Any:
        if len(key[0]) > 1:
            raise NotRanked("multi-label records are chosen greedily")
        return key[0][0]

    def rank_budgets(self, counts: dict[Any, int]) -> dict[Any, int | None]:
        p = self.params
        self._plan = (dict(counts), quotas(counts, p.n, p.strategy, p.min_per_class, p.max_per_class))
        return dict(self._plan[1])

    def rank_verdict(self, key: Any, kept: bool | None, last_kept: Any) -> Drop | None:
        p = self.params
        if not key[0]:
            return None if p.keep_unlabeled else Drop("no_label", {"field": p.field})
        if kept:
            return None
        counts, quota = self._plan
        lab = key[0][0]  # single-label: every record of the label within its quota is kept
        return Drop("over_budget", {"label": lab, "count": counts[lab], "quota": quota[lab],
                                    "kept": min(quota[lab], counts[lab]), "strategy": p.strategy})

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        p = self.params
        data = Collected(open_items, p.seed, p.field)
        counts = Counter(lab for labs in data.labels for lab in labs)
        quota = quotas(counts, p.n, p.strategy, p.min_per_class, p.max_per_class)
        keep, why = self._choose(data, counts, quota)
        kept_per = Counter(lab for pos in keep for lab in data.labels[pos])
        multi = any(len(labs) > 1 for labs in data.labels)
        self._plan = (dict(counts), quota)
        for pos, item in enumerate(open_items()):
            labs = data.labels[pos]
            if not multi or not labs or pos in keep:
                yield item, self.rank_verdict([labs, data.prio[pos]], (pos in keep) if labs else None, None)
            else:
                lab = why.get(pos, labs[0])
                yield item, Drop("over_budget", {"label": lab, "count": counts[lab], "quota": quota[lab],
                                                 "kept": kept_per[lab], "strategy": p.strategy})

    def _choose(self, data: Collected, counts: Counter, quota: dict[str, int]) -> tuple[set[int], dict[int, str]]:
        p = self.params
        multi = any(len(labs) > 1 for labs in data.labels)
        keep: set[int] = set()
        why: dict[int, str] = {}
        if not multi:
            groups: dict[str, list[int]] = {}
            for pos, labs in enumerate(data.labels):
                if labs:
                    groups.setdefault(labs[0], []).append(pos)
            for lab, members in groups.items():
                keep.update(by_priority(members, data.prio)[:quota[lab]])
            return keep, why
        # Multi-label, greedily: the label furthest below its target share (after min_per_class)
        # takes its next record in seeded order; a record counts towards every label it carries.
        import math

        weight = {k: 1.0 if p.strategy == "equal" else (float(c) if p.strategy == "proportional" else math.sqrt(c))
                  for k, c in counts.items()}
        budget = p.n if p.n is not None else sum(quota.values())
        order = by_priority(range(len(data)), data.prio)
        queue = {lab: [pos for pos in order if lab in data.labels[pos]] for lab in counts}
        nxt = dict.fromkeys(counts, 0)
        have: Counter = Counter()
        while len(keep) < budget:
            open_ = [lab for lab in counts if nxt[lab] < len(queue[lab])
                     and (p.max_per_class is None or have[lab] < p.max_per_class)]
            if not open_:
                break
            lab = min(open_, key=lambda k: (have[k] >= p.min_per_class, have[k] / weight[k], k))
            pos = queue[lab][nxt[lab]]
            nxt[lab] += 1
            labs = data.labels[pos]
            if pos in keep:
                continue
            full = [o for o in labs if p.max_per_class is not None and have[o] >= p.max_per_class]
            if full:  # would push another of its labels past the cap
                why.setdefault(pos, full[0])
                continue
            keep.add(pos)
            have.update(labs)
        for pos, labs in enumerate(data.labels):
            if labs and pos not in keep and pos not in why:
                why[pos] = max(labs, key=lambda k: (have[k] / weight[k], k))
        return keep, why
