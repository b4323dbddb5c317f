"""Runs that fail loudly: missing labels, too many rejects, nothing kept.

- ``label_problem``: when a label field is configured (or the split stratifies by label), a
  record without a label (missing, null, empty) is a ``missing_label`` reject, unless the
  recipe says ``allow_unlabeled: true`` (then ``train_only`` keeps it out of val/test). It is
  judged on read, or after the steps when the recipe has ``annotate.*`` steps (they label
  records on the way).
- ``reject_fraction_problems``: a step that drops more than ``max_reject_fraction`` of its
  input (per step, or the recipe's, default 0.5; ``select.*`` steps, which are asked to drop,
  have no limit unless they set one) stops the run, with its top reasons.
- ``nothing_kept``: a run that keeps 0 records fails, with the top reject reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from tuneprep.recipe import Recipe
from tuneprep.records import did_you_mean, get_path


def labels_required(recipe: Recipe) -> bool:
    return bool(recipe.input.label_field) or (recipe.split is not None and recipe.split.stratify_by == "label")


def is_unlabeled(rec: Mapping[str, Any]) -> bool:
    label = rec.get("label")
    return label is None or (isinstance(label, str) and not label.strip()) or (isinstance(label, list) and not label)


def label_problem(rec: Mapping[str, Any], row: Any, recipe: Recipe) -> str | None:
    """Why ``rec`` (read from input ``row``) must be rejected as ``missing_label``; None to keep it.

    With ``label_field`` set, the row must hold that field (a ``label`` the row happens to carry
    besides does not count: a misspelt ``label_field`` must not pass unnoticed)."""
    if recipe.input.allow_unlabeled or not labels_required(recipe):
        return None
    field = recipe.input.label_field
    if field and isinstance(row, Mapping):
        try:
            get_path(row, field)
        except KeyError:
            return f"no label: field '{field}' is missing" + did_you_mean(field, row.keys())
    if not is_unlabeled(rec):
        return None
    return f"no label: field '{field or 'label'}' is {'empty' if rec.get('label') is not None else 'null'}"


def labels_checked_on_read(recipe: Recipe) -> bool:
    """True when each record read can be a ``missing_label`` reject (``label_problem`` can answer
    other than None), decided once per recipe rather than per record."""
    return (labels_required(recipe) and not recipe.input.allow_unlabeled
            and not labels_checked_at_output(recipe))


def labels_checked_at_output(recipe: Recipe) -> bool:
    """True when missing labels are judged after the steps (the recipe annotates records), not on read."""
    return labels_required(recipe) and any(s.op.startswith("annotate.") for s in recipe.steps)


def keep_labeled(items: Iterable[Any], recipe: Recipe, stats: Any, reject: Callable[[Any, str], None]) -> Iterator[Any]:
    """The items whose record may be kept (``label_problem``); the others go to ``reject``."""
    for it in items:
        stats.records_in += 1
        why = label_problem(it.record, None, recipe)
        if why:
            stats.dropped["missing_label"] += 1
            reject(it, why)
            continue
        stats.records_out += 1
        yield it


def train_only(rec: Mapping[str, Any], recipe: Recipe) -> bool:
    """An unlabeled record kept by ``allow_unlabeled``: it may go to train, never to val/test."""
    return recipe.input.allow_unlabeled and labels_required(recipe) and is_unlabeled(rec)


def final_split(split: str, rec: Mapping[str, Any], recipe: Recipe) -> str:
    """The split a record is written to: its assigned one, or train for a ``train_only`` record
    (an unlabeled record can be trained on, never scored against)."""
    return "train" if split != "train" and train_only(rec, recipe) else split


def top_reasons(steps: list[dict[str, Any]], n: int = 5) -> str:
    """The most frequent reject reasons over all steps, as ``reason (step): count`` text."""
    pairs = [(c, r, s["step"]) for s in steps for r, c in s["dropped"].items()]
    pairs.sort(key=lambda x: -x[0])
    return ", ".join(f"{r} ({step}): {c:,}" for c, r, step in pairs[:n]) or "none"


def step_limit(recipe: Recipe, step_name: str) -> float:
    """The max_reject_fraction for a step label (``read``, ``2:filter.length``, ``output``)."""
    head = step_name.split(":", 1)[0]
    if head.isdigit():
        step = recipe.steps[int(head) - 1]
        if step.max_reject_fraction is not None:
            return step.max_reject_fraction
        if step.op.startswith("select."):
            return 1.0  # selecting a subset is what a select step is asked to do
    return recipe.max_reject_fraction


def first_error(rejects_dir: Path, step: str) -> str:
    """``"; e.g. <line>: <error>"`` from the first reject of ``step`` (empty when none has a message)."""
    path = rejects_dir / (step.replace(":", "-") + ".jsonl")
    if not path.exists():
        return ""
    with open(path, "rb") as fh:
        line = fh.readline()
    if not line.strip():
        return ""
    rej = orjson.loads(line)
    err = (rej.get("detail") or {}).get("error")
    return f"; e.g. {rej.get('source')}: {err}" if err else ""


def reject_fraction_problems(steps: list[dict[str, Any]], recipe: Recipe,
                             rejects_dir: Path | None = None) -> list[str]:
    """A message per step that dropped more than its max_reject_fraction of its input (with the
    first reject's error when ``rejects_dir`` is given, which names a missing field's alternatives)."""
    out = []
    for s in steps:
        dropped = sum(s["dropped"].values())
        if not s["in"] or not dropped:
            continue
        limit = step_limit(recipe, s["step"])
        frac = dropped / s["in"]
        if frac > limit:
            reasons = ", ".join(f"{r}: {c:,}" for r, c in sorted(s["dropped"].items(), key=lambda x: -x[1])[:3])
            where = (f"steps[{int(s['step'].split(':')[0]) - 1}].max_reject_fraction"
                     if s["step"].split(":")[0].isdigit() else "max_reject_fraction")
            example = first_error(rejects_dir, s["step"]) if rejects_dir is not None else ""
            out.append(f"step {s['step']} rejected {dropped:,} of {s['in']:,} records ({frac:.0%} > "
                       f"max_reject_fraction {limit:g}); top reasons: {reasons}{example}. If that is intended, "
                       f"set {where} in the recipe (1.0 never stops)")
    return out


def nothing_kept(records_in: int, steps: list[dict[str, Any]], rejects_dir: Path | None = None) -> str:
    if records_in == 0:
        return "the inputs hold 0 records (every file is empty or blank)"
    worst = max(steps, key=lambda s: sum(s["dropped"].values()))
    example = first_error(rejects_dir, worst["step"]) if rejects_dir is not None else ""
    return f"0 of {records_in:,} records kept; top reject reasons: {top_reasons(steps)}{example}"


def file_counts(shards: list[Any], results: dict[int, dict[str, Any]],
                log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Rows read and records kept per input file; an empty file, or one that gave 0 records, is said."""
    per: dict[str, dict[str, Any]] = {}
    for s in shards:
        d = per.setdefault(s.path, {"path": s.path, "bytes": 0, "rows": 0, "records": 0})
        d["bytes"] += s.size
        read = results[s.index]["steps"][0]
        d["rows"] += read["in"]
        d["records"] += read["out"]
    for d in per.values():
        if d["bytes"] == 0:
            d["note"] = "empty file (0 bytes)"
        elif d["rows"] == 0:
            d["note"] = f"{d['bytes']:,} bytes but no row (only blank lines, or a header alone)"
        elif d["records"] == 0:
            d["note"] = f"{d['rows']:,} rows but 0 records: every row was rejected on read"
        if "note" in d:
            log(f"warning: {d['path']}: {d['note']}")
    return list(per.values())
