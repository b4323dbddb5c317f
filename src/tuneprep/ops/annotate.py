"""Annotation operators (``annotate.<method>``) for recipes.

Each wraps the library in ``tuneprep.annotate``: records get ``label`` and
``meta.annotation = {method, confidence, votes}``; no record is ever dropped (a record no
method can label stays unlabeled with the reason in ``meta.annotation``); existing labels are
kept unless ``overwrite: true``. ``annotate.ensemble`` is a global step because the
Dawid–Skene label model is fitted on the whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pydantic import Field, create_model

from tuneprep.annotate.core import apply_votes
from tuneprep.annotate.methods import build_labeler, get_method
from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.ops.base import BatchOp, Drop, GlobalOp, Item, OpParams, register


class _Common(OpParams):
    labels: list[str] = Field(default_factory=lambda: list(SENTIMENT_LABELS), description="The label set.")
    overwrite: bool = Field(False, description="Replace labels the records already have.")


def _method_params(params: OpParams, exclude: tuple[str, ...] = ("labels", "overwrite")) -> dict[str, Any]:
    return params.model_dump(exclude=set(exclude), exclude_none=True)


class _AnnotateBatch(BatchOp):
    method: ClassVar[str] = ""
    batch_size: ClassVar[int] = 256

    def setup(self) -> None:
        self.labeler = build_labeler(self.method, self._config(), self.params.labels)  # type: ignore[attr-defined]
        self.labeler.setup()

    def _config(self) -> dict[str, Any]:
        return _method_params(self.params)

    def apply_batch(self, records: list[dict[str, Any]]) -> list[dict[str, Any] | Drop]:
        votes = self.labeler.label(records)
        return list(apply_votes(records, votes, self.method, self.params.overwrite))  # type: ignore[attr-defined]


def _params_of(method: str, **overrides: Any) -> type[OpParams]:
    """The step's params: the method's own config (the one source of its settings, in the
    annotation method registry) plus the label set and ``overwrite`` every annotate step has."""
    config = get_method(method).config
    return create_model(f"{config.__name__.removesuffix('Config')}Params", __base__=(_Common, config),
                        __doc__=config.__doc__, **overrides)


LexiconParams = _params_of("lexicon")


@register
class AnnotateLexicon(_AnnotateBatch):
    name = "annotate.lexicon"
    method = "lexicon"
    Params = LexiconParams
    description = "Label sentiment with VADER (vaderSentiment) by compound-score thresholds."


class RulesParams(_Common):
    rules_file: str | None = Field(None, description="YAML file of keyword/regex/function rules.")
    rules: list[dict[str, Any]] | None = Field(None, description="Inline rules (same schema as the file).")


@register
class AnnotateRules(_AnnotateBatch):
    name = "annotate.rules"
    method = "rules"
    Params = RulesParams
    description = "Label with keyword/regex/Python labeling functions; plurality of those that vote."

    def _config(self) -> dict[str, Any]:
        p = self.params
        if bool(p.rules_file) == bool(p.rules):  # type: ignore[attr-defined]
            raise ValueError("annotate.rules: give exactly one of rules_file and rules")
        return {"rules_file": p.rules_file} if p.rules_file else {"rules": p.rules}  # type: ignore[attr-defined]


KnnParams = _params_of("knn", seed_labels=(str, Field(..., description="File of labeled seed records.")))


@register
class AnnotateKnn(_AnnotateBatch):
    name = "annotate.knn"
    method = "knn"
    Params = KnnParams
    description = "Label by the k nearest labeled seeds in MiniLM embedding space."


LlmParams = _params_of("llm")


@register
class AnnotateLlm(_AnnotateBatch):
    name = "annotate.llm"
    method = "llm"
    Params = LlmParams
    batch_size = 64
    description = "Zero/few-shot labels from a registry model (verbalizer scoring) or an OpenAI-compatible endpoint."


EnsembleParams = _params_of("ensemble")


@register
class AnnotateEnsemble(GlobalOp):
    name = "annotate.ensemble"
    Params = EnsembleParams
    description = "Combine several methods by majority vote or a Dawid–Skene label model (fitted on all records)."

    def setup(self) -> None:
        p = self.params
        self.labeler = build_labeler("ensemble", _method_params(p), p.labels)  # type: ignore[attr-defined]
        self.labeler.setup()

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        items = list(open_items())
        records = apply_votes([it.record for it in items], self.labeler.label([it.record for it in items]),
                              "ensemble", self.params.overwrite)  # type: ignore[attr-defined]
        for it, rec in zip(items, records, strict=True):
            yield Item(it.source, rec, it.key), None
