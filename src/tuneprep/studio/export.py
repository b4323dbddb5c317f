"""Export a project: records with their final label and every individual annotation.

Final label, in this order (the source is written to ``meta.studio.final_source``):
1. ``adjudicated`` — a reviewer's decision;
2. ``dawid-skene`` — the Dawid–Skene label model over all human labels of the project
   (``tuneprep.annotate.labelmodel``), when at least two annotators labelled a common item;
3. ``majority`` — plurality of the human labels otherwise (a tie leaves the record unlabeled,
   ``final_source: tie``);
4. ``input`` / ``unlabeled`` — nobody labelled it: the input label is kept, or there is none.
Every submitted label is in ``meta.annotations`` (annotator, value, time, duration_ms, comment);
``judgements.jsonl`` holds the same as long-format rows for ``tuneprep annotate agreement``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tuneprep.studio.db import Assignment, Item, Project, User, redacted
from tuneprep.studio.projects import adjudications, project_by_name


def _iso(t: dt.datetime | None) -> str | None:
    return t.replace(tzinfo=dt.timezone.utc).isoformat() if t else None


def export_records(sf: sessionmaker, project_name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records, summary) for a project. Records in = records out: every item is exported."""
    from tuneprep.annotate.labelmodel import dawid_skene, majority_vote

    with sf() as s:
        p: Project = project_by_name(s, project_name)
        items = list(s.scalars(select(Item).where(Item.project_id == p.id).order_by(Item.position)))
        rows = s.execute(
            select(Assignment, User.name).join(User, User.id == Assignment.user_id)
            .where(Assignment.project_id == p.id, Assignment.status.in_(("done", "skipped")))
            .order_by(Assignment.item_id, Assignment.submitted_at, Assignment.id)
        ).all()
        adj = adjudications(s, p.id)
        reviewers = dict(s.execute(select(User.id, User.name)).all())
        labels = list(p.labels)
    anns: dict[int, list[dict[str, Any]]] = {}
    skipped: dict[int, list[str]] = {}
    for a, name in rows:
        if a.status == "skipped":
            skipped.setdefault(a.item_id, []).append(name)
            continue
        anns.setdefault(a.item_id, []).append({"annotator": name, "value": a.label, "time": _iso(a.submitted_at),
                                               "duration_ms": a.duration_ms, "comment": a.comment or ""})
    annotators = sorted({x["annotator"] for v in anns.values() for x in v})
    col = {n: j for j, n in enumerate(annotators)}
    votes = np.full((len(items), len(annotators)), -1, dtype=int)
    for i, it in enumerate(items):
        for x in anns.get(it.id, []):
            votes[i, col[x["annotator"]]] = labels.index(x["value"])
    shared = bool(((votes >= 0).sum(1) >= 2).any())
    model = "dawid-skene" if len(annotators) >= 2 and shared else "majority"
    posterior = None
    if model == "dawid-skene":
        res = dawid_skene(votes, len(labels))
        pred, posterior = res.predict(), res.posterior
    else:
        pred = majority_vote(votes, len(labels)) if len(annotators) else np.full(len(items), -1)
    out, sources = [], {}
    for i, it in enumerate(items):
        rec = json.loads(json.dumps(it.record))
        meta = dict(rec.get("meta") or {})
        info: dict[str, Any] = {"project": p.name, "n_annotations": len(anns.get(it.id, []))}
        if it.id in adj:
            a = adj[it.id]
            label, src = a.label, "adjudicated"
            info["adjudication"] = {"reviewer": reviewers.get(a.reviewer_id), "label": a.label,
                                    "comment": a.comment, "time": _iso(a.at)}
        elif it.id in anns:
            k = int(pred[i])
            label, src = (labels[k], model) if k >= 0 else (None, "tie")
            if posterior is not None and k >= 0:
                info["confidence"] = round(float(posterior[i, k]), 4)
        elif rec.get("label") is not None:
            label, src = rec["label"], "input"
        else:
            label, src = None, "unlabeled"
        if rec.get("label") is not None and src not in ("input",):
            info["input_label"] = rec["label"]
        info["final_source"] = src
        if it.id in skipped:
            info["skipped_by"] = skipped[it.id]
        if it.suggestion is not None:
            info["suggestion"] = {"label": it.suggestion, "score": it.suggestion_score, "method": it.suggestion_method}
        meta["annotations"] = anns.get(it.id, [])
        meta["studio"] = info
        rec["label"] = label
        rec["meta"] = meta
        out.append(rec)
        sources[src] = sources.get(src, 0) + 1
    summary = {"project": p.name, "labels": labels, "overlap": p.overlap, "n_records": len(out),
               "n_annotations": sum(len(v) for v in anns.values()), "annotators": annotators,
               "label_model": model, "final_source_counts": sources}
    return out, summary


def export_project(sf: sessionmaker, project_name: str, out_dir: Path, db_url: str) -> dict[str, Any]:
    """Write ``OUT/data/records.jsonl``, ``OUT/judgements.jsonl`` and ``OUT/manifest.json``."""
    from tuneprep.io.writers import write_jsonl
    from tuneprep.version import __version__

    records, summary = export_records(sf, project_name)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    data = out_dir / "data" / "records.jsonl"
    judg = out_dir / "judgements.jsonl"
    write_jsonl(data, records)
    write_jsonl(judg, [{"item": r["id"], "annotator": a["annotator"], "label": a["value"]}
                       for r in records for a in r["meta"]["annotations"]])
    files = {}
    for f in (data, judg):
        files[str(f.relative_to(out_dir))] = {"sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                                              "bytes": f.stat().st_size}
    manifest = {"kind": "tuneprep.studio.export", "tuneprep_version": __version__,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(), "database": redacted(db_url),
                **summary, "files": files,
                "final_label_rule": "adjudicated, else Dawid-Skene over human labels "
                                    "(majority when fewer than two annotators share an item), else input label"}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
