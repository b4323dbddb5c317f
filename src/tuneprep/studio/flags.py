"""Cleanlab flags for the review queue: ``tuneprep annotate issues`` over a project's final labels.

Separate from projects.py because it reads the export (export.py imports projects.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from tuneprep.studio.db import Item
from tuneprep.studio.projects import project_by_name


def flag_label_issues(sf: sessionmaker, project: str, folds: int = 3, model: str | None = None,
                      embeddings: Any = None) -> dict[str, Any]:
    """Run ``tuneprep annotate issues`` (cross-validated classifier on sentence embeddings + cleanlab)
    over the current final labels of the labelled items; flagged items join the review queue."""
    from tuneprep.annotate.issues import find_issues
    from tuneprep.studio.db import ReviewFlag
    from tuneprep.studio.export import export_records

    records, _ = export_records(sf, project)
    labelled = [r for r in records if r["meta"]["studio"]["final_source"] in ("dawid-skene", "majority",
                                                                              "adjudicated")]
    kw = {"model": model} if model else {}
    queue, summary = find_issues(labelled, folds=folds, embeddings=embeddings, **kw)
    with sf.begin() as s:
        p = project_by_name(s, project)
        ids = dict(s.execute(select(Item.ext_id, Item.id).where(Item.project_id == p.id)).all())
        s.execute(delete(ReviewFlag).where(ReviewFlag.project_id == p.id))
        for rec in queue:
            rv = rec["meta"]["review"]
            s.add(ReviewFlag(item_id=ids[str(rec["id"])], project_id=p.id, reason="cleanlab", given=rv["given"],
                             suggested=rv["suggested"], score=rv["score"]))
    return summary
