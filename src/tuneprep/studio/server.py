"""Starting the studio: the checks that come before any socket is opened, and the app factory
that each uvicorn worker process calls."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tuneprep.studio.db import StudioError, create_schema, make_engine
from tuneprep.studio.security import is_loopback, load_secret, secret_path

# the serve settings handed to worker processes (uvicorn starts them by import string)
SERVE_ENV = "TUNEPREP_STUDIO_SERVE"


def check_bind(host: str, allow_remote: bool) -> None:
    """Loopback unless the operator says otherwise, explicitly."""
    if not is_loopback(host) and not allow_remote:
        raise StudioError(f"--host {host}: not a loopback address; to accept connections from other machines "
                          "pass --allow-remote (and put the studio behind HTTPS, see docs/studio.md)")


def build_app(db_url: str, host: str = "127.0.0.1", allow_remote: bool = False,
              secret_file: str | Path | None = None, https: bool = False) -> Any:
    """The app for ``tuneprep studio serve``: refuses a non-loopback host without ``allow_remote``
    and a missing, short or loosely-permissioned secret. Cookies are ``Secure`` off loopback."""
    from tuneprep.studio.web import create_app

    check_bind(host, allow_remote)
    secret = load_secret(secret_path(db_url, secret_file))
    return create_app(db_url, secret, secure_cookies=https or not is_loopback(host))


def app_from_env() -> Any:
    """The factory each worker process calls (``uvicorn --factory``): the settings ``serve``
    put in the environment; every worker opens the same database and reads the same secret file."""
    raw = os.environ.get(SERVE_ENV)
    if not raw:
        raise StudioError(f"${SERVE_ENV} is not set: start workers with `tuneprep studio serve --workers N`")
    return build_app(**json.loads(raw))


def serve(db_url: str, host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False,
          secret_file: str | Path | None = None, https: bool = False, workers: int = 1) -> None:
    import uvicorn

    if workers < 1:
        raise StudioError(f"--workers {workers}: need at least 1")
    # proxy headers are trusted from loopback only (uvicorn's default forwarded_allow_ips)
    common = {"host": host, "port": port, "log_level": "info", "server_header": False}
    if workers == 1:
        uvicorn.run(build_app(db_url, host, allow_remote, secret_file, https), **common)
        return
    # Fail here, once, before any worker starts: bad host, bad secret. The schema is created
    # here too, so workers never race each other creating tables.
    check_bind(host, allow_remote)
    load_secret(secret_path(db_url, secret_file))
    engine = make_engine(db_url)
    create_schema(engine)
    engine.dispose()
    os.environ[SERVE_ENV] = json.dumps({"db_url": db_url, "host": host, "allow_remote": allow_remote,
                                        "secret_file": str(secret_file) if secret_file else None, "https": https})
    uvicorn.run("tuneprep.studio.server:app_from_env", factory=True, workers=workers, **common)
