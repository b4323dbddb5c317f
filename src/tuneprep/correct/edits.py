"""The edit audit every correcting operator shares.

An operator that changes text never rewrites it directly: it proposes a list of ``Edit``
(``start``/``end`` offsets into the text *before* the operator, the ``from`` text found there and
the ``to`` text that replaces it). ``audit_record`` applies them (unless ``dry_run``), stores them
under ``meta.edits.<op>`` and counts them, so that every change can be reviewed, reverted or
measured afterwards:

* a ``text`` record gets ``meta.edits.<op> = [{"start", "end", "from", "to"}, …]``;
* a chat record gets the same list, each edit with ``"message": i`` (the index in ``messages``);
  offsets are into that message's content.

``EditCounter`` accumulates what the engine reports in ``stats.json`` (edits, records edited,
the most frequent replacements, any op-specific counters such as per-rule counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple


class Edit(NamedTuple):
    """Replace ``text[start:end]`` (which reads ``old``) with ``new``; ``rule`` names why (optional).

    A named tuple, not a dataclass: ops like ``clean.terminology`` make tens of thousands per
    megabyte, and a tuple is several times cheaper to build.
    """

    start: int
    end: int
    old: str
    new: str
    rule: str = ""

    def as_json(self, message: int | None = None) -> dict[str, Any]:
        return edits_json([self], message)[0]


def edits_json(edits: list[Edit], message: int | None = None) -> list[dict[str, Any]]:
    """The audit form of edits: ``{"start", "end", "from", "to"[, "rule"][, "message"]}`` each."""
    out: list[dict[str, Any]] = [{"start": s, "end": e, "from": old, "to": new, "rule": rule} if rule
                                 else {"start": s, "end": e, "from": old, "to": new}
                                 for s, e, old, new, rule in edits]
    if message is not None:
        for d in out:
            d["message"] = message
    return out


_SPAN = itemgetter(0, 1)  # (start, end) of an Edit


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``; raises ValueError on overlap or mismatch."""
    if isinstance(edits, list) and len(edits) == 1:  # the common case, without the sort and join
        start, end, old, new = edits[0][:4]
        if text[start:end] != old:
            raise ValueError(f"edit at {start}:{end} expects {old!r}, text has {text[start:end]!r}")
        return text[:start] + new + text[end:]
    out: list[str] = []
    pos = 0
    for e in sorted(edits, key=_SPAN):
        if e.start < pos:
            raise ValueError(f"overlapping edits at offset {e.start}")
        if text[e.start:e.end] != e.old:
            raise ValueError(f"edit at {e.start}:{e.end} expects {e.old!r}, text has {text[e.start:e.end]!r}")
        out.append(text[pos:e.start])
        out.append(e.new)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def edits_from_json(items: list[dict[str, Any]]) -> list[tuple[int | None, Edit]]:
    """The ``meta.edits.<op>`` list back as (message index or None, Edit)."""
    return [(d.get("message"), Edit(d["start"], d["end"], d["from"], d["to"], d.get("rule", ""))) for d in items]


def revert_edits(text_after: str, edits: Iterable[Edit]) -> str:
    """The text before an op, from the text after it and the op's edits (the audit is invertible)."""
    out: list[str] = []
    pos_after = 0
    delta = 0  # offset of the after-text relative to the before-text so far
    for e in sorted(edits, key=lambda e: e.start):
        a = e.start + delta
        out.append(text_after[pos_after:a])
        out.append(e.old)
        pos_after = a + len(e.new)
        delta += len(e.new) - (e.end - e.start)
    out.append(text_after[pos_after:])
    return "".join(out)


class EditCounter:
    """What an editing op reports to ``stats.json``: ``edits``, ``records_edited``, ``replace:a → b``…

    The engine drains it after each chunk (``take``); counts from several workers add up.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def take(self) -> Counter[str]:
        out, self.counts = self.counts, Counter()
        return out


TextEditor = Callable[[str], list[Edit]]
BatchTextEditor = Callable[[Sequence[str]], list[list[Edit]]]
"""Proposes the edits of many texts at once (one list per text, in order): an op that scans a batch
faster than text by text (``clean.terminology``) passes one to ``audit_records``."""


def audit_record(record: dict[str, Any], op: str, propose: TextEditor, *, dry_run: bool = False,
                 counter: EditCounter | None = None) -> dict[str, Any]:
    """Run ``propose`` on the record's text (or each message's content), apply and log its edits.

    The record is changed in place and returned. With ``dry_run`` the text stays as it was and
    the edits are logged all the same (the review copy of a correction).
    """
    return audit_records([record], op, lambda texts: [propose(t) for t in texts], dry_run=dry_run,
                         counter=counter)[0]


def audit_records(records: list[dict[str, Any]], op: str, propose_many: BatchTextEditor, *,
                  dry_run: bool = False, counter: EditCounter | None = None) -> list[dict[str, Any]]:
    """``audit_record`` over a batch: ``propose_many`` gets every text of every record in one call."""
    slots: list[tuple[int, int | None]] = []  # (record index, message index or None) of each text
    texts: list[str] = []
    for ri, record in enumerate(records):
        text = record.get("text")
        if isinstance(text, str):
            slots.append((ri, None))
            texts.append(text)
        msgs = record.get("messages")
        if isinstance(msgs, list):
            for i, m in enumerate(msgs):
                if isinstance(m, dict) and isinstance(m.get("content"), str):
                    slots.append((ri, i))
                    texts.append(m["content"])
    logged: dict[int, list[dict[str, Any]]] = {}
    changed: list[Edit] = []  # every edit of the batch, counted at the end in one pass
    for (ri, mi), text, proposed in zip(slots, texts, propose_many(texts), strict=True):
        if not proposed:
            continue
        edits = [e for e in proposed if e.old != e.new]  # a rule that proposes no change is no edit
        if not edits:
            continue
        new_text = apply_edits(text, edits)
        logged.setdefault(ri, []).extend(edits_json(edits, mi))
        if not dry_run:
            if mi is None:
                records[ri]["text"] = new_text
            else:
                records[ri]["messages"][mi]["content"] = new_text
        changed.extend(edits)
    _count(counter, changed)
    for ri, items in logged.items():
        all_edits = records[ri].setdefault("meta", {}).setdefault("edits", {})
        key = op
        n = 2
        while key in all_edits:  # the same op twice in a recipe: each pass keeps its own audit
            key, n = f"{op}#{n}", n + 1
        all_edits[key] = items
    if counter is not None and logged:
        counter.add("records_edited", len(logged))
    return records


def _count(counter: EditCounter | None, edits: list[Edit]) -> None:
    if counter is None or not edits:
        return
    counter.add("edits", len(edits))
    counter.counts.update([f"replace:{e.old} → {e.new}" for e in edits])
    counter.counts.update([f"rule:{e.rule}" for e in edits if e.rule])
