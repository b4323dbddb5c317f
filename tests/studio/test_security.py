"""Each 'safe by default' promise of the studio, attacked (HTTP level, SQLite, one live server)."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import run_cli
from tests.studio.kit import StudioClient, build_studio, rt_records
from tuneprep.studio.db import Adjudication, Assignment, Invite, Item, StudioError, User
from tuneprep.studio.invites import create_invite
from tuneprep.studio.ratelimit import LoginLimits

XSS_IMG = '<img src=x onerror="document.title=\'pwned\'">'
XSS_SCRIPT = "<script>document.title='pwned'</script>"
SQLI = "'; DROP TABLE items; -- \" OR 1=1 /*"
GUIDELINES = ("# Guidelines\n\nLabel the **tone**.\n\n<script>document.title='pwned'</script>\n\n"
              "[click](javascript:alert(1)) <img src=x onerror=alert(1)>\n")


@pytest.fixture(scope="module")
def studio(rt_path, tmp_path_factory):
    recs = rt_records(rt_path, 8)
    recs[0] = {**recs[0], "text": XSS_IMG}
    recs[1] = {**recs[1], "text": XSS_SCRIPT}
    recs[2] = {**recs[2], "text": SQLI}
    recs[3] = {**recs[3], "text": "see http://169.254.169.254/latest/meta-data/ " + recs[3]["text"]}
    other = rt_records(rt_path, 12)[8:]
    s = build_studio(f"sqlite:///{tmp_path_factory.mktemp('sec') / 'studio.db'}", tmp_path_factory.mktemp("x"),
                     recs, ["ann0", "ann1", "outsider"], overlap=2, guidelines=GUIDELINES,
                     main_members=["ann0", "ann1"], extra_projects={"other": other},
                     limits=LoginLimits(per_user=5, window_s=300))
    yield s
    s.stop()


def _labels_everything(s, name: str, comment: str = "") -> list[int]:
    c = s.client(name)
    pid = s.projects["main"]
    done = []
    while (item := c.next_item(pid)) is not None:
        assert c.label(pid, item, "positive" if name == "ann0" else "negative", comment).status_code == 303
        done.append(item)
    return done


# ---- init: no default credentials, generated secret ----------------------------------------

def test_init_generates_the_only_credentials_and_a_private_secret(tmp_path):
    db = tmp_path / "s.db"
    res = run_cli("studio", "init", "--db", str(db))
    assert res.returncode == 0, res.stderr
    password = re.search(r"password:\s+(\S+)", res.stdout).group(1)
    assert len(password) >= 20
    secret = Path(f"{db}.secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and stat.S_IMODE(db.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) == 64
    # a second init neither changes the password nor prints one
    again = run_cli("studio", "init", "--db", str(db))
    assert again.returncode == 0 and "password:" not in again.stdout

    from starlette.testclient import TestClient

    from tuneprep.studio.db import make_engine, session_factory
    from tuneprep.studio.server import build_app

    app = build_app(f"sqlite:///{db}")
    with session_factory(make_engine(f"sqlite:///{db}"))() as s:
        users = s.execute(select(User.name, User.role, User.password_hash)).all()
    assert [(u, r) for u, r, _ in users] == [("admin", "admin")]  # one account, the one we were shown
    assert users[0][2].startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's defaults, never plain
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as tc:
        c = StudioClient.__new__(StudioClient)
        c.http, c.token = tc, ""
        for guess in ("admin", "password"):
            assert c.login("admin", guess).status_code == 401
        assert c.login("root", "root").status_code == 401
        assert c.login("admin", password).status_code == 303


def test_server_refuses_missing_short_or_readable_secret_and_remote_host(tmp_path):
    from tuneprep.studio.server import build_app
    from tuneprep.studio.web import create_app

    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(StudioError, match="missing"):
        build_app(url)
    secret = tmp_path / "x.db.secret"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"tooshort\n")
    os.close(fd)
    with pytest.raises(StudioError, match="too short"):
        build_app(url)
    secret.write_text("a" * 64 + "\n")
    os.chmod(secret, 0o644)
    with pytest.raises(StudioError, match="0644"):
        build_app(url)
    os.chmod(secret, 0o600)
    with pytest.raises(StudioError, match="--allow-remote"):
        build_app(url, host="0.0.0.0")
    with pytest.raises(StudioError, match="secret"):
        create_app(url, b"")
    res = run_cli("studio", "serve", "--db", url, "--host", "0.0.0.0")
    assert res.returncode == 2 and "--allow-remote" in res.stderr


# ---- headers and cookies ----------------------------------------------------------------------

def test_every_response_carries_strict_headers(studio):
    c = studio.client("ann0")
    pid = studio.projects["main"]
    for path in ("/login", "/", f"/p/{pid}", "/static/studio.js", "/nope", f"/p/{pid}/review"):
        r = c.http.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "content-security-policy-report-only" not in r.headers
        assert r.headers["x-content-type-options"] == "nosniff"


def test_session_cookie_is_httponly_strict_and_secure_off_loopback(studio, tmp_path):
    r = StudioClient(studio.url).login("ann0", studio.passwords["ann0"])
    cookie = r.headers["set-cookie"]
    assert "studio_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP on loopback would otherwise lose the cookie

    from starlette.testclient import TestClient

    from tuneprep.studio.web import create_app

    app = create_app(studio.db_url, b"s" * 64, secure_cookies=True)
    with TestClient(app, base_url="https://studio.example") as tc:
        r = tc.get("/login")
        assert "Secure" in r.headers["set-cookie"]
        token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
        r = tc.post("/login", data={"username": "ann0", "password": studio.passwords["ann0"], "csrf": token},
                    follow_redirects=False)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    app.state.engine.dispose()


# ---- CSRF -------------------------------------------------------------------------------------

def test_every_post_route_refuses_a_missing_or_forged_csrf_token(studio):
    pid = studio.projects["main"]
    c = studio.client("ann1")
    item = c.next_item(pid)
    c.page(f"/p/{pid}/items/{item}")
    posts = sorted({r.path for r in studio.app.routes if "POST" in getattr(r, "methods", set())})
    assert len(posts) >= 6  # login, logout, label, skip, undo, review
    # no other state-changing verb exists: POST is the only one, and every POST is checked below
    assert all(set(getattr(r, "methods", None) or {"GET"}) <= {"GET", "HEAD", "POST"} for r in studio.app.routes)
    # a live invite, so its set-password form is attacked with a real token
    fill = {"project_id": str(pid), "item_id": str(item), "token": create_invite(studio.sf, "outsider")}
    with studio.sf() as s:
        before = s.execute(select(func.count()).select_from(Assignment).where(Assignment.status == "done")).scalar()
    for path in posts:
        url = re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)
        data = {"label": "positive", "username": "ann1", "password": studio.passwords["ann1"],
                "password2": studio.passwords["ann1"]}
        assert c.post(url, data, csrf=False).status_code == 403, url
        assert c.http.post(url, data={**data, "csrf": "0" * 64}).status_code == 403, url
    # a valid token from a foreign origin is refused too
    r = c.post(f"/p/{pid}/items/{item}/label", {"label": "positive"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    with studio.sf() as s:
        after = s.execute(select(func.count()).select_from(Assignment).where(Assignment.status == "done")).scalar()
    assert after == before
    with studio.sf() as s:
        assert s.scalar(select(func.count()).select_from(Invite).where(Invite.used_at.is_not(None))) == 0
    assert c.label(pid, item, "positive").status_code == 303  # and the real form still works


# ---- roles and object-level checks ---------------------------------------------------------

def test_idor_and_roles(studio):
    pid, other = studio.projects["main"], studio.projects["other"]
    a0, a1, outsider = studio.client("ann0"), studio.client("ann1"), studio.client("outsider")
    mine = a1.next_item(pid)
    # another annotator's item: reading and writing answer 404, and nothing is written
    assert a0.page(f"/p/{pid}/items/{mine}").status_code == 404
    a0.page("/")
    assert a0.label(pid, mine, "neutral").status_code == 404
    assert a0.post(f"/p/{pid}/items/{mine}/skip").status_code == 404
    # a project one does not belong to does not exist for them
    for path in (f"/p/{other}", f"/p/{other}/next", f"/p/{pid}"):
        who = outsider if path.endswith(f"/p/{pid}") else a0
        assert who.page(path).status_code == 404, path
    with studio.sf() as s:
        other_item = s.scalars(select(Item.id).where(Item.project_id == other)).first()
    assert a0.label(other, other_item, "neutral").status_code == 404
    # reviewer-only pages
    for path in (f"/p/{pid}/review", f"/p/{pid}/review/{mine}", f"/p/{pid}/export.jsonl"):
        assert a0.page(path).status_code == 403, path
    a0.page("/")
    assert a0.post(f"/p/{pid}/review/{mine}", {"label": "neutral"}).status_code == 403
    # no session: pages redirect to the login, writes are refused
    anon = StudioClient(studio.url)
    assert anon.http.get("/").headers["location"] == "/login"
    assert anon.http.get(f"/p/{pid}/items/{mine}").status_code == 303
    assert anon.http.post(f"/p/{pid}/items/{mine}/label", data={"label": "x", "csrf": ""}).status_code == 403
    with studio.sf() as s:
        row = s.scalars(select(Assignment).where(Assignment.item_id == mine)).one()
        assert row.status == "assigned" and row.label is None
        assert s.scalar(select(func.count()).select_from(Adjudication)) == 0


def test_no_self_signup_and_no_file_paths_from_requests(studio):
    paths = {getattr(r, "path", "") for r in studio.app.routes}
    # the only account page is the invite link's, and it needs a token an admin created
    assert not any(re.search(r"sign|regist|user", p) for p in paths)
    assert [p for p in paths if "invite" in p] == ["/invite/{token}"]
    assert StudioClient(studio.url).http.get("/invite/x").status_code == 404
    c = StudioClient(studio.url)
    for path in ("/signup", "/register", "/users", "/docs", "/openapi.json"):
        assert c.http.get(path).status_code == 404
    for name in ("..%2Fweb.py", "web.py", "..%2F..%2F..%2Fetc%2Fpasswd", "studio.js%00"):
        assert c.http.get(f"/static/{name}").status_code == 404
    assert c.http.get("/static/studio.js").status_code == 200


def test_login_is_rate_limited(studio):
    c = StudioClient(studio.url)
    for _ in range(5):
        assert c.login("ann1", "wrong-password").status_code == 401
    assert c.login("ann1", studio.passwords["ann1"]).status_code == 429  # even the right password, for now
    assert StudioClient(studio.url).login("ann0", studio.passwords["ann0"]).status_code == 303  # others unaffected
    studio.app.state.limiter.reset("user:ann1", "ip:127.0.0.1")


def test_logout_kills_the_session_server_side(studio):
    c = studio.client("ann0")
    cookie = c.http.cookies["studio_session"]
    assert c.post("/logout").status_code == 303
    stale = StudioClient(studio.url)
    stale.http.cookies.set("studio_session", cookie)
    assert stale.http.get("/").status_code == 303


# ---- untrusted data ---------------------------------------------------------------------------

def test_payloads_render_as_text_and_sql_strings_are_stored_verbatim(studio):
    pid = studio.projects["main"]
    a0 = _labels_everything(studio, "ann0", comment=SQLI)
    _labels_everything(studio, "ann1", comment=XSS_SCRIPT)
    c = studio.client("ann0")
    pages = [c.page(f"/p/{pid}/items/{i}").text for i in a0]
    html = "\n".join(pages)
    assert "&lt;img src=x onerror=" in html and "&lt;script&gt;document.title" in html
    assert "<img src=x" not in html and "<script>document" not in html
    assert "&#39;; DROP TABLE items; --" in html
    assert "http://169.254.169.254" in html and 'href="http://169' not in html  # shown, never fetched or linked
    # guidelines: Markdown kept, raw HTML escaped, javascript: link dropped
    proj = c.page(f"/p/{pid}").text
    assert "<strong>tone</strong>" in proj and "&lt;script&gt;" in proj and "<script>document" not in proj
    assert "javascript:" not in proj.replace("[click](javascript:alert(1))", "")
    # the reviewer sees annotators' comments as text
    r = studio.client("rev")
    queue = r.page(f"/p/{pid}/review").text
    first = int(re.search(rf"/p/{pid}/review/(\d+)", queue).group(1))
    page = r.page(f"/p/{pid}/review/{first}").text
    assert "&lt;script&gt;document.title" in page and "<script>document" not in page
    assert r.post(f"/p/{pid}/review/{first}", {"label": "neutral", "comment": SQLI}).status_code == 303
    # a login name full of SQL is just a wrong name
    assert StudioClient(studio.url).login("admin' OR '1'='1", "x' OR '1'='1").status_code == 401
    studio.app.state.limiter.reset("ip:127.0.0.1")
    with studio.sf() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid)) == 8
        assert s.scalar(select(Item.text).where(Item.text == SQLI)) == SQLI
        comments = set(s.scalars(select(Assignment.comment).where(Assignment.status == "done",
                                                                  Assignment.project_id == pid)))
        assert {SQLI, XSS_SCRIPT} <= comments
        assert s.get(Adjudication, first).comment == SQLI


def test_the_studio_makes_no_outbound_requests():
    """No HTTP client, URL opener or socket in the server's code: data URLs can only be shown."""
    src = Path(sys.modules["tuneprep.studio.web"].__file__).parent
    for f in src.glob("*.py"):
        if f.name == "pgtemp.py":  # test/benchmark helper, never imported by the app
            continue
        code = f.read_text()
        assert not re.search(r"^\s*(import|from)\s+(httpx|requests|urllib|socket|aiohttp)\b", code, re.M), f.name


def test_api_tokens_are_hashed_scoped_and_revocable(studio):
    import httpx

    from tuneprep.studio.db import ApiToken
    from tuneprep.studio.projects import create_token, revoke_token

    pid, other = studio.projects["main"], studio.projects["other"]
    tid, token = create_token(studio.sf, "ann1", "main")
    _rid, rtoken = create_token(studio.sf, "rev", "main")
    with pytest.raises(StudioError, match="not a member"):
        create_token(studio.sf, "outsider", "main")
    with studio.sf() as s:
        stored = s.get(ApiToken, tid).token_hash
    assert token not in stored and len(stored) == 64  # only the SHA-256
    api = httpx.Client(base_url=studio.url, headers={"Authorization": f"Bearer {token}"})
    r = api.get(f"/api/p/{pid}/next")
    assert r.status_code == 200 and r.headers["content-security-policy"]
    body = r.json()
    assert body["labels"] == ["positive", "negative", "neutral"]
    if body["item"] is not None:  # ann1 may have finished the project in an earlier test
        assert api.post(f"/api/p/{pid}/items/{body['item']['id']}/label",
                        json={"label": "negative", "comment": "via API"}).json()["ok"] is True
    # scoped to one project, annotator rights only, nothing without a valid token
    assert api.get(f"/api/p/{other}/next").status_code == 404
    assert api.get(f"/api/p/{pid}/export.jsonl").status_code == 403
    assert httpx.get(f"{studio.url}/api/p/{pid}/next").status_code == 403
    assert httpx.get(f"{studio.url}/api/p/{pid}/next", headers={"Authorization": "Bearer tps_forged"}).status_code == 403
    # a browser session (cookie) is not an API credential: no CSRF-able path into the API
    browser = studio.client("ann1")
    assert browser.http.get(f"/api/p/{pid}/next").status_code == 403
    rev = httpx.Client(base_url=studio.url, headers={"Authorization": f"Bearer {rtoken}"})
    assert rev.get(f"/api/p/{pid}/export.jsonl").status_code == 200
    revoke_token(studio.sf, tid)
    assert api.get(f"/api/p/{pid}/next").status_code == 403


def test_chat_records_show_as_an_escaped_conversation(studio):
    """Real ChatterBot dialogues (record contract `messages`) render turn by turn, as text."""
    import json

    from tuneprep.datasets import chatterbot_english
    from tuneprep.studio.projects import add_members, create_project

    roles = {"human": "user", "gpt": "assistant"}
    with open(chatterbot_english(), encoding="utf-8") as fh:
        rows = [json.loads(next(fh)) for _ in range(2)]
    recs = [{"id": r["id"], "messages": [{"role": roles[t["from"]], "content": t["value"]} for t in r["conversations"]]}
            for r in rows]
    recs[1]["messages"].append({"role": "user", "content": XSS_IMG})
    pid = create_project(studio.sf, "chat", recs, ["good", "bad"], overlap=1)
    add_members(studio.sf, "chat", ["ann0"])
    c = studio.client("ann0")
    texts = []
    while (item := c.next_item(pid)) is not None:
        texts.append(c.page(f"/p/{pid}/items/{item}").text)
        assert c.label(pid, item, "good").status_code == 303
    assert len(texts) == 2
    assert texts[0].count('<li class="turn ') == len(recs[0]["messages"])
    assert "What is AI?" in texts[0] and '<span class="role">assistant</span>' in texts[0]
    assert "&lt;img src=x onerror=" in texts[1] and "<img src=x" not in texts[1]
