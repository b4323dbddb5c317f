"""Starting the studio: the checks that come before any socket is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneprep.studio.db import StudioError
from tuneprep.studio.security import is_loopback, load_secret, secret_path


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


def serve(db_url: str, host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False,
          secret_file: str | Path | None = None, https: bool = False) -> None:
    import uvicorn

    app = build_app(db_url, host, allow_remote, secret_file, https)
    # proxy headers are trusted from loopback only (uvicorn's default forwarded_allow_ips)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
