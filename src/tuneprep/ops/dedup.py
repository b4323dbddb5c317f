"""Deduplication operators. ``dedup.exact``: hash of normalised text; the first seen survives."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.ops.text import normalize_for_dedup
from tuneprep.records import record_text


class ExactParams(OpParams):
    normalize: bool = True
    """Compare NFKC-casefolded text with whitespace collapsed (False: byte-exact text)."""
    fields: list[str] = []
    """Also include these fields in the key (e.g. [label] keeps same text with different labels)."""


@register
class DedupExact(GlobalOp):
    """Exact duplicates of (normalised) text; survivor = first seen; others rejected with duplicate_of."""

    name: ClassVar[str] = "dedup.exact"
    Params: ClassVar[type[OpParams]] = ExactParams
    description: ClassVar[str] = "Drop exact duplicates of normalised text (first seen survives)."
    keys_only: ClassVar[bool] = True  # apply_global reads the prepared key and the id, nothing else

    def prepare(self, record: dict[str, Any]) -> Any:
        return self.prepare_batch([record])[0]

    def prepare_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        """The key of each record: xxh3-128 of its (normalised) text, plus ``fields``."""
        import xxhash

        digest = xxhash.xxh3_128_hexdigest
        normalize, fields = self.params.normalize, self.params.fields
        keys = []
        for record in records:
            text = record.get("text")
            if type(text) is not str:
                text = record_text(record)
            if normalize:
                text = normalize_for_dedup(text)
            for f in fields:
                text += "\x00" + str(record.get(f, ""))
            keys.append(digest(text.encode("utf-8", "surrogatepass")))
        return keys

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        pending: deque[Item] = deque()

        def rows() -> Iterator[tuple[Any, Any]]:
            for item in open_items():
                pending.append(item)
                yield (item.key if item.key is not None else self.prepare(item.record)), item.record.get("id", "")

        for drop in self.decide_keys(rows()):
            yield pending.popleft(), drop

    def decide_keys(self, rows: Iterable[tuple[Any, Any]]) -> Iterator[Drop | None]:
        """The first record of each key survives; the others are dropped with ``duplicate_of`` its id."""
        first: dict[str, str] = {}
        for key, rid in rows:
            survivor = first.get(key)
            if survivor is None:
                first[key] = rid
                yield None
            else:
                yield Drop("duplicate", {"duplicate_of": survivor})
