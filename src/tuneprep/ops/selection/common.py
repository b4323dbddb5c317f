"""What the selection operators share: label/score lookup by path, seeded priorities, quotas,
and one embedding pass over the op's input (cached per text by ``annotate.embed``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from tuneprep.ops.base import Item
from tuneprep.ops.select import _priority
from tuneprep.records import record_text

Strategy = Literal["equal", "proportional", "sqrt"]
# The same default as annotate.embed.DEFAULT_ENCODER (a test asserts it); not imported from there,
# since that module loads numpy and operator modules must stay light to import.
DEFAULT_ENCODER = "minilm-l6"


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``label``, ``meta.topic``), or None when absent.

    Operator names contain dots (``meta.scores.filter.length.words``): at each level the longest
    run of path parts that is a key wins.
    """
    parts = path.split(".")
    cur: Any = record
    i = 0
    while i < len(parts):
        if not isinstance(cur, Mapping):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                cur, i = cur[key], j
                break
        else:
            return None
    return cur


def labels_at(record: Mapping[str, Any], path: str) -> list[str]:
    """A record's labels at ``path`` as a list: a string gives one, a list (multi-label) several."""
    v = field_value(record, path)
    if v is None or v == "" or v == []:
        return []
    if isinstance(v, list):
        return [str(x) for x in v if x is not None and x != ""]
    return [str(v)]


def priority(seed: int, record: Mapping[str, Any]) -> int:
    """The seeded random priority of a record (the same one ``select.sample`` uses)."""
    return _priority(seed, str(record.get("id", "")))


def quotas(counts: Mapping[str, int], n: int | None, strategy: Strategy = "equal",
           min_per_class: int = 0, max_per_class: int | None = None) -> dict[str, int]:
    """How many records of each class to keep: at most ``n`` in total, never more than a class has.

    ``equal`` gives each class the same share, ``proportional`` its frequency, ``sqrt`` its
    √-frequency (rare classes up-weighted, common ones still larger). Shares a class cannot fill
    go to the others (water filling), so the budget is used whenever the data allows it.
    ``min_per_class`` is granted first (as far as the class has records); ``max_per_class`` caps.
    ``n=None``: ``equal`` keeps as many per class as the smallest class has (after the cap);
    the other strategies keep everything up to the cap.
    """
    cap = {k: min(c, max_per_class) if max_per_class is not None else c for k, c in counts.items()}
    if n is None:
        if strategy == "equal":
            m = min(cap.values(), default=0)
            return {k: max(m, min(min_per_class, cap[k])) for k in cap}
        return dict(cap)
    weight = {k: 1.0 if strategy == "equal" else (float(c) if strategy == "proportional" else math.sqrt(c))
              for k, c in counts.items() if c > 0}
    got = {k: min(min_per_class, cap[k]) for k in cap}
    left = n - sum(got.values())
    if left < 0:  # the minimums alone exceed the budget: share the budget equally instead
        return quotas(counts, n, "equal", 0, max_per_class)
    open_ = {k for k in weight if got[k] < cap[k]}
    while left > 0 and open_:
        total_w = sum(weight[k] for k in open_)
        share = {k: left * weight[k] / total_w for k in open_}
        full = {k for k in open_ if got[k] + share[k] >= cap[k]}
        if full:  # these classes run out: give them everything and redistribute the rest
            for k in full:
                left -= cap[k] - got[k]
                got[k] = cap[k]
            open_ -= full
            continue
        # Largest remainder: whole records, the leftover ones to the largest fractional parts.
        base = {k: math.floor(share[k]) for k in open_}
        rest = left - sum(base.values())
        for k in sorted(open_, key=lambda k: (-(share[k] - base[k]), k))[:rest]:
            base[k] += 1
        for k in open_:
            got[k] += base[k]
        left = 0
    return got


class Collected:
    """One pass over the op's input: texts, labels at ``field`` and seeded priorities, by position."""

    def __init__(self, open_items: Callable[[], Iterator[Item]], seed: int, field: str | None = None,
                 keep_records: bool = False):
        self.texts: list[str] = []
        self.labels: list[list[str]] = []
        self.prio: list[int] = []
        self.ids: list[str] = []
        self.records: list[dict[str, Any]] = []
        for item in open_items():
            r = item.record
            self.texts.append(record_text(r))
            self.labels.append(labels_at(r, field) if field else [])
            self.prio.append(priority(seed, r))
            self.ids.append(str(r.get("id", "")))
            if keep_records:
                self.records.append(r)

    def __len__(self) -> int:
        return len(self.texts)

    def embeddings(self, model: str) -> Any:
        """``[n, dim]`` unit vectors of the texts (``annotate.embed.encode``: batched, cached on disk)."""
        import numpy as np

        from tuneprep.annotate.embed import encode

        if not self.texts:
            return np.zeros((0, 1), np.float32)
        return encode(self.texts, model)


def by_priority(positions: Sequence[int], prio: Sequence[int]) -> list[int]:
    """Positions ordered by seeded priority (the random order a seed fixes)."""
    return sorted(positions, key=lambda i: prio[i])
