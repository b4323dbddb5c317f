"""Invite links: a one-time, expiring link where a person sets their own password.

The token is 256 random bits, shown once (in the link) and stored only as its SHA-256. It is
spent by a conditional ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``, so it works
once even when two requests race, and setting the password logs out every existing session.
The pages (``GET/POST /invite/{token}``) are ``register_routes``.
"""

# No `from __future__ import annotations` here: FastAPI reads a route's parameter types from its
# annotations, and resolves string annotations in the module's globals, where fastapi is not
# (it is imported in register_routes, so that `tuneprep studio invite` does not load it).

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from tuneprep.studio.db import Invite, Sessions, StudioError, User, WebSession, now
from tuneprep.studio.security import csrf_ok, csrf_token, hash_password, new_token, token_hash
from tuneprep.studio.site import PRE_COOKIE, HTTPError, Site, same_origin

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_HOURS = 72.0
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU


class InviteInvalid(StudioError):
    """Unknown, used or expired — one answer for all three, so the page reveals nothing."""


def check_hours(hours: float) -> None:
    if not 0 < hours <= 24 * 30:
        raise StudioError(f"--invite-hours {hours:g}: use more than 0 and at most 720 (30 days)")


def create_invite(sf: Sessions, name: str, hours: float = DEFAULT_HOURS) -> str:
    """A new invite for user ``name``; returns the token (to put in the link, shown once)."""
    check_hours(hours)
    token = new_token()
    with sf.begin() as s:
        u = s.scalars(select(User).where(User.name == name)).first()
        if u is None:
            raise StudioError(f"no user {name!r}")
        s.add(Invite(token_hash=token_hash(token), user_id=u.id, expires_at=now() + dt.timedelta(hours=hours)))
    return token


def invite_user(sf: Sessions, token: str) -> str:
    """The name of the person a live invite is for; raises InviteInvalid otherwise."""
    with sf() as s:
        row = s.execute(select(User.name, User.active, Invite.used_at, Invite.expires_at)
                        .join(User, User.id == Invite.user_id).where(Invite.token_hash == token_hash(token))).first()
    if row is None or row.used_at is not None or row.expires_at <= now() or not row.active:
        raise InviteInvalid("this invite link is not valid (unknown, already used or expired)")
    return row.name


def check_new_password(password: str, again: str) -> None:
    if password != again:
        raise StudioError("the two passwords differ")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StudioError(f"use a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def redeem(sf: Sessions, token: str, password: str) -> str:
    """Spend the invite and set the password; returns the user name. Raises InviteInvalid."""
    new_hash = hash_password(password)  # slow on purpose: before the write transaction, not inside it
    h = token_hash(token)
    with sf.begin() as s:
        row = s.execute(select(Invite.id, Invite.user_id, User.name, User.active)
                        .join(User, User.id == Invite.user_id).where(Invite.token_hash == h)).first()
        t = now()
        spent = s.execute(update(Invite)
                          .where(Invite.token_hash == h, Invite.used_at.is_(None), Invite.expires_at > t)
                          .values(used_at=t).execution_options(synchronize_session=False)).rowcount
        if row is None or not row.active or spent != 1:
            raise InviteInvalid("this invite link is not valid (unknown, already used or expired)")
        s.execute(update(User).where(User.id == row.user_id).values(password_hash=new_hash)
                  .execution_options(synchronize_session=False))
        s.execute(delete(WebSession).where(WebSession.user_id == row.user_id))
    return row.name


def register_routes(app: "FastAPI", site: Site) -> None:
    """The invite pages on the studio's app: ``GET /invite/{token}`` shows the form,
    ``POST /invite/{token}`` sets the password (CSRF token bound to the pre-login cookie and to
    this invite) and spends the invite."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    def purpose(token: str) -> str:
        # the form's CSRF token is bound to the pre-login cookie and to this invite
        return "invite:" + token_hash(token)

    def invite_page(request: Request, token: str, name: str, pre: str, code: int = 200,
                    error: str | None = None) -> HTMLResponse:
        resp = site.page(request, "invite.html", code, name=name, token=token, error=error,
                         min_length=MIN_PASSWORD, invite_csrf=csrf_token(site.secret, pre, purpose(token)))
        resp.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=site.secure_cookies, path="/")
        return resp

    @app.get("/invite/{token}")
    def invite_form(request: Request, token: str) -> HTMLResponse:
        try:
            name = invite_user(site.sf, token)
        except InviteInvalid as e:
            raise HTTPError(404, str(e)) from None
        return invite_page(request, token, name, request.cookies.get(PRE_COOKIE) or new_token())

    @app.post("/invite/{token}")
    def invite_set(request: Request, token: str, password: str = Form(""), password2: str = Form(""),
                   csrf: str = Form("")) -> Response:
        pre = request.cookies.get(PRE_COOKIE)
        if not same_origin(request) or not csrf_ok(site.secret, pre, csrf, purpose(token)):
            raise HTTPError(403, "missing or invalid CSRF token (reload the invite page)")
        try:
            name = invite_user(site.sf, token)
            try:
                check_new_password(password, password2)
            except StudioError as e:
                return invite_page(request, token, name, pre, 400, str(e))
            redeem(site.sf, token, password)
        except InviteInvalid as e:
            raise HTTPError(404, str(e)) from None
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(PRE_COOKIE, path="/")
        return resp
