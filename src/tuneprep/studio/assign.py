"""Who labels what next — concurrency-safe on SQLite and PostgreSQL.

Invariants (held by the database, not by Python locks, so they hold across server processes):
* an item never has more live slots (``assigned`` + ``done``) than the project's overlap: a slot
  is taken only by ``UPDATE items SET n_assigned = n_assigned + 1 WHERE id = ? AND n_assigned < overlap``
  and counts as taken only if that statement changed one row;
* a person has at most one assignment per item (unique constraint on (item, user));
* an annotation is counted once: ``assigned → done`` is a conditional update on the status.
A person sees only their own assignment; others' labels are never part of an annotator's view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tuneprep.studio.db import Assignment, Item, Project, Sessions, StudioError, now

RETRIES = 8


class NotAssigned(StudioError):
    """The item is not (or no longer) assigned to this person: the caller answers 404."""


@dataclass
class Progress:
    done: int
    skipped: int
    open_items: int  # items this person could still be given


def _take_slot(s: Session, item_id: int, overlap: int) -> bool:
    res = s.execute(
        update(Item)
        .where(Item.id == item_id, Item.n_assigned < overlap)
        .values(n_assigned=Item.n_assigned + 1)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def _retrying(fn):
    """Run ``fn`` again when a concurrent transaction won a unique-constraint race or a lock
    (the loser rolls back everything, so a retry starts from a clean state)."""

    def wrapper(*args, **kwargs):
        for attempt in range(RETRIES):
            try:
                return fn(*args, **kwargs)
            except (IntegrityError, OperationalError):
                if attempt == RETRIES - 1:
                    raise
        return None

    return wrapper


# The hot statements, built once (see hot.py for why); values are bound parameters.
_A, _I, _P = Assignment.__table__, Item.__table__, Project.__table__
_CURRENT = (select(_A.c.item_id)
            .where(_A.c.project_id == bindparam("pid"), _A.c.user_id == bindparam("uid"), _A.c.status == "assigned")
            .order_by(_A.c.assigned_at.desc(), _A.c.id.desc()).limit(1))
_OVERLAP = select(_P.c.overlap).where(_P.c.id == bindparam("pid"))
_LABELS = select(_P.c.labels).where(_P.c.id == bindparam("pid"))
_CANDIDATES = (select(_I.c.id)
               .where(_I.c.project_id == bindparam("pid"), _I.c.n_assigned < bindparam("overlap"),
                      ~exists().where(_A.c.item_id == _I.c.id, _A.c.user_id == bindparam("uid")))
               .order_by(_I.c.position).limit(8))
_TAKE = (update(_I).where(_I.c.id == bindparam("b_iid"), _I.c.n_assigned < bindparam("b_overlap"))
         .values(n_assigned=_I.c.n_assigned + 1))
_NEW = insert(_A)
_OPEN = select(_A.c.id, _A.c.status, _A.c.assigned_at).where(
    _A.c.project_id == bindparam("pid"), _A.c.item_id == bindparam("iid"), _A.c.user_id == bindparam("uid"))
_DONE = (update(_A).where(_A.c.id == bindparam("b_aid"), _A.c.status == "assigned")
         .values(status="done", label=bindparam("b_label"), comment=bindparam("b_comment"),
                 submitted_at=bindparam("b_at"), duration_ms=bindparam("b_ms")))
_COUNT_DONE = update(_I).where(_I.c.id == bindparam("b_iid")).values(n_done=_I.c.n_done + 1)


@_retrying
def next_item(sf: Sessions, project_id: int, user_id: int, overlap: int | None = None) -> int | None:
    """The id of the item this person should label now (assigning a new one if needed), or None.
    ``overlap``: the project's, when the caller has already read it (saves a query)."""
    ids = {"pid": project_id, "uid": user_id}
    with sf.read() as conn:  # the common case "I have an open item" needs no write lock
        mine = conn.execute(_CURRENT, ids).scalar()
    if mine is not None:
        return mine
    with sf.write() as conn:
        mine = conn.execute(_CURRENT, ids).scalar()  # again, under the lock: a double click
        if mine is not None:
            return mine
        if overlap is None:
            overlap = conn.execute(_OVERLAP, ids).scalar()
            if overlap is None:
                raise StudioError(f"no project with id {project_id}")
        # A few candidates in order: if a concurrent annotator fills the first, try the next.
        while True:
            candidates = conn.execute(_CANDIDATES, {**ids, "overlap": overlap}).scalars().all()
            if not candidates:
                return None
            for item_id in candidates:
                if conn.execute(_TAKE, {"b_iid": item_id, "b_overlap": overlap}).rowcount == 1:
                    # a unique-constraint race raises here and the whole transaction retries
                    conn.execute(_NEW, {"project_id": project_id, "item_id": item_id, "user_id": user_id})
                    return item_id


def _open_assignment(s: Session, project_id: int, user_id: int, item_id: int) -> Assignment:
    a = s.scalars(select(Assignment).where(Assignment.project_id == project_id, Assignment.item_id == item_id,
                                           Assignment.user_id == user_id)).first()
    if a is None or a.status != "assigned":
        raise NotAssigned("this item is not assigned to you")
    return a


def _duration_ms(a: Any, t: dt.datetime) -> int:
    # measured by the server from the moment the item was handed out (or reopened)
    return max(0, int((t - a.assigned_at).total_seconds() * 1000))


@_retrying
def submit(sf: Sessions, project_id: int, user_id: int, item_id: int, label: str, comment: str = "",
           labels: list[str] | None = None) -> None:
    """Record a label. Refuses labels outside the project's set and items not open for this person.
    ``labels``: the project's label set, when the caller has already read it (saves a query)."""
    ids = {"pid": project_id, "uid": user_id, "iid": item_id}
    with sf.write() as conn:
        if labels is None:
            labels = conn.execute(_LABELS, ids).scalar() or []
        if label not in labels:
            raise StudioError(f"label {label!r} is not one of this project's labels")
        a = conn.execute(_OPEN, ids).first()
        if a is None or a.status != "assigned":
            raise NotAssigned("this item is not assigned to you")
        t = now()
        res = conn.execute(_DONE, {"b_aid": a.id, "b_label": label, "b_comment": comment[:5000], "b_at": t,
                                   "b_ms": _duration_ms(a, t)})
        if res.rowcount != 1:  # a double submit that lost the race: already counted once
            raise NotAssigned("this item was already submitted")
        conn.execute(_COUNT_DONE, {"b_iid": item_id})


@_retrying
def skip(sf: sessionmaker, project_id: int, user_id: int, item_id: int) -> None:
    """Give the item back: its slot is freed for someone else and this person won't get it again."""
    with sf.begin() as s:
        a = _open_assignment(s, project_id, user_id, item_id)
        t = now()
        res = s.execute(update(Assignment).where(Assignment.id == a.id, Assignment.status == "assigned")
                        .values(status="skipped", submitted_at=t, duration_ms=_duration_ms(a, t))
                        .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise NotAssigned("this item was already submitted")
        s.execute(update(Item).where(Item.id == item_id).values(n_assigned=Item.n_assigned - 1)
                  .execution_options(synchronize_session=False))


@_retrying
def undo(sf: sessionmaker, project_id: int, user_id: int) -> int | None:
    """Reopen this person's last submitted or skipped item; returns its id (None: nothing to undo)."""
    with sf.begin() as s:
        last = s.scalars(
            select(Assignment)
            .where(Assignment.project_id == project_id, Assignment.user_id == user_id,
                   Assignment.status.in_(("done", "skipped")))
            .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
            .limit(1)
        ).first()
        if last is None:
            return None
        if last.status == "skipped":
            overlap = s.scalar(select(Project.overlap).where(Project.id == project_id))
            if not _take_slot(s, last.item_id, overlap or 0):
                raise StudioError("cannot undo the skip: the item has meanwhile gone to other annotators")
        else:
            s.execute(update(Item).where(Item.id == last.item_id).values(n_done=Item.n_done - 1)
                      .execution_options(synchronize_session=False))
        res = s.execute(
            update(Assignment)
            .where(and_(Assignment.id == last.id, Assignment.status == last.status))
            .values(status="assigned", label=None, submitted_at=None, duration_ms=None, assigned_at=now())
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise StudioError("undo raced with another request; try again")
        return last.item_id


def progress(s: Session, project_id: int, user_id: int, with_open: bool = True) -> Progress:
    from sqlalchemy import func

    rows = dict(s.execute(
        select(Assignment.status, func.count())
        .where(Assignment.project_id == project_id, Assignment.user_id == user_id)
        .group_by(Assignment.status)
    ).all())
    if not with_open:  # the open count scans the project's items: only the overview pages show it
        return Progress(done=int(rows.get("done", 0)), skipped=int(rows.get("skipped", 0)), open_items=-1)
    overlap = s.scalar(select(Project.overlap).where(Project.id == project_id)) or 0
    already = exists().where(Assignment.item_id == Item.id, Assignment.user_id == user_id)
    open_items = s.scalar(select(func.count()).select_from(Item).where(
        Item.project_id == project_id, Item.n_assigned < overlap, ~already)) or 0
    return Progress(done=int(rows.get("done", 0)), skipped=int(rows.get("skipped", 0)), open_items=int(open_items))
