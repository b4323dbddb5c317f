"""What the studio web app's route groups share: the app's sessions, secret and page renderer
(``Site``, built by ``web.create_app``), the HTTP error its handler turns into a page or JSON,
the pre-login cookie and the Origin check. A route group is a module with
``register_routes(app, site)`` (``invites.py``), called by ``web.create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuneprep.studio.db import Sessions

if TYPE_CHECKING:  # fastapi is imported where the app is built (web.py), not by the CLI's imports
    from fastapi import Request
    from fastapi.responses import HTMLResponse

PRE_COOKIE = "studio_pre"  # binds a form's CSRF token before anyone is logged in (login, invites)


class HTTPError(Exception):
    """An error page (or JSON under ``/api/``) with this status; raised by routes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from the studio's own pages (its Origin header)."""
    origin = request.headers.get("origin")
    if origin is None:  # same-origin form posts from older browsers; SameSite=Strict still holds
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@dataclass(frozen=True)
class Site:
    """One app's shared state, handed to each route group."""

    sf: Sessions
    secret: bytes  # signs the CSRF tokens
    secure_cookies: bool
    page: Callable[..., HTMLResponse]  # page(request, template, code=200, **context)
