"""Invite links, attacked: reused, expired, wrong and other people's tokens, and CSRF on the form."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select, update

from tests.conftest import run_cli
from tests.studio.kit import CSRF_RE, StudioClient, build_studio, rt_records
from tuneprep.studio.db import Invite, User, now
from tuneprep.studio.invites import create_invite

NEW = "correct horse battery staple"


@pytest.fixture(scope="module")
def studio(rt_path, tmp_path_factory):
    s = build_studio(f"sqlite:///{tmp_path_factory.mktemp('inv') / 'studio.db'}", tmp_path_factory.mktemp("x"),
                     rt_records(rt_path, 4), ["ann0", "ann1", "ann2", "ann3", "ann4"])
    yield s
    s.stop()


def _open(studio, token: str) -> tuple[StudioClient, str]:
    """Open an invite page like a browser; returns the client (with its pre-login cookie) and the form token."""
    c = StudioClient(studio.url)
    r = c.http.get(f"/invite/{token}")
    assert r.status_code == 200, r.text
    return c, CSRF_RE.search(r.text).group(1)


def _set(c: StudioClient, token: str, csrf: str, password: str = NEW, again: str | None = None, **extra):
    return c.http.post(f"/invite/{token}", data={"password": password, "password2": again or password,
                                                 "csrf": csrf, **extra})


def _login(studio, name: str, password: str) -> int:
    return StudioClient(studio.url).login(name, password).status_code


def test_cli_prints_a_one_time_link_and_stores_only_its_hash(tmp_path):
    db = tmp_path / "s.db"
    assert run_cli("studio", "init", "--db", str(db)).returncode == 0
    res = run_cli("studio", "user", "add", "bob", "--role", "reviewer", "--invite", "--db", str(db),
                  "--url", "https://studio.example.org/")
    assert res.returncode == 0, res.stderr
    assert "password" not in res.stdout
    token = re.search(r"https://studio\.example\.org/invite/([A-Za-z0-9_-]{40,})\s*$", res.stdout).group(1)
    raw = db.read_bytes()
    assert token.encode() not in raw and hashlib.sha256(token.encode()).hexdigest().encode() in raw
    bad = run_cli("studio", "user", "add", "carol", "--invite", "--invite-hours", "0", "--db", str(db))
    assert bad.returncode == 2 and "--invite-hours" in bad.stderr
    assert run_cli("studio", "user", "add", "carol", "--db", str(db)).returncode == 0  # was not half-created


def test_invite_sets_the_password_once_and_logs_out_old_sessions(studio):
    old = studio.client("ann0")
    assert old.http.get("/").status_code == 200
    token = create_invite(studio.sf, "ann0")
    c, csrf = _open(studio, token)
    assert "ann0" in c.http.get(f"/invite/{token}").text
    pre = c.http.cookies["studio_pre"]
    assert _set(c, token, csrf).status_code == 303
    assert _login(studio, "ann0", NEW) == 303
    assert _login(studio, "ann0", studio.passwords["ann0"]) == 401
    assert old.http.get("/").status_code == 303  # the session from before the reset is gone
    # reused: the page and the form both refuse (even with the old form token and its cookie
    # put back), and the password stays what it was set to
    assert c.http.get(f"/invite/{token}").status_code == 404
    c.http.cookies.set("studio_pre", pre)
    assert _set(c, token, csrf, "attacker-chosen-password").status_code == 404
    assert _login(studio, "ann0", NEW) == 303
    studio.app.state.limiter.reset("user:ann0", "ip:127.0.0.1")


def test_expired_and_wrong_tokens_are_refused(studio):
    token = create_invite(studio.sf, "ann1", hours=1)
    c, csrf = _open(studio, token)
    with studio.sf.begin() as s:
        s.execute(update(Invite).where(Invite.token_hash == hashlib.sha256(token.encode()).hexdigest())
                  .values(expires_at=now() - dt.timedelta(seconds=1)))
    assert c.http.get(f"/invite/{token}").status_code == 404
    assert _set(c, token, csrf).status_code == 404
    assert _login(studio, "ann1", studio.passwords["ann1"]) == 303  # unchanged
    live = create_invite(studio.sf, "ann1")
    flipped = live[:-1] + ("A" if live[-1] != "A" else "B")
    for wrong in (flipped, live[:-1], live + "x", "", "%2e%2e"):
        assert StudioClient(studio.url).http.get(f"/invite/{wrong}").status_code == 404
    c2, _ = _open(studio, live)
    assert _set(c2, flipped, CSRF_RE.search(c2.http.get(f"/invite/{live}").text).group(1)).status_code == 403
    assert _login(studio, "ann1", studio.passwords["ann1"]) == 303


def test_a_token_changes_only_its_own_user(studio):
    t2, t3 = create_invite(studio.sf, "ann2"), create_invite(studio.sf, "ann3")
    c2, csrf2 = _open(studio, t2)
    c3, csrf3 = _open(studio, t3)
    # the form token of ann2's invite does not work on ann3's invite (nor from another browser)
    assert _set(c3, t3, csrf2).status_code == 403
    assert _set(c2, t3, csrf2).status_code == 403
    # a user name slipped into the form is ignored: ann3's token sets ann3's password only
    assert _set(c3, t3, csrf3, username="ann2", user_id="1").status_code == 303
    assert _login(studio, "ann3", NEW) == 303
    assert _login(studio, "ann2", NEW) == 401
    assert _login(studio, "ann2", studio.passwords["ann2"]) == 303
    with studio.sf() as s:  # ann2's invite is still unspent
        assert s.scalar(select(Invite.used_at).where(Invite.token_hash == hashlib.sha256(t2.encode()).hexdigest())) is None
    studio.app.state.limiter.reset("user:ann2", "ip:127.0.0.1")


def test_set_password_form_needs_csrf_and_same_origin_and_a_real_password(studio):
    token = create_invite(studio.sf, "ann4")
    c, csrf = _open(studio, token)
    assert c.http.post(f"/invite/{token}", data={"password": NEW, "password2": NEW}).status_code == 403
    assert _set(c, token, "0" * 64).status_code == 403
    assert _set(StudioClient(studio.url), token, csrf).status_code == 403  # no pre-login cookie: not this browser
    assert c.http.post(f"/invite/{token}", data={"password": NEW, "password2": NEW, "csrf": csrf},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    r = _set(c, token, csrf, "short")
    assert r.status_code == 400 and "12" in r.text
    assert _set(c, token, csrf, NEW, NEW + "!").status_code == 400
    with studio.sf() as s:
        u = s.scalars(select(User).where(User.name == "ann4")).one()
        assert s.scalar(select(Invite.used_at).where(Invite.user_id == u.id)) is None  # nothing spent yet
    assert _login(studio, "ann4", studio.passwords["ann4"]) == 303
    assert _set(c, token, csrf).status_code == 303
    assert _login(studio, "ann4", NEW) == 303
