"""Studio fixtures: a throwaway PostgreSQL server (session-wide) and database URLs per backend."""

from __future__ import annotations

import itertools

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (Debian's package) in a temp dir; skips with the reason if it cannot start."""
    from tuneprep.studio.pgtemp import PgUnavailable, TempPostgres

    try:
        pg = TempPostgres().start()
    except PgUnavailable as e:
        print(f"\nPostgreSQL unavailable: {e}")
        pytest.skip(f"PostgreSQL unavailable: {e}")
    yield pg
    pg.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    """A fresh, empty database on each backend (one per test module and backend)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('studio-db') / 'studio.db'}"
    pg = request.getfixturevalue("postgres")
    return pg.create_database(f"studio_{next(_counter)}")
