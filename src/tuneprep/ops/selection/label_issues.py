"""``filter.label_issues``: drop (or flag) records whose label cleanlab finds likely wrong.

The ``annotate issues`` logic as a recipe step (one source of truth:
``annotate.issues.confident_learning``): every record is embedded (``minilm-l6``, cached), each
gets class probabilities from a model that never saw its label (K-fold: a logistic regression,
or the similarity-weighted embedding kNN), and cleanlab's confident learning flags the records
whose given label is unlikely. Every judged record gets its label quality (cleanlab's
self-confidence: low = likely wrong) in ``meta.scores["filter.label_issues"]``; a flagged record
is dropped with reason ``label_issue`` and ``{given, suggested, quality}`` (``action: flag`` keeps it
and writes the same under ``meta.label_issue`` instead). Records without a single label are not
judged and are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

from pydantic import Field

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.ops.selection.common import DEFAULT_ENCODER, Collected
from tuneprep.records import set_score


class LabelIssuesError(ValueError):
    """The labels cannot be checked (too few records of a class, a single class)."""


class LabelIssuesParams(OpParams):
    classifier: Literal["logreg", "knn"] = "logreg"
    """Out-of-fold predictions from a logistic regression or the embedding kNN (both on sentence embeddings)."""
    folds: int = Field(5, ge=2)
    """K of the K-fold cross-validation."""
    filter_by: Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
                       "predicted_neq_given"] = "prune_by_noise_rate"
    """cleanlab's find_label_issues rule."""
    action: Literal["drop", "flag"] = "drop"
    """drop flagged records (reason label_issue) or keep them with meta.label_issue."""
    field: str = "label"
    """The label field or dotted meta path."""
    model: str = DEFAULT_ENCODER
    """Sentence encoder (registry name or local directory)."""
    seed: int = 0
    """Seed of the folds."""


@register
class FilterLabelIssues(GlobalOp):
    """cleanlab confident learning on out-of-fold predictions; drop or flag likely mislabelled records."""

    name: ClassVar[str] = "filter.label_issues"
    Params: ClassVar[type[OpParams]] = LabelIssuesParams
    description: ClassVar[str] = "Drop/flag records cleanlab finds mislabelled (out-of-fold embedding classifier)."

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        import numpy as np

        from tuneprep.annotate.issues import confident_learning

        p = self.params
        data = Collected(open_items, p.seed, p.field)
        judged = [i for i, labs in enumerate(data.labels) if len(labs) == 1]
        classes = sorted({data.labels[i][0] for i in judged})
        counts = Counter(data.labels[i][0] for i in judged)
        small = {c: n for c, n in counts.items() if n < p.folds}
        if small:
            raise LabelIssuesError(f"{self.name}: labels at '{p.field}' with fewer records than folds={p.folds}: "
                                   f"{small}; lower folds or add data")
        if len(classes) < 2:
            raise LabelIssuesError(f"{self.name}: {len(classes)} label(s) at '{p.field}' in {len(data)} records: "
                                   "nothing to compare")
        idx = {c: k for k, c in enumerate(classes)}
        y = np.array([idx[data.labels[i][0]] for i in judged])
        x = data.embeddings(p.model)[judged]
        probs, ranked, quality = confident_learning(x, y, len(classes), p.folds, p.seed, p.filter_by, p.classifier)
        row = {pos: j for j, pos in enumerate(judged)}
        flagged = {judged[int(j)] for j in ranked}
        for pos, item in enumerate(open_items()):
            j = row.get(pos)
            if j is None:
                yield item, None
                continue
            q = round(float(quality[j]), 5)
            set_score(item.record, self.name, q)
            if pos not in flagged:
                yield item, None
                continue
            detail = {"given": classes[y[j]], "suggested": classes[int(probs[j].argmax())], "quality": q,
                      "classifier": p.classifier}
            if p.action == "flag":
                item.record.setdefault("meta", {})["label_issue"] = detail
                yield item, None
            else:
                yield item, Drop("label_issue", detail)
