"""The annotator loop's per-request reads as prebuilt SQLAlchemy Core statements.

Why: every page of the loop (next → item → label) needs "who is this session", "may they see
this project" and the item; built per request as ORM queries, each cost several times more
CPU than the SQL itself (statement construction, cache-key generation, ORM loading).
These statements are built once at import with ``bindparam`` placeholders and run on a plain
connection, returning light rows — values are still bound parameters, never formatted in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.engine import Connection

from tuneprep.studio.db import Assignment, Item, Member, Project, User, WebSession, now

U, W, P, M, A, IT = (t.__table__ for t in (User, WebSession, Project, Member, Assignment, Item))


@dataclass(frozen=True)
class Viewer:
    """The logged-in person as the pages need them (not an ORM object: nothing to lazy-load)."""

    id: int
    name: str
    role: str


_VIEWER = (select(U.c.id, U.c.name, U.c.role, U.c.active, W.c.expires_at)
           .join(W, W.c.user_id == U.c.id).where(W.c.token_hash == bindparam("h")))
_PROJECT_ADMIN = select(*P.c).where(P.c.id == bindparam("pid"))
_PROJECT_MEMBER = _PROJECT_ADMIN.where(
    exists().where(M.c.project_id == P.c.id, M.c.user_id == bindparam("uid")))
_MY_ITEM = (select(A.c.id.label("assignment_id"), A.c.status, A.c.label, *IT.c)
            .join(IT, IT.c.id == A.c.item_id)
            .where(A.c.project_id == bindparam("pid"), A.c.item_id == bindparam("iid"), A.c.user_id == bindparam("uid")))
_MY_COUNTS = (select(A.c.status, func.count()).where(A.c.project_id == bindparam("pid"), A.c.user_id == bindparam("uid"))
              .group_by(A.c.status))


def viewer(conn: Connection, token_hash: str) -> Viewer | None:
    """The active user of an unexpired session (by the stored hash of its cookie), else None."""
    row = conn.execute(_VIEWER, {"h": token_hash}).first()
    if row is None or row.expires_at < now() or not row.active:
        return None
    return Viewer(row.id, row.name, row.role)


def project_for(conn: Connection, project_id: int, user: Any) -> Any:
    """The project row if ``user`` may see it (admins: any; others: members only), else None."""
    if user.role == "admin":
        return conn.execute(_PROJECT_ADMIN, {"pid": project_id}).first()
    return conn.execute(_PROJECT_MEMBER, {"pid": project_id, "uid": user.id}).first()


def my_item(conn: Connection, project_id: int, item_id: int, user_id: int) -> Any:
    """The item with this person's assignment on it (``assignment_id``, ``status``, ``label`` and
    the item's columns), or None when it is not theirs — callers answer that with a 404."""
    return conn.execute(_MY_ITEM, {"pid": project_id, "iid": item_id, "uid": user_id}).first()


def my_counts(conn: Connection, project_id: int, user_id: int) -> dict[str, int]:
    return {status: int(n) for status, n in conn.execute(_MY_COUNTS, {"pid": project_id, "uid": user_id})}
