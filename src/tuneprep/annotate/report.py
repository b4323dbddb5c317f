"""Annotator report: per voter (method, member or rule) coverage, overlap, conflict rate, and
accuracy / macro-F1 against whatever gold labels exist.

Definitions (as in Snorkel's LF analysis, denominators = all records):
* coverage — share of records where the voter gave a label;
* overlap — share where it voted and at least one other voter voted too;
* conflict — share where it voted and at least one other voter voted a *different* label.
Accuracy and macro-F1 are measured on the records that have a gold label and that the voter
labeled (``n_gold``); abstentions are not counted as errors but show up in coverage.
"""

from __future__ import annotations

from typing import Any

from tuneprep.io.readers import load_records

FINAL = "<final>"


def _annotation(rec: dict[str, Any]) -> dict[str, Any]:
    return (rec.get("meta") or {}).get("annotation") or {}


def final_label(rec: dict[str, Any]) -> str | None:
    """The method's own answer for a record (also when a gold label was kept)."""
    ann = _annotation(rec)
    if not ann:
        return None
    return ann.get("label", ann.get("suggested"))


def gold_from_records(records: list[dict[str, Any]]) -> dict[str, str]:
    """Gold labels that the annotation kept (records that were labeled before annotation)."""
    return {str(r["id"]): r["label"] for r in records
            if _annotation(r).get("status") == "kept_existing" and isinstance(r.get("label"), str)}


def annotator_report(records: list[dict[str, Any]], gold: dict[str, str] | None = None) -> dict[str, Any]:
    """The report as a JSON-able dict: ``{"n_records", "n_gold", "gold_source", "voters": [...]}``."""
    from sklearn.metrics import accuracy_score, f1_score

    gold_source = "--gold file"
    if gold is None:
        gold = gold_from_records(records)
        gold_source = "labels kept in the data"
    votes_per: list[dict[str, str | None]] = []
    names: list[str] = []
    for rec in records:
        v = dict(_annotation(rec).get("votes") or {})
        for k in v:
            if k not in names:
                names.append(k)
        votes_per.append(v)
    method = next((_annotation(r).get("method") for r in records if _annotation(r)), None)
    n = len(records)
    rows = []
    for name in [*names, FINAL]:
        covered = overlap = conflict = 0
        y_true, y_pred = [], []
        for rec, votes in zip(records, votes_per):
            mine = final_label(rec) if name == FINAL else votes.get(name)
            if mine is None:
                continue
            covered += 1
            others = [v for k, v in votes.items() if k != name and v is not None] if name != FINAL else []
            if others:
                overlap += 1
                if any(o != mine for o in others):
                    conflict += 1
            g = gold.get(str(rec.get("id")))
            if g is not None:
                y_true.append(g)
                y_pred.append(mine)
        row: dict[str, Any] = {
            "voter": f"{method} (final)" if name == FINAL else name,
            "coverage": covered / n if n else 0.0,
            "overlap": overlap / n if n else 0.0,
            "conflict": conflict / n if n else 0.0,
            "n_gold": len(y_true),
            "accuracy": float(accuracy_score(y_true, y_pred)) if y_true else None,
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=sorted(set(y_true)),
                                       zero_division=0)) if y_true else None,
        }
        if name == FINAL:
            row.pop("overlap")
            row.pop("conflict")
        rows.append(row)
    return {"method": method, "n_records": n, "n_gold": sum(str(r.get("id")) in gold for r in records),
            "gold_source": gold_source, "voters": rows}


def load_gold(path: str, text_field: str = "text", label_field: str = "label") -> dict[str, str]:
    """``{id: label}`` from a file of labeled records (ids must match the annotated records)."""

    recs = load_records(path, text_field=None, label_field=label_field)
    return {str(r["id"]): r["label"] for r in recs if isinstance(r.get("label"), str)}


def render_table(report: dict[str, Any]) -> Any:
    """A rich Table of the report."""
    from rich.table import Table

    from tuneprep.ui.console import protect_identifiers

    t = Table(title=f"annotators ({report['method']}; {report['n_records']} records, "
                    f"{report['n_gold']} with gold from {report['gold_source']})")
    for col in ("voter", "coverage", "overlap", "conflict", "n_gold", "accuracy", "macro-F1"):
        t.add_column(col, justify="left" if col == "voter" else "right")

    def fmt(x: Any) -> str:
        return "—" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    for r in report["voters"]:
        t.add_row(r["voter"], fmt(r["coverage"]), fmt(r.get("overlap")), fmt(r.get("conflict")), fmt(r["n_gold"]),
                  fmt(r["accuracy"]), fmt(r["macro_f1"]))
    return protect_identifiers(t, ["voter"])
