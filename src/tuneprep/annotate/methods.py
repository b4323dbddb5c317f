"""The annotation methods by name, and ``annotate_records``: the library entry point."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tuneprep.annotate.core import AnnotateError, apply_votes

METHODS = ("lexicon", "rules", "knn", "llm", "ensemble")


def config_class(method: str) -> type[BaseModel]:
    if method == "lexicon":
        from tuneprep.annotate.lexicon import LexiconConfig

        return LexiconConfig
    if method == "rules":
        from tuneprep.annotate.rules import RulesConfig

        return RulesConfig
    if method == "knn":
        from tuneprep.annotate.knn import KnnConfig

        return KnnConfig
    if method == "llm":
        from tuneprep.annotate.llm import LlmConfig

        return LlmConfig
    if method == "ensemble":
        from tuneprep.annotate.ensemble import EnsembleConfig

        return EnsembleConfig
    raise AnnotateError(f"unknown annotation method {method!r}; one of {', '.join(METHODS)}")


def build_labeler(method: str, params: dict[str, Any] | BaseModel | None, labels: list[str] | None) -> Any:
    """A labeler for ``method`` from its parameters (a dict is validated; errors name the method).

    For ``rules``, ``params`` may be ``{"rules_file": PATH}`` instead of inline rules.
    """
    cls = config_class(method)
    if params is None:
        params = {}
    if isinstance(params, dict):
        if method == "rules" and "rules_file" in params:
            from tuneprep.annotate.rules import load_rules

            params = load_rules(params["rules_file"])
        else:
            try:
                params = cls.model_validate(params)
            except ValidationError as e:
                raise AnnotateError(f"{method}: invalid parameters:\n{e}") from None
    if method == "lexicon":
        from tuneprep.annotate.lexicon import LexiconLabeler

        return LexiconLabeler(params, labels)  # type: ignore[arg-type]
    if method == "rules":
        from tuneprep.annotate.rules import RulesLabeler

        return RulesLabeler(params, labels)  # type: ignore[arg-type]
    if method == "knn":
        from tuneprep.annotate.knn import KnnLabeler

        return KnnLabeler(params, labels)  # type: ignore[arg-type]
    if method == "llm":
        from tuneprep.annotate.llm import LlmLabeler

        if not labels:
            raise AnnotateError("llm: needs the label set (--labels)")
        return LlmLabeler(params, labels)  # type: ignore[arg-type]
    from tuneprep.annotate.ensemble import EnsembleLabeler

    if not labels:
        raise AnnotateError("ensemble: needs the label set (--labels)")
    return EnsembleLabeler(params, labels)  # type: ignore[arg-type]


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
