"""``rules``: keyword/regex labeling functions declared in YAML, or Python functions by reference.

YAML (``--rules FILE``)::

    rules:
      - name: praise                 # unique; shown in meta.annotation.votes and the report
        label: positive
        keywords: [masterpiece, brilliant, "must see"]   # whole words/phrases, case-insensitive
      - name: plot_summary
        label: neutral
        regex: "\\b(he|she|they) (must|finds?|discovers?)\\b"
        ignore_case: true            # default true
      - name: mine
        function: mypkg.lfs:is_spam  # or path/to/file.py:is_spam; f(record) -> label or None

A rule votes its label when it matches and abstains otherwise; a ``function`` rule returns a
label or None (abstain). The method's label is the plurality of the rules that voted; a tie or
no vote leaves the record unlabeled with the reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from tuneprep.annotate.core import AnnotateError, Vote, majority
from tuneprep.records import record_text


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str | None = None
    keywords: list[str] | None = None
    regex: str | None = None
    ignore_case: bool = True
    function: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RuleSpec:
        kinds = [k for k in ("keywords", "regex", "function") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(f"rule '{self.name}': give exactly one of keywords, regex, function (got {kinds or 'none'})")
        if kinds[0] != "function" and not self.label:
            raise ValueError(f"rule '{self.name}': a keyword/regex rule needs a label")
        return self


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleSpec]

    @model_validator(mode="after")
    def _unique(self) -> RulesConfig:
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate rule names: {dup}")
        if not self.rules:
            raise ValueError("no rules")
        return self


def load_rules(path: str | Path) -> RulesConfig:
    """Read and validate a rules YAML file (errors name the file and the rule)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise AnnotateError(f"{path}: cannot read rules: {e}") from None
    if isinstance(data, list):
        data = {"rules": data}
    try:
        return RulesConfig.model_validate(data)
    except ValidationError as e:
        raise AnnotateError(f"{path}: invalid rules:\n{e}") from None


def resolve_function(ref: str) -> Callable[[dict[str, Any]], Any]:
    """``module:function`` or ``path/to/file.py:function`` → the callable."""
    if ":" not in ref:
        raise AnnotateError(f"function reference {ref!r} must look like module:function")
    mod_name, func_name = ref.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(mod_name).stem, mod_name)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {mod_name}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except (ImportError, OSError) as e:
        raise AnnotateError(f"function reference {ref!r}: cannot import {mod_name}: {e}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise AnnotateError(f"function reference {ref!r}: {mod_name} has no function {func_name}")
    return func


class _Rule:
    def __init__(self, spec: RuleSpec, labels: list[str] | None):
        self.name = spec.name
        self.label = spec.label
        self.labels = labels
        if labels is not None and spec.label is not None and spec.label not in labels:
            raise AnnotateError(f"rule '{spec.name}': label {spec.label!r} is not in the label set {labels}")
        flags = re.IGNORECASE if spec.ignore_case else 0
        self.func: Callable[[dict[str, Any]], Any] | None = None
        self.pattern: re.Pattern[str] | None = None
        if spec.keywords:
            alts = "|".join(re.escape(k) for k in sorted(spec.keywords, key=len, reverse=True))
            self.pattern = re.compile(rf"(?<!\w)(?:{alts})(?!\w)", flags)
        elif spec.regex:
            try:
                self.pattern = re.compile(spec.regex, flags)
            except re.error as e:
                raise AnnotateError(f"rule '{spec.name}': bad regex {spec.regex!r}: {e}") from None
        else:
            self.func = resolve_function(spec.function or "")

    def __call__(self, record: dict[str, Any]) -> str | None:
        if self.pattern is not None:
            return self.label if self.pattern.search(record_text(record)) else None
        assert self.func is not None
        out = self.func(record)
        if out is None:
            return None
        out = str(out)
        if self.labels is not None and out not in self.labels:
            raise AnnotateError(
                f"rule '{self.name}' returned {out!r} for record {record.get('id')!r}, which is not in "
                f"the label set {self.labels}"
            )
        return out


class RulesLabeler:
    method = "rules"

    def __init__(self, config: RulesConfig, labels: list[str] | None = None):
        self.rules = [_Rule(s, labels) for s in config.rules]

    def setup(self) -> None:
        pass

    def label(self, records: list[dict[str, Any]]) -> list[Vote]:
        out = []
        for rec in records:
            votes = {r.name: r(rec) for r in self.rules}
            lab, share, reason = majority(votes)
            if lab is None and reason == "every voter abstained":
                reason = "no rule matched"
            out.append(Vote(lab, share, reason=reason, votes=votes))
        return out
