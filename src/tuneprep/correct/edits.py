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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` (which reads ``old``) with ``new``; ``rule`` names why (optional)."""

    start: int
    end: int
    old: str
    new: str
    rule: str = ""

    def as_json(self, message: int | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"start": self.start, "end": self.end, "from": self.old, "to": self.new}
        if self.rule:
            d["rule"] = self.rule
        if message is not None:
            d["message"] = message
        return d


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``; raises ValueError on overlap or mismatch."""
    out: list[str] = []
    pos = 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
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


def audit_record(record: dict[str, Any], op: str, propose: TextEditor, *, dry_run: bool = False,
                 counter: EditCounter | None = None) -> dict[str, Any]:
    """Run ``propose`` on the record's text (or each message's content), apply and log its edits.

    The record is changed in place and returned. With ``dry_run`` the text stays as it was and
    the edits are logged all the same (the review copy of a correction).
    """
    logged: list[dict[str, Any]] = []

    def propose_changes(t: str) -> list[Edit]:
        return [e for e in propose(t) if e.old != e.new]  # a rule that proposes no change is no edit

    text = record.get("text")
    if isinstance(text, str):
        edits = propose_changes(text)
        if edits:
            logged = [e.as_json() for e in edits]
            if not dry_run:
                record["text"] = apply_edits(text, edits)
            _count(counter, edits)
    msgs = record.get("messages")
    if isinstance(msgs, list):
        for i, m in enumerate(msgs):
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                edits = propose_changes(m["content"])
                if edits:
                    logged.extend(e.as_json(message=i) for e in edits)
                    if not dry_run:
                        m["content"] = apply_edits(m["content"], edits)
                    _count(counter, edits)
    if logged:
        meta = record.setdefault("meta", {})
        all_edits = meta.setdefault("edits", {})
        key = op
        n = 2
        while key in all_edits:  # the same op twice in a recipe: each pass keeps its own audit
            key, n = f"{op}#{n}", n + 1
        all_edits[key] = logged
        if counter is not None:
            counter.add("records_edited")
    return record


def _count(counter: EditCounter | None, edits: list[Edit]) -> None:
    if counter is None:
        return
    counter.add("edits", len(edits))
    for e in edits:
        counter.add(f"replace:{e.old} → {e.new}")
        if e.rule:
            counter.add(f"rule:{e.rule}")
