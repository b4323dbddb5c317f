"""Annotation operators (``annotate.<method>``) for recipes.

Each wraps the library in ``tuneprep.annotate``: records get ``label`` and
``meta.annotation = {method, confidence, votes}``; no record is ever dropped (a record no
method can label stays unlabeled with the reason in ``meta.annotation``); existing labels are
kept unless ``overwrite: true``. ``annotate.ensemble`` is a global step because the
Dawid–Skene label model is fitted on the whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from tuneprep.annotate.core import apply_votes
from tuneprep.annotate.methods import build_labeler
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


class LexiconParams(_Common):
    positive_threshold: float = Field(0.05, description="VADER compound ≥ this → positive.")
    negative_threshold: float = Field(-0.05, description="VADER compound ≤ this → negative.")
    positive_label: str = "positive"
    negative_label: str = "negative"
    neutral_label: str | None = Field("neutral", description="null: abstain in the neutral band.")


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


class KnnParams(_Common):
    seed_labels: str = Field(..., description="File of labeled seed records.")
    k: int = Field(10, ge=1)
    model: str = Field("minilm-l6", description="Sentence encoder.")
    class_balance: bool = True
    min_similarity: float | None = None


@register
class AnnotateKnn(_AnnotateBatch):
    name = "annotate.knn"
    method = "knn"
    Params = KnnParams
    description = "Label by the k nearest labeled seeds in MiniLM embedding space."


class LlmParams(_Common):
    model: str | None = Field(None, description="Registry name, model dir or training run (default smollm2-135m).")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL.")
    api_key_env: str | None = Field(None, description="Environment variable that holds the API key.")
    endpoint_model: str = "default"
    api: Literal["chat", "completions"] = "chat"
    instruction: str | None = None
    verbalizers: dict[str, str] = Field(default_factory=dict)
    examples: str | None = None
    n_examples: int = 1
    max_tokens: int = 8
    max_length: int | None = 256


@register
class AnnotateLlm(_AnnotateBatch):
    name = "annotate.llm"
    method = "llm"
    Params = LlmParams
    batch_size = 64
    description = "Zero/few-shot labels from a registry model (verbalizer scoring) or an OpenAI-compatible endpoint."


class EnsembleParams(_Common):
    members: list[dict[str, Any]] = Field(..., description="[{method, name?, params}] (at least two).")
    combine: Literal["majority", "dawid-skene"] = "dawid-skene"
    use_gold: bool = True


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
