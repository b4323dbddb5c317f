"""What every annotation method shares: votes, writing labels into records, the overwrite rule.

A method looks at records and returns one ``Vote`` per record. ``apply_votes`` writes them:
a labeled record gets ``label`` and ``meta.annotation = {method, confidence, votes}``; a record no
method can label keeps no label and ``meta.annotation.reason`` says why. An existing (gold)
label is never replaced unless ``overwrite`` is set; the method's answer is still recorded in
``meta.annotation.suggested`` so it can be compared with the gold label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tuneprep.errors import TuneprepError
from tuneprep.records import record_text


class AnnotateError(TuneprepError, ValueError):
    """Bad annotation input or configuration; the message names the file, record or field."""


@dataclass
class Vote:
    """One method's answer for one record. ``label is None`` means it abstains, with ``reason``."""

    label: str | None
    confidence: float = 0.0
    reason: str | None = None
    votes: dict[str, str | None] = field(default_factory=dict)
    scores: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_meta(self, method: str) -> dict[str, Any]:
        out: dict[str, Any] = {"method": method, "label": self.label,
                               "confidence": round(float(self.confidence), 6), "votes": self.votes}
        if self.scores is not None:
            out["scores"] = {k: round(float(v), 6) for k, v in self.scores.items()}
        out.update(self.extra)
        if self.label is None:
            out["reason"] = self.reason or "abstained"
        return out


def texts_of(records: list[dict[str, Any]]) -> list[str]:
    """The text each record is judged by (``text``, or the concatenated messages)."""
    return [record_text(r) for r in records]


def has_label(record: dict[str, Any]) -> bool:
    lab = record.get("label")
    return lab is not None and lab != "" and lab != []


def apply_vote(record: dict[str, Any], vote: Vote, method: str, overwrite: bool = False) -> dict[str, Any]:
    """Write one vote into a copy of the record (see the module docstring for the rules)."""
    rec = dict(record)
    meta = dict(rec.get("meta") or {})
    ann = vote.as_meta(method)
    old = meta.get("annotation")
    if isinstance(old, dict) and old.get("method"):
        # a later annotation step replaces meta.annotation; keep a short trail of the earlier ones
        ann["previous"] = [{k: old[k] for k in ("method", "label", "suggested", "status") if k in old},
                           *old.get("previous", [])]
    if has_label(rec) and not overwrite:
        ann["status"] = "kept_existing"
        ann["suggested"] = ann.pop("label")
    elif vote.label is None:
        ann["status"] = "unlabeled"
        if has_label(rec):  # overwrite requested but nothing to write: the old label stays
            ann["status"] = "kept_existing"
    else:
        if has_label(rec):
            ann["replaced"] = rec["label"]
        rec["label"] = vote.label
        ann["status"] = "labeled"
    meta["annotation"] = ann
    rec["meta"] = meta
    return rec


def apply_votes(
    records: list[dict[str, Any]], votes: list[Vote], method: str, overwrite: bool = False
) -> list[dict[str, Any]]:
    if len(records) != len(votes):
        raise AnnotateError(f"{method}: got {len(votes)} votes for {len(records)} records")
    return [apply_vote(r, v, method, overwrite) for r, v in zip(records, votes)]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of what an annotation pass did (labeled, kept, unlabeled and why, label counts)."""
    status = Counter()
    reasons = Counter()
    labels = Counter()
    for r in records:
        ann = (r.get("meta") or {}).get("annotation") or {}
        status[ann.get("status", "untouched")] += 1
        if ann.get("status") == "unlabeled":
            reasons[ann.get("reason", "abstained")] += 1
        if has_label(r) and isinstance(r["label"], str):
            labels[r["label"]] += 1
    return {"n": len(records), "status": dict(status), "unlabeled_reasons": dict(reasons.most_common(10)),
            "labels": dict(labels)}


def check_labels(labels: list[str], where: str = "labels") -> list[str]:
    labels = [lab.strip() for lab in labels if lab.strip()]
    if not labels:
        raise AnnotateError(f"{where}: give at least one label")
    if len(set(labels)) != len(labels):
        raise AnnotateError(f"{where}: duplicate labels in {labels}")
    return labels


def majority(votes: dict[str, str | None]) -> tuple[str | None, float, str | None]:
    """Plurality of the non-abstaining votes: (label, share, reason when None)."""
    cast = [v for v in votes.values() if v is not None]
    if not cast:
        return None, 0.0, "every voter abstained" if votes else "no voters"
    counts = Counter(cast).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        tied = sorted(lab for lab, c in counts if c == counts[0][1])
        return None, 0.0, f"tie between {', '.join(tied)}"
    return counts[0][0], counts[0][1] / len(cast), None
