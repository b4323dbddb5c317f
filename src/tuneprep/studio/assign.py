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

from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tuneprep.studio.db import Assignment, Item, Project, StudioError, now

RETRIES = 8


class NotAssigned(StudioError):
    """The item is not (or no longer) assigned to this person: the caller answers 404."""


@dataclass
class Progress:
    done: int
    skipped: int
    open_items: int  # items this person could still be given


def current(s: Session, project_id: int, user_id: int) -> Assignment | None:
    """The person's open assignment (the most recently opened one, so an undo comes back first)."""
    return s.scalars(
        select(Assignment)
        .where(Assignment.project_id == project_id, Assignment.user_id == user_id, Assignment.status == "assigned")
        .order_by(Assignment.assigned_at.desc(), Assignment.id.desc())
        .limit(1)
    ).first()


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


@_retrying
def next_item(sf: sessionmaker, project_id: int, user_id: int) -> int | None:
    """The id of the item this person should label now (assigning a new one if needed), or None."""
    with sf.begin() as s:
        mine = current(s, project_id, user_id)
        if mine is not None:
            return mine.item_id
        overlap = s.scalar(select(Project.overlap).where(Project.id == project_id))
        if overlap is None:
            raise StudioError(f"no project with id {project_id}")
        already = exists().where(Assignment.item_id == Item.id, Assignment.user_id == user_id)
        # A few candidates in order: if a concurrent annotator fills the first, try the next.
        while True:
            candidates = s.scalars(
                select(Item.id)
                .where(Item.project_id == project_id, Item.n_assigned < overlap, ~already)
                .order_by(Item.position)
                .limit(8)
            ).all()
            if not candidates:
                return None
            for item_id in candidates:
                if _take_slot(s, item_id, overlap):
                    s.add(Assignment(project_id=project_id, item_id=item_id, user_id=user_id))
                    s.flush()  # a unique-constraint race raises here and the whole transaction retries
                    return item_id


def _open_assignment(s: Session, project_id: int, user_id: int, item_id: int) -> Assignment:
    a = s.scalars(select(Assignment).where(Assignment.project_id == project_id, Assignment.item_id == item_id,
                                           Assignment.user_id == user_id)).first()
    if a is None or a.status != "assigned":
        raise NotAssigned("this item is not assigned to you")
    return a


def _duration_ms(a: Assignment, t: dt.datetime) -> int:
    # measured by the server from the moment the item was handed out (or reopened)
    return max(0, int((t - a.assigned_at).total_seconds() * 1000))


@_retrying
def submit(sf: sessionmaker, project_id: int, user_id: int, item_id: int, label: str, comment: str = "") -> None:
    """Record a label. Refuses labels outside the project's set and items not open for this person."""
    with sf.begin() as s:
        labels = s.scalar(select(Project.labels).where(Project.id == project_id)) or []
        if label not in labels:
            raise StudioError(f"label {label!r} is not one of this project's labels")
        a = _open_assignment(s, project_id, user_id, item_id)
        t = now()
        res = s.execute(
            update(Assignment)
            .where(Assignment.id == a.id, Assignment.status == "assigned")
            .values(status="done", label=label, comment=comment[:5000], submitted_at=t, duration_ms=_duration_ms(a, t))
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # a double submit that lost the race: already counted once
            raise NotAssigned("this item was already submitted")
        s.execute(update(Item).where(Item.id == item_id).values(n_done=Item.n_done + 1)
                  .execution_options(synchronize_session=False))


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
