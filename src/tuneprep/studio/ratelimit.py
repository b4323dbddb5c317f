"""Login rate limit kept in the database, so it holds across server workers and restarts.

Keys are ``ip:ADDRESS`` and ``user:NAME``: neither one address nor one account can be hammered.
An address may hold many people (an office behind one NAT), so it gets a larger budget.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, delete, func, insert, select

from tuneprep.studio.db import LoginFailure, Sessions, now

KEY_MAX = 200  # the column's width; a longer user name is cut, never an error
_F = LoginFailure.__table__
_COUNTS = (select(_F.c.key, func.count()).where(_F.c.key.in_(bindparam("keys", expanding=True)),
                                               _F.c.at > bindparam("since"))
           .group_by(_F.c.key))


class LoginLimits(BaseModel):
    """At most ``per_user`` failed logins per user name and ``per_address`` per client address
    within ``window_s`` seconds; then even the right password is refused until the window passes."""

    per_user: int = Field(5, ge=1)
    per_address: int = Field(30, ge=1)
    window_s: float = Field(300.0, gt=0)


class LoginLimiter:
    """``blocked`` / ``fail`` / ``reset`` over the ``login_failures`` table."""

    def __init__(self, sf: Sessions, limits: LoginLimits | None = None) -> None:
        self.sf, self.limits = sf, limits or LoginLimits()

    def _since(self) -> dt.datetime:
        return now() - dt.timedelta(seconds=self.limits.window_s)

    def _limit(self, key: str) -> int:
        return self.limits.per_address if key.startswith("ip:") else self.limits.per_user

    @staticmethod
    def keys(address: str, username: str) -> tuple[str, str]:
        return (f"ip:{address}"[:KEY_MAX], f"user:{username.lower()}"[:KEY_MAX])

    def blocked(self, *keys: str) -> bool:
        with self.sf.read() as conn:
            counts = dict(conn.execute(_COUNTS, {"keys": list(keys), "since": self._since()}).all())
        return any(counts.get(k, 0) >= self._limit(k) for k in keys)

    def fail(self, *keys: str) -> None:
        with self.sf.write() as conn:
            # old rows are pruned here, so the table stays the size of one window
            conn.execute(delete(_F).where(_F.c.at <= self._since()))
            conn.execute(insert(_F), [{"key": k, "at": now()} for k in keys])

    def reset(self, *keys: str) -> None:
        with self.sf.write() as conn:
            conn.execute(delete(_F).where(_F.c.key.in_(list(keys))))
