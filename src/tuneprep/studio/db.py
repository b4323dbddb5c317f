"""The studio's data model (SQLAlchemy 2) and engine setup for SQLite and PostgreSQL.

Every query goes through SQLAlchemy expressions, so values are always bound parameters.
Concurrency: counters on ``Item`` are only changed with conditional ``UPDATE ... WHERE``
statements (see ``assign``) and ``Assignment`` is unique per (item, user), so the database,
not Python, enforces "no item beyond its overlap" and "one annotation per person per item".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

ROLES = ("annotator", "reviewer", "admin")
ENV_DB = "TUNEPREP_STUDIO_DB"
DEFAULT_DB = "sqlite:///studio.db"


class StudioError(ValueError):
    """A user-facing error of the studio (bad URL, unknown project, weak secret...)."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    labels: Mapped[list[str]] = mapped_column(JSON)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("project_id", "ext_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ext_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    suggestion: Mapped[str | None] = mapped_column(String(255), nullable=True)
    suggestion_score: Mapped[float | None] = mapped_column(nullable=True)
    suggestion_method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the input record, written back on export
    n_assigned: Mapped[int] = mapped_column(Integer, default=0)  # live slots (assigned + done)
    n_done: Mapped[int] = mapped_column(Integer, default=0)


class Assignment(Base):
    """One person's slot on one item: ``assigned`` → ``done`` (label) or ``skipped``."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Adjudication(Base):
    __tablename__ = "adjudications"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class ReviewFlag(Base):
    """An item sent to review by a check other than disagreement (cleanlab on the current labels)."""

    __tablename__ = "review_flags"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    given: Mapped[str] = mapped_column(String(255))
    suggested: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class WebSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A token for scripts: one user, one project; only its SHA-256 is stored; revocable."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class LoginFailure(Base):
    """One failed login, kept for the rate limit's window. In the database (not in a process) so
    the limit holds across server workers and restarts. ``key``: ``ip:ADDRESS`` or ``user:NAME``."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, index=True)


class Invite(Base):
    """A one-time link where a person sets their own password: only the SHA-256 of the random
    token is stored; it expires, and is spent by a conditional UPDATE (so it works once)."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


def resolve_url(db: str | None) -> str:
    """``--db`` wins, then ``TUNEPREP_STUDIO_DB``, then ``sqlite:///studio.db``. A bare path means SQLite."""
    url = db or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy.exc.ArgumentError
        raise StudioError(f"--db: not a database URL: {e}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StudioError(f"--db: backend {parsed.get_backend_name()!r} is not supported (sqlite, postgresql)")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine with the settings the studio's concurrency relies on.

    SQLite: WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for every write
    transaction (``Sessions.begin()``), so two writers never both read a counter and then fail to
    upgrade their lock; read-only sessions use a plain ``BEGIN`` and never wait.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=32, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # readers use a plain BEGIN: in WAL mode they never wait for a writer
            write = conn.get_execution_options().get("studio_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_size=32, max_overflow=8, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)


class Sessions(sessionmaker):
    """``sf()`` is a read session; ``sf.begin()`` a write transaction (BEGIN IMMEDIATE on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self.engine = engine
        self._write_bind = engine.execution_options(studio_write=True)
        # SQLite has one writer at a time anyway; queueing writers of this process on a lock wakes
        # the next one at once, instead of SQLite's busy handler sleeping in 1–100 ms steps.
        # (Other processes are still excluded by BEGIN IMMEDIATE.)
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:
        with self._write_lock, self(bind=self._write_bind) as session, session.begin():
            yield session

    def read(self) -> Any:
        """A plain Core connection for prebuilt read statements (cheaper than an ORM session)."""
        return self.engine.connect()

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """A Core connection in a write transaction (BEGIN IMMEDIATE on SQLite), committed on exit."""
        with self._write_lock, self._write_bind.begin() as conn:
            yield conn


def session_factory(engine: Engine) -> Sessions:
    return Sessions(engine)
