"""``select.relevance``: keep what is relevant to the user's task ("remove irrelevant data").

The task is given by any of: ``task`` (one or more short descriptions), ``examples`` (a file of
in-domain records, optionally labelled). Every input record is embedded (``minilm-l6``, cached)
and scored:

* ``max`` — the highest cosine similarity to any example (or description); with
  ``match_label`` and a labelled example set, only examples of the record's own label count.
* ``mean`` — cosine similarity to the (normalised) mean of the example vectors.
* ``classifier`` — a logistic regression, in-domain examples against the input as background,
  trained K-fold so that each input record is scored by a model that did not see it (the same
  out-of-fold code as ``annotate issues``); score = P(in-domain).

Then ``threshold`` keeps records scoring at least it, or ``top_n`` keeps the best n. The score
is kept in ``meta.scores["select.relevance"]``; drops say ``irrelevant`` (below the threshold) or
``not_top`` with the score and the cut-off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, register
from tuneprep.ops.selection.common import DEFAULT_ENCODER, Collected
from tuneprep.records import set_score


class RelevanceError(ValueError):
    """The task cannot be scored as configured (message names the file or parameter)."""


class RelevanceParams(OpParams):
    task: str | list[str] | None = None
    """Short description(s) of the task's data, e.g. 'a film critic's verdict on a movie'."""
    examples: str | None = None
    """File of in-domain example records (any format tuneprep reads; text at examples_text_field)."""
    examples_text_field: str = "text"
    """Text field of the examples file."""
    examples_label_field: str | None = None
    """Label field of the examples file (for match_label)."""
    match_label: bool = False
    """max: compare each record only with the examples of its own label (labelled example set)."""
    field: str = "label"
    """The input records' label field or meta path (for match_label)."""
    scorer: Literal["max", "mean", "classifier"] = "max"
    """max / mean cosine similarity to the examples, or an out-of-fold in-domain-vs-background classifier."""
    threshold: float | None = None
    """Keep records scoring at least this."""
    top_n: int | None = Field(None, ge=0)
    """Keep the n best-scoring records."""
    folds: int = Field(5, ge=2)
    """classifier: folds of the out-of-fold scoring."""
    model: str = DEFAULT_ENCODER
    """Sentence encoder (registry name or local directory)."""
    seed: int = 0
    """Seed of the classifier's folds."""

    @model_validator(mode="after")
    def _check(self) -> RelevanceParams:
        if (self.threshold is None) == (self.top_n is None):
            raise ValueError("give exactly one of threshold or top_n")
        if not self.task and not self.examples:
            raise ValueError("give the task: task (a description) and/or examples (a file of in-domain records)")
        if self.scorer == "classifier" and not self.examples:
            raise ValueError("scorer classifier needs examples (a file of in-domain records)")
        if self.match_label and not (self.examples and self.examples_label_field):
            raise ValueError("match_label needs examples with examples_label_field")
        return self


@register
class SelectRelevance(GlobalOp):
    """Keep records similar to the task (description, in-domain examples): threshold or top_n."""

    name: ClassVar[str] = "select.relevance"
    Params: ClassVar[type[OpParams]] = RelevanceParams
    description: ClassVar[str] = "Keep records relevant to a task description or in-domain examples (cosine or classifier)."

    def setup(self) -> None:
        from tuneprep.io.readers import load_records

        p = self.params
        self._ex_texts: list[str] = [p.task] if isinstance(p.task, str) else list(p.task or [])
        self._ex_labels: list[str | None] = [None] * len(self._ex_texts)
        if p.examples:
            recs = load_records(p.examples, text_field=p.examples_text_field, label_field=p.examples_label_field)
            if not recs:
                raise RelevanceError(f"{p.examples}: no example records")
            for r in recs:
                self._ex_texts.append(r.get("text") or "")
                lab = r.get("label")
                self._ex_labels.append(str(lab) if lab is not None else None)

    def scores(self, data: Collected) -> Any:
        """One relevance score per input record."""
        import numpy as np

        from tuneprep.annotate.embed import encode

        p = self.params
        if not hasattr(self, "_ex_texts"):
            self.setup()
        x = data.embeddings(p.model)
        if len(data) == 0:
            return np.zeros(0)
        e = encode(self._ex_texts, p.model)
        if p.scorer == "classifier":
            from tuneprep.annotate.issues import cross_val_probs

            # Examples are class 1, the input is the background (class 0); every input record is
            # scored out of fold. The examples that are also in the input count on both sides.
            xx = np.vstack([e, x])
            y = np.r_[np.ones(len(e), np.int64), np.zeros(len(x), np.int64)]
            folds = min(p.folds, len(e))
            if folds < 2:
                raise RelevanceError(f"{p.examples}: the classifier needs at least 2 examples")
            return cross_val_probs(xx, y, 2, folds=folds, seed=p.seed)[len(e):, 1]
        if p.scorer == "mean":
            c = e.mean(axis=0)
            return x @ (c / max(float(np.linalg.norm(c)), 1e-12))
        sims = x @ e.T
        if p.match_label:
            ex_lab = np.array([lab or "" for lab in self._ex_labels])
            for i, labs in enumerate(data.labels):
                mask = np.isin(ex_lab, labs)
                sims[i, ~mask] = -1.0  # no example of its label: least relevant
        return sims.max(axis=1)

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        import numpy as np

        p = self.params
        data = Collected(open_items, p.seed, p.field if p.match_label else None)
        s = self.scores(data)
        if p.top_n is not None:
            order = np.lexsort((np.array(data.prio, dtype=np.uint64), -s)) if len(s) else np.zeros(0, int)
            keep = set(order[:p.top_n].tolist())
            cutoff = float(s[order[p.top_n - 1]]) if 0 < p.top_n <= len(s) else None
        for pos, item in enumerate(open_items()):
            score = round(float(s[pos]), 5)
            set_score(item.record, self.name, score)
            if p.threshold is not None:
                ok = score >= p.threshold
                yield item, (None if ok else Drop("irrelevant", {"score": score, "threshold": p.threshold,
                                                                 "scorer": p.scorer}))
            else:
                yield item, (None if pos in keep else Drop("not_top", {"score": score, "cutoff": cutoff,
                                                                      "scorer": p.scorer}))

