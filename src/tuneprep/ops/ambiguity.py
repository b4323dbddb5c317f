"""Ambiguous labels: the same text with different labels, and annotators who disagree.

* ``dedup.conflicts`` — the same normalised text (or near-duplicate cluster) with different labels:
  majority, drop or flag;
* ``filter.agreement`` — several annotator labels that agree too little: drop or flag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, RecordOp, register
from tuneprep.ops.correct import _Editing
from tuneprep.records import set_score

# --- dedup.conflicts ------------------------------------------------------------------------------------


class ConflictsParams(OpParams):
    resolve: Literal["majority", "drop", "flag"] = "majority"
    """majority: keep the records with the most frequent label, reject the others (a tie rejects all);
    drop: reject every record of a conflicting group; flag: keep all, noting meta.conflicting_labels."""
    normalize: bool = True
    """Group by NFKC-casefolded text with whitespace collapsed (False: byte-exact text)."""
    near: bool = False
    """Group near-duplicates instead of equal texts: records of one ``dedup.minhash`` cluster (same
    algorithm and parameters below) form a group; rejects then name the cluster (``near_cluster``: the id
    of its first record)."""
    threshold: float = Field(0.7, gt=0, le=1)
    """With near: Jaccard similarity of n-gram sets at or above which two records are one group."""
    ngram: int = Field(5, ge=1, le=64)
    """With near: words per shingle."""
    char_ngrams: int | None = Field(None, ge=1, le=64)
    """With near: character n-grams of this size instead of words (short texts)."""


def _label_key(label: Any) -> str | None:
    if label is None or label == "" or label == []:
        return None
    return "|".join(sorted(map(str, label))) if isinstance(label, list) else str(label)


@register
class DedupConflicts(_Editing, GlobalOp):
    """Same (normalised) text, different labels: resolve by majority, drop, or flag."""

    name: ClassVar[str] = "dedup.conflicts"
    Params: ClassVar[type[OpParams]] = ConflictsParams
    description: ClassVar[str] = ("Records sharing a text (or, near: true, a near-duplicate cluster) but not a label: "
                                  "keep the majority, drop all, or flag.")

    def _grouper(self) -> Any:
        # "same text" means what dedup.exact means; "near" what dedup.minhash means (one algorithm each)
        if not hasattr(self, "_group_op"):
            p = self.params
            if p.near:
                from tuneprep.ops.neardup import DedupMinHash

                self._group_op = DedupMinHash(threshold=p.threshold, ngram=p.ngram, char_ngrams=p.char_ngrams)
            else:
                from tuneprep.ops.dedup import DedupExact

                self._group_op = DedupExact(normalize=p.normalize)
        return self._group_op

    def prepare_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        return self._grouper().prepare_batch(records)

    def prepare(self, record: dict[str, Any]) -> Any:
        return self.prepare_batch([record])[0]

    def _group_keys(self, open_items: Callable[[], Iterator[Item]]) -> Callable[[int, Item], Any]:
        """Group key of the i-th item: its cluster's survivor index (near) or its text key."""
        if self.params.near:
            _labels, surv, _sims = self._grouper().clusters(open_items)
            return lambda i, it: int(surv[i])
        return lambda i, it: it.key if it.key is not None else self.prepare(it.record)

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        group_of = self._group_keys(open_items)
        groups: dict[Any, Counter[str]] = {}
        cluster_ids: dict[Any, str] = {}  # near: the id of each cluster's first record
        for i, it in enumerate(open_items()):
            lab = _label_key(it.record.get("label"))
            if self.params.near:
                cluster_ids.setdefault(group_of(i, it), str(it.record.get("id", "")))
            if lab is not None:
                groups.setdefault(group_of(i, it), Counter())[lab] += 1
        conflicts = {k: c for k, c in groups.items() if len(c) > 1}
        groups.clear()
        resolve = self.params.resolve
        for i, it in enumerate(open_items()):
            lab = _label_key(it.record.get("label"))
            group = group_of(i, it) if lab is not None else None
            counts = conflicts.get(group) if group is not None else None
            if counts is None:
                yield it, None
                continue
            seen = dict(counts.most_common())
            self.counter.add("records_in_conflict")
            top = counts.most_common(2)
            winner = top[0][0] if top[0][1] > top[1][1] else None
            if resolve == "flag":
                it.record.setdefault("meta", {})["conflicting_labels"] = seen
                yield it, None
            elif resolve == "majority" and winner is not None and lab == winner:
                yield it, None
            else:
                why = "drop" if resolve == "drop" else ("tie" if winner is None else "minority")
                self.counter.add(f"resolution:{why}")
                detail: dict[str, Any] = {"conflicting_labels": seen, "resolution": why}
                if self.params.near:
                    detail["near_cluster"] = cluster_ids[group]
                if winner is not None and resolve == "majority":
                    detail["majority_label"] = winner
                yield it, Drop("conflicting_labels", detail)


# --- filter.agreement ----------------------------------------------------------------------------------


class AgreementParams(OpParams):
    min_agreement: float = Field(0.67, ge=0.0, le=1.0)
    """Share of judgements that agree with the most frequent label; below it the record is dropped/flagged."""
    min_judgements: int = Field(2, ge=1)
    """Records with fewer judgements are kept unmeasured (nothing to agree on)."""
    source: Literal["auto", "label_studio", "argilla", "votes"] = "auto"
    """Where the annotator labels are: meta.label_studio.annotations, meta.argilla.responses (from
    ``tuneprep annotate import``) or meta.annotation.votes (the methods of an annotate step);
    auto takes the first present."""
    action: Literal["drop", "flag"] = "drop"
    """drop: reject with reason low_agreement; flag: keep, with the value in meta.scores."""


def judgements(record: dict[str, Any], source: str = "auto") -> list[str]:
    """The annotator labels a record carries (see AgreementParams.source)."""
    meta = record.get("meta") or {}
    found: dict[str, list[str]] = {
        "label_studio": [str(a["label"]) for a in (meta.get("label_studio") or {}).get("annotations") or []
                         if a.get("label") is not None],
        "argilla": [str(a["label"]) for a in (meta.get("argilla") or {}).get("responses") or []
                    if a.get("label") is not None],
        "votes": [str(v) for v in ((meta.get("annotation") or {}).get("votes") or {}).values() if v is not None],
    }
    if source != "auto":
        return found[source]
    return next((v for v in found.values() if v), [])


@register
class FilterAgreement(RecordOp):
    """Drop or flag records whose annotator labels agree less than ``min_agreement``."""

    name: ClassVar[str] = "filter.agreement"
    Params: ClassVar[type[OpParams]] = AgreementParams
    description: ClassVar[str] = "Annotator agreement per record (share agreeing with the plurality) under a threshold."

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        p = self.params
        labs = judgements(record, p.source)
        if len(labs) < p.min_judgements:
            return record
        counts = Counter(labs)
        agreement = round(counts.most_common(1)[0][1] / len(labs), 4)
        set_score(record, self.name, agreement)
        if agreement < p.min_agreement and p.action == "drop":
            return Drop("low_agreement", {"agreement": agreement, "min_agreement": p.min_agreement,
                                          "judgements": len(labs), "labels": dict(counts.most_common())})
        return record
