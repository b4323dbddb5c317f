"""The registry of annotation methods, and ``annotate_records``: the library entry point.

One entry per method: its pydantic config class and its labeler class (docs/architecture.md,
"Add an annotation method"). Everything that needs a method's settings (recipe steps, the
CLI, ensemble members) looks the method up here instead of re-typing its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tuneprep.annotate.core import AnnotateError, apply_votes
from tuneprep.annotate.ensemble import EnsembleConfig, EnsembleLabeler
from tuneprep.annotate.knn import KnnConfig, KnnLabeler
from tuneprep.annotate.lexicon import LexiconConfig, LexiconLabeler
from tuneprep.annotate.llm import LlmConfig, LlmLabeler
from tuneprep.annotate.rules import RulesConfig, RulesLabeler, load_rules


@dataclass(frozen=True)
class Method:
    """An annotation method: ``labeler(config, labels)`` labels records with ``config``."""

    name: str
    config: type[BaseModel]
    labeler: type
    needs_labels: bool = False  # refuses to run without the label set (--labels)
    # Labels each record on its own (its vote does not depend on the other records): the records can
    # be split over model replicas (`--engine ray`, annotate/onray.py). The ensemble is global: its
    # label model is fitted on every record's votes together.
    per_record: bool = True


REGISTRY: dict[str, Method] = {m.name: m for m in (
    Method("lexicon", LexiconConfig, LexiconLabeler),
    Method("rules", RulesConfig, RulesLabeler),
    Method("knn", KnnConfig, KnnLabeler),
    Method("llm", LlmConfig, LlmLabeler, needs_labels=True),
    Method("ensemble", EnsembleConfig, EnsembleLabeler, needs_labels=True, per_record=False),
)}
METHODS = tuple(REGISTRY)


def get_method(method: str) -> Method:
    try:
        return REGISTRY[method]
    except KeyError:
        raise AnnotateError(f"unknown annotation method {method!r}; one of {', '.join(METHODS)}") from None


def config_class(method: str) -> type[BaseModel]:
    return get_method(method).config


def _validated(m: Method, params: dict[str, Any] | BaseModel | None) -> BaseModel:
    if params is None:
        params = {}
    if isinstance(params, BaseModel):
        return params
    if m.name == "rules" and "rules_file" in params:
        return load_rules(params["rules_file"])
    try:
        return m.config.model_validate(params)
    except ValidationError as e:
        raise AnnotateError(f"{m.name}: invalid parameters:\n{e}") from None


def build_labeler(method: str, params: dict[str, Any] | BaseModel | None, labels: list[str] | None) -> Any:
    """A labeler for ``method`` from its parameters (a dict is validated; errors name the method).

    For ``rules``, ``params`` may be ``{"rules_file": PATH}`` instead of inline rules. An
    ensemble's members are built here too, each from its own method's config.
    """
    m = get_method(method)
    config = _validated(m, params)
    if m.needs_labels and not labels:
        raise AnnotateError(f"{method}: needs the label set (--labels)")
    if m.labeler is EnsembleLabeler:
        members = []
        for spec in config.members:  # type: ignore[attr-defined]
            if spec.method == "ensemble":
                raise AnnotateError("ensemble: a member cannot itself be an ensemble")
            members.append((spec.name or spec.method, build_labeler(spec.method, spec.params, labels)))
        return EnsembleLabeler(config, labels, members)  # type: ignore[arg-type]
    return m.labeler(config, labels)


def annotate_records(
    records: list[dict[str, Any]],
    method: str,
    labels: list[str] | None,
    params: dict[str, Any] | BaseModel | None = None,
    overwrite: bool = False,
    labeler: Any = None,
) -> list[dict[str, Any]]:
    """Label ``records`` with one method; returns new records (see ``core.apply_vote`` for the rules)."""
    labeler = labeler or build_labeler(method, params, labels)
    labeler.setup()
    votes = labeler.label(records)
    return apply_votes(records, votes, method, overwrite)
