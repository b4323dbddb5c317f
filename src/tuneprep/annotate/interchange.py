"""Interchange with labeling UIs: Label Studio task JSON, Argilla records, CSV.

Export turns records into tasks/records that carry the method's answer as a *prediction*
(pre-annotation; Argilla: a *suggestion*) and an existing label as an annotation (response), so
a team reviews suggestions in the UI it has. Import reads them back: the record's label is the
human annotation (majority when several annotators disagree; a tie leaves it unlabeled with the
reason), and every individual judgement is kept in ``meta`` and can be written out as
long-format ``{item, annotator, label}`` rows for ``tuneprep annotate agreement``.

The record's id and any other fields travel inside the task data (``tuneprep_id``,
``tuneprep_fields``), so export → import gives the records back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tuneprep.annotate.core import AnnotateError, has_label
from tuneprep.io.readers import load_records, read_rows
from tuneprep.io.writers import atomic_open, write_records
from tuneprep.records import RESERVED_KEYS, record_text

FORMATS = ("label-studio", "argilla", "csv")


def _suggestion(rec: dict[str, Any]) -> tuple[str | None, float | None, str | None]:
    """(label, confidence, method) to show as a pre-annotation: a label-issue review's suggestion
    (``meta.review``, from ``annotate issues``) first, else the annotation method's answer."""
    review = (rec.get("meta") or {}).get("review")
    if isinstance(review, dict) and review.get("suggested"):
        probs = review.get("probs") or {}
        return review["suggested"], probs.get(review["suggested"]), "issues"
    ann = (rec.get("meta") or {}).get("annotation") or {}
    lab = ann.get("label", ann.get("suggested"))
    if lab is None and ann.get("status") == "labeled":
        lab = rec.get("label")
    return lab, ann.get("confidence"), ann.get("method")


def _extra_fields(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in RESERVED_KEYS}


def labeling_config(labels: list[str], from_name: str = "label", to_name: str = "text") -> str:
    """A Label Studio labeling config (XML) for single-choice text classification."""
    choices = "\n".join(f'    <Choice value="{lab}"/>' for lab in labels)
    return (f'<View>\n  <Text name="{to_name}" value="${to_name}"/>\n'
            f'  <Choices name="{from_name}" toName="{to_name}" choice="single">\n{choices}\n  </Choices>\n</View>\n')


def _ls_result(label: str, from_name: str, to_name: str, score: float | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"from_name": from_name, "to_name": to_name, "type": "choices",
                         "value": {"choices": [label]}}
    if score is not None:
        r["score"] = score
    return r


def to_label_studio(records: list[dict[str, Any]], from_name: str = "label", to_name: str = "text",
                    include_labels: bool = True) -> list[dict[str, Any]]:
    """Label Studio tasks: ``data.text``, the method's answer as a prediction, a label as an annotation."""
    tasks = []
    for n, rec in enumerate(records, 1):
        data: dict[str, Any] = {to_name: record_text(rec), "tuneprep_id": rec.get("id")}
        extra = _extra_fields(rec)
        if extra:
            data["tuneprep_fields"] = extra
        if rec.get("meta"):
            data["tuneprep_meta"] = rec["meta"]
        task: dict[str, Any] = {"id": n, "data": data}
        lab, conf, method = _suggestion(rec)
        if lab is not None:
            task["predictions"] = [{"model_version": f"tuneprep:{method or 'unknown'}", "score": conf,
                                    "result": [_ls_result(lab, from_name, to_name, conf)]}]
        if include_labels and has_label(rec) and (rec.get("meta") or {}).get("annotation", {}).get("status") != "labeled":
            labs = rec["label"] if isinstance(rec["label"], list) else [rec["label"]]
            task["annotations"] = [{"completed_by": "gold", "result": [
                {"from_name": from_name, "to_name": to_name, "type": "choices", "value": {"choices": labs}}]}]
        tasks.append(task)
    return tasks


def _choices(result: list[dict[str, Any]], from_name: str | None) -> list[str]:
    out: list[str] = []
    for r in result or []:
        if r.get("type") != "choices" or (from_name and r.get("from_name") != from_name):
            continue
        out.extend(str(c) for c in (r.get("value") or {}).get("choices", []))
    return out


def _decide(judgements: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    if not judgements:
        return None, "no annotation"
    counts = Counter(lab for _, lab in judgements).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, "annotators tie: " + ", ".join(sorted(lab for lab, c in counts if c == counts[0][1]))
    return counts[0][0], None


def from_label_studio(tasks: list[dict[str, Any]], from_name: str | None = None, text_key: str = "text",
                      source: str = "<label-studio>") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records and long-format judgements from Label Studio tasks (export JSON or our own export)."""
    records, judgements = [], []
    for n, task in enumerate(tasks, 1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise AnnotateError(f"{source}: task {n} has no 'data' object")
        data = task["data"]
        if text_key not in data:
            raise AnnotateError(f"{source}: task {n} (id {task.get('id')}) has no data.{text_key}")
        rid = str(data.get("tuneprep_id") or task.get("id") or n)
        rec: dict[str, Any] = {"id": rid, "text": data[text_key]}
        rec.update(data.get("tuneprep_fields") or {})
        meta = dict(data.get("tuneprep_meta") or {})
        judged: list[tuple[str, str]] = []
        for k, ann in enumerate(task.get("annotations") or []):
            if ann.get("was_cancelled"):
                continue
            labs = _choices(ann.get("result"), from_name)
            if not labs:
                continue
            who = str(ann.get("completed_by", f"annotator{k}"))
            if isinstance(ann.get("completed_by"), dict):
                who = str(ann["completed_by"].get("email") or ann["completed_by"].get("id"))
            judged.append((who, labs[0] if len(labs) == 1 else "|".join(labs)))
        label, why = _decide(judged)
        if label is not None:
            rec["label"] = label
        preds = [{"model_version": p.get("model_version"), "score": p.get("score"),
                  "label": (_choices(p.get("result"), from_name) or [None])[0]} for p in task.get("predictions") or []]
        ls_meta: dict[str, Any] = {"task_id": task.get("id"), "annotations": [{"annotator": a, "label": b} for a, b in judged]}
        if preds:
            ls_meta["predictions"] = preds
        if why and judged:
            ls_meta["unlabeled_reason"] = why
        meta["label_studio"] = ls_meta
        rec["meta"] = meta
        records.append(rec)
        judgements.extend({"item": rid, "annotator": a, "label": b} for a, b in judged)
    return records, judgements


def to_argilla(records: list[dict[str, Any]], question: str = "label", field: str = "text") -> list[dict[str, Any]]:
    """Argilla (2.x) records: fields, metadata, suggestions (the method's answer), responses (a label)."""
    out = []
    for rec in records:
        r: dict[str, Any] = {"id": rec.get("id"), "fields": {field: record_text(rec)},
                             "metadata": _extra_fields(rec), "suggestions": {}, "responses": {}}
        lab, conf, method = _suggestion(rec)
        if lab is not None:
            r["suggestions"][question] = {"value": lab, "score": conf, "agent": f"tuneprep:{method or 'unknown'}"}
        if has_label(rec) and (rec.get("meta") or {}).get("annotation", {}).get("status") != "labeled":
            r["responses"][question] = [{"value": rec["label"], "user_id": "gold", "status": "submitted"}]
        if rec.get("meta"):
            r["metadata"] = {**r["metadata"], "tuneprep_meta": rec["meta"]}
        out.append(r)
    return out


def from_argilla(rows: list[dict[str, Any]], question: str = "label", field: str = "text",
                 source: str = "<argilla>") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records, judgements = [], []
    for n, row in enumerate(rows, 1):
        fields = row.get("fields") if isinstance(row, dict) else None
        if not isinstance(fields, dict) or field not in fields:
            raise AnnotateError(f"{source}: record {n} has no fields.{field}")
        rid = str(row.get("id") or n)
        metadata = dict(row.get("metadata") or {})
        meta = dict(metadata.pop("tuneprep_meta", None) or {})
        rec: dict[str, Any] = {"id": rid, "text": fields[field], **metadata}
        responses = (row.get("responses") or {}).get(question) or []
        judged = [(str(r.get("user_id", f"annotator{k}")), str(r["value"])) for k, r in enumerate(responses)
                  if r.get("value") is not None and r.get("status", "submitted") == "submitted"]
        label, why = _decide(judged)
        if label is not None:
            rec["label"] = label
        a_meta: dict[str, Any] = {"responses": [{"annotator": a, "label": b} for a, b in judged]}
        sug = (row.get("suggestions") or {}).get(question)
        if sug:
            a_meta["suggestion"] = sug
        if why and judged:
            a_meta["unlabeled_reason"] = why
        meta["argilla"] = a_meta
        rec["meta"] = meta
        records.append(rec)
        judgements.extend({"item": rid, "annotator": a, "label": b} for a, b in judged)
    return records, judgements


def to_csv_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows for spreadsheets: id, text, label, suggested, confidence, method, extra fields."""
    rows = []
    for rec in records:
        lab, conf, method = _suggestion(rec)
        rows.append({"id": rec.get("id"), "text": record_text(rec),
                     "label": rec.get("label") if has_label(rec) else "",
                     "suggested": lab or "", "confidence": "" if conf is None else conf, "method": method or "",
                     **{k: v for k, v in _extra_fields(rec).items()}})
    return rows


def export_records(records: list[dict[str, Any]], fmt: str, out: str | Path, labels: list[str] | None = None) -> int:
    """Write records for a labeling UI; returns the count. Label Studio also gets a config XML beside it."""

    out = Path(out)
    if fmt == "label-studio":
        tasks = to_label_studio(records)
        with atomic_open(out) as fh:
            fh.write(orjson.dumps(tasks, option=orjson.OPT_INDENT_2))
        if labels:
            out.with_suffix(".config.xml").write_text(labeling_config(labels))
        return len(tasks)
    if fmt == "argilla":
        rows = to_argilla(records)
        if out.suffix == ".jsonl":
            return write_records(out, rows)
        with atomic_open(out) as fh:
            fh.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
        return len(rows)
    if fmt == "csv":
        return write_records(out, to_csv_rows(records))
    raise AnnotateError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")


def _read_json_rows(path: Path) -> list[Any]:
    rows = []
    for raw in read_rows(path):
        if raw.error:
            raise AnnotateError(f"{path}:{raw.line}: {raw.error}")
        rows.append(raw.obj)
    return rows


def import_records(path: str | Path, fmt: str, text_field: str = "text", label_field: str = "label",
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records and long-format judgements from a labeling UI's export."""
    path = Path(path)
    if fmt == "label-studio":
        return from_label_studio(_read_json_rows(path), text_key=text_field, source=str(path))
    if fmt == "argilla":
        return from_argilla(_read_json_rows(path), field=text_field, source=str(path))
    if fmt == "csv":
        recs = load_records(path, text_field=text_field, label_field=label_field)
        for r in recs:
            for k in ("suggested", "confidence", "method"):
                r.pop(k, None)
            if r.get("label") == "":
                r.pop("label")
        return recs, []
    raise AnnotateError(f"unknown import format {fmt!r}; one of {', '.join(FORMATS)}")
