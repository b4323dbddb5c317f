"""The studio's web app: FastAPI routes and server-rendered Jinja2 pages.

Every page works without JavaScript (plain forms); ``static/studio.js`` only adds keyboard
shortcuts. Security, route by route:
* a user is taken from a server-side session (cookie: random token, HttpOnly, SameSite=Strict,
  Secure off loopback; only its SHA-256 is stored);
* every POST goes through ``_user_csrf`` (or the login's pre-session token): no valid CSRF token,
  or a foreign ``Origin``, and it is refused with 403;
* roles are checked per route and objects per request: an annotator reaches a project only as a
  member and an item only while it is assigned to them — anything else is a 404, which does not
  reveal whether the object exists;
* templates autoescape everything; guideline Markdown is rendered with raw HTML disabled;
* every response carries a strict CSP (no inline script or style), nosniff, frame-ancestors 'none'.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import delete, select

from tuneprep.studio import assign, hot, invites
from tuneprep.studio.db import (
    ApiToken,
    Assignment,
    Item,
    Project,
    StudioError,
    User,
    WebSession,
    create_schema,
    make_engine,
    now,
    session_factory,
)
from tuneprep.studio.hot import Viewer
from tuneprep.studio.projects import (
    adjudicate,
    adjudications,
    project_stats,
    projects_of,
    review_queue,
    user_by_name,
)
from tuneprep.studio.ratelimit import LoginLimiter, LoginLimits
from tuneprep.studio.security import (
    SECURITY_HEADERS,
    csrf_ok,
    csrf_token,
    new_token,
    token_hash,
    verify_password,
)
from tuneprep.studio.site import PRE_COOKIE, HTTPError, Site, same_origin

SESSION_COOKIE = "studio_session"
SESSION_HOURS = 12
STATIC = {"studio.js": "text/javascript; charset=utf-8", "studio.css": "text/css; charset=utf-8"}


class LabelIn(BaseModel):
    """The body of ``POST /api/p/{project}/items/{item}/label``."""

    label: str
    comment: str = ""


class LoginRequired(Exception):
    pass


_HEADER_PAIRS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every response (unless a route set
    its own, e.g. static files' Cache-Control). Starlette's ``@app.middleware("http")`` would
    run every request through an extra task and stream — measurable CPU per request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADER_PAIRS if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape on for every template: all data is untrusted. Created once per app; templates
    # ship inside the package, so auto_reload (a stat() per get_template) is off.
    env = Environment(loader=PackageLoader("tuneprep.studio", "templates"), autoescape=True,
                      undefined=StrictUndefined, auto_reload=False)
    return env


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # building the parser costs more than rendering a page of guidelines: build it once
    return MarkdownIt("commonmark", {"html": False}).disable("image")


@functools.lru_cache(maxsize=64)
def render_markdown(text: str) -> str:
    """Guideline Markdown → HTML with raw HTML disabled (escaped) and no images; markdown-it's
    link validation drops javascript:/vbscript:/data: URLs. Cached by text: a project's
    guidelines are shown on every item page and change rarely."""
    return _markdown().render(text or "")


def create_app(db_url: str, secret: bytes, secure_cookies: bool = False,
               limits: LoginLimits | None = None) -> FastAPI:
    """The ASGI app for one database. ``secret`` must come from ``security.load_secret``."""
    from markupsafe import Markup

    if not secret or len(secret) < 64:
        raise StudioError("refusing to start: the session secret is missing or too short")
    engine = make_engine(db_url)
    create_schema(engine)
    sf = session_factory(engine)
    env = _templates()
    limiter = LoginLimiter(sf, limits)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.sf, app.state.limiter = engine, sf, limiter

    app.add_middleware(SecurityHeaders)

    def page(request: Request, template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("user", getattr(request.state, "user", None))
        token = getattr(request.state, "token", None)
        ctx.setdefault("csrf", csrf_token(secret, token) if token else "")
        html = env.get_template(template).render(**ctx)
        return HTMLResponse(html, status_code=code)

    @app.exception_handler(HTTPError)
    async def on_http_error(request: Request, exc: HTTPError):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return page(request, "error.html", exc.status, message=exc.message, status=exc.status)

    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    # ---- who is asking -------------------------------------------------------------------
    def _session_user(request: Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        with sf.read() as conn:
            u = hot.viewer(conn, token_hash(token))
        if u is None:
            return None
        request.state.user, request.state.token = u, token
        return u

    def user_page(request: Request) -> Viewer:
        u = _session_user(request)
        if u is None:
            raise LoginRequired()
        return u

    def user_csrf(request: Request, csrf: str = Form("")) -> Viewer:
        """The user of a state-changing request, after the CSRF and Origin checks."""
        u = _session_user(request)
        if u is None:
            raise HTTPError(403, "not logged in")
        if not same_origin(request) or not csrf_ok(secret, request.state.token, csrf):
            raise HTTPError(403, "missing or invalid CSRF token")
        return u

    def member_project(conn: Any, project_id: int, user: Viewer | User) -> Any:
        """The project row (columns as attributes) if the user may see it; else 404."""
        p = hot.project_for(conn, project_id, user)
        if p is None:
            raise HTTPError(404, "no such project")
        return p

    def project_of(project_id: int, user: Viewer | User) -> Any:
        with sf.read() as conn:
            return member_project(conn, project_id, user)

    def reviewer(user: Viewer) -> None:
        if user.role not in ("reviewer", "admin"):
            raise HTTPError(403, "reviewers and admins only")

    # ---- static --------------------------------------------------------------------------
    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:  # a fixed list: no path from the request reaches the file system
            raise HTTPError(404, "not found")
        body = resources.files("tuneprep.studio").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "public, max-age=300"})

    # ---- login ---------------------------------------------------------------------------
    @app.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        pre = request.cookies.get(PRE_COOKIE) or new_token()
        resp = page(request, "login.html", login_csrf=csrf_token(secret, pre, "login"), error=None)
        resp.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=secure_cookies, path="/")
        return resp

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""),
              csrf: str = Form("")) -> Response:
        pre = request.cookies.get(PRE_COOKIE)
        if not same_origin(request) or not csrf_ok(secret, pre, csrf, "login"):
            raise HTTPError(403, "missing or invalid CSRF token (reload the login page)")
        client = request.client.host if request.client else "?"
        keys = limiter.keys(client, username)
        if limiter.blocked(*keys):
            raise HTTPError(429, "too many failed logins; wait a few minutes")
        with sf() as s:
            u = user_by_name(s, username)
        ok = verify_password(u.password_hash if u and u.active else None, password)
        if not ok or u is None:
            limiter.fail(*keys)
            resp = page(request, "login.html", 401, login_csrf=csrf, error="wrong user name or password")
            return resp
        limiter.reset(keys[1])
        token = new_token()
        with sf.begin() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < now()))
            s.add(WebSession(token_hash=token_hash(token), user_id=u.id,
                             expires_at=now() + dt.timedelta(hours=SESSION_HOURS)))
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies,
                        path="/", max_age=SESSION_HOURS * 3600)
        resp.delete_cookie(PRE_COOKIE, path="/")
        return resp

    # ---- invite links: a one-time page where a person sets their own password --------------
    invites.register_routes(app, Site(sf, secret, secure_cookies, page))

    @app.post("/logout")
    def logout(request: Request, user: Viewer = Depends(user_csrf)) -> Response:
        with sf.begin() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == token_hash(request.state.token)))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # ---- pages ---------------------------------------------------------------------------
    @app.get("/")
    def home(request: Request, user: Viewer = Depends(user_page)) -> HTMLResponse:
        with sf() as s:
            projects = projects_of(s, user)
            progress = {p.id: assign.progress(s, p.id, user.id) for p in projects}
        return page(request, "home.html", projects=projects, progress=progress)

    @app.get("/p/{project_id}")
    def project_page(request: Request, project_id: int, user: Viewer = Depends(user_page)) -> HTMLResponse:
        p = project_of(project_id, user)
        with sf() as s:
            mine = assign.progress(s, p.id, user.id)
            stats = project_stats(s, p) if user.role in ("reviewer", "admin") else None
            queue = len(review_queue(s, p.id)) if stats else None
        return page(request, "project.html", project=p, mine=mine, stats=stats, queue=queue,
                    guidelines=Markup(render_markdown(p.guidelines)))

    @app.get("/p/{project_id}/next")
    def next_page(request: Request, project_id: int, user: Viewer = Depends(user_page)) -> Response:
        p = project_of(project_id, user)
        item_id = assign.next_item(sf, p.id, user.id, p.overlap)
        if item_id is None:
            with sf() as s:
                mine = assign.progress(s, p.id, user.id)
            return page(request, "done.html", project=p, mine=mine)
        return RedirectResponse(f"/p/{p.id}/items/{item_id}", status_code=303)

    @app.get("/p/{project_id}/items/{item_id}")
    def item_page(request: Request, project_id: int, item_id: int, user: Viewer = Depends(user_page)) -> HTMLResponse:
        with sf.read() as conn:
            p = member_project(conn, project_id, user)
            item = hot.my_item(conn, p.id, item_id, user.id)
            if item is None:  # not yours: same answer as "does not exist"
                raise HTTPError(404, "no such item")
            counts = hot.my_counts(conn, p.id, user.id)
        mine = assign.Progress(done=counts.get("done", 0), skipped=counts.get("skipped", 0), open_items=-1)
        return page(request, "item.html", project=p, item=item, assignment=item, mine=mine,
                    guidelines=Markup(render_markdown(p.guidelines)))

    def _act(fn, *args) -> None:
        try:
            fn(sf, *args)
        except assign.NotAssigned as e:
            raise HTTPError(404, str(e)) from None
        except StudioError as e:
            raise HTTPError(400, str(e)) from None

    @app.post("/p/{project_id}/items/{item_id}/label")
    def label_item(project_id: int, item_id: int, label: str = Form(...), comment: str = Form(""),
                   user: Viewer = Depends(user_csrf)) -> Response:
        p = project_of(project_id, user)
        _act(assign.submit, p.id, user.id, item_id, label, comment, p.labels)
        return RedirectResponse(f"/p/{p.id}/next", status_code=303)

    @app.post("/p/{project_id}/items/{item_id}/skip")
    def skip_item(project_id: int, item_id: int, user: Viewer = Depends(user_csrf)) -> Response:
        p = project_of(project_id, user)
        _act(assign.skip, p.id, user.id, item_id)
        return RedirectResponse(f"/p/{p.id}/next", status_code=303)

    @app.post("/p/{project_id}/undo")
    def undo(project_id: int, user: Viewer = Depends(user_csrf)) -> Response:
        p = project_of(project_id, user)
        try:
            item_id = assign.undo(sf, p.id, user.id)
        except StudioError as e:
            raise HTTPError(409, str(e)) from None
        target = f"/p/{p.id}/items/{item_id}" if item_id else f"/p/{p.id}/next"
        return RedirectResponse(target, status_code=303)

    # ---- review --------------------------------------------------------------------------
    @app.get("/p/{project_id}/review")
    def review_list(request: Request, project_id: int, user: Viewer = Depends(user_page)) -> HTMLResponse:
        reviewer(user)
        p = project_of(project_id, user)
        with sf() as s:
            queue = review_queue(s, p.id)
            texts = {i.id: i.text for i in s.scalars(select(Item).where(Item.id.in_([q["item_id"] for q in queue])))}
        return page(request, "review_list.html", project=p, queue=queue, texts=texts)

    @app.get("/p/{project_id}/review/{item_id}")
    def review_item(request: Request, project_id: int, item_id: int, user: Viewer = Depends(user_page)) -> HTMLResponse:
        reviewer(user)
        p = project_of(project_id, user)
        with sf() as s:
            item = s.get(Item, item_id)
            if item is None or item.project_id != p.id:
                raise HTTPError(404, "no such item")
            labels = s.execute(select(User.name, Assignment.label, Assignment.comment, Assignment.duration_ms)
                               .join(User, User.id == Assignment.user_id)
                               .where(Assignment.item_id == item.id, Assignment.status == "done")
                               .order_by(User.name)).all()
            adj = adjudications(s, p.id).get(item.id)
        return page(request, "review_item.html", project=p, item=item, labels=labels, adjudication=adj)

    @app.post("/p/{project_id}/review/{item_id}")
    def review_submit(project_id: int, item_id: int, label: str = Form(...), comment: str = Form(""),
                      user: Viewer = Depends(user_csrf)) -> Response:
        reviewer(user)
        p = project_of(project_id, user)
        try:
            adjudicate(sf, p.id, user.id, item_id, label, comment)
        except StudioError as e:
            raise HTTPError(400, str(e)) from None
        return RedirectResponse(f"/p/{p.id}/review", status_code=303)

    def _export(project_id: int, user: Viewer | User) -> Response:
        import orjson

        from tuneprep.studio.export import export_records

        reviewer(user)
        p = project_of(project_id, user)
        records, _summary = export_records(sf, p.name)
        body = b"".join(orjson.dumps(r) + b"\n" for r in records)
        return Response(body, media_type="application/x-ndjson",
                        headers={"Content-Disposition": f'attachment; filename="project-{p.id}.jsonl"'})

    @app.get("/p/{project_id}/export.jsonl")
    def export_jsonl(project_id: int, user: Viewer = Depends(user_page)) -> Response:
        return _export(project_id, user)

    # ---- API for scripts: bearer tokens scoped to one project; cookies are ignored here, so
    # there is no ambient credential for a cross-site request to ride on (no CSRF token needed)
    def api_user(request: Request, project_id: int) -> User:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise HTTPError(403, "an API token is required (Authorization: Bearer <token>)")
        with sf() as s:
            row = s.execute(select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
                            .where(ApiToken.token_hash == token_hash(auth[7:].strip()))).first()
            if row is None or row[1].revoked_at is not None or not row[0].active:
                raise HTTPError(403, "invalid or revoked API token")
            if row[1].project_id != project_id:  # scoped: other projects do not exist for it
                raise HTTPError(404, "no such project")
        project_of(project_id, row[0])
        return row[0]

    @app.get("/api/p/{project_id}/next")
    def api_next(project_id: int, user: Viewer = Depends(api_user)) -> dict[str, Any]:
        item_id = assign.next_item(sf, project_id, user.id)
        with sf() as s:
            labels = s.get(Project, project_id).labels
            item = s.get(Item, item_id) if item_id else None
        out = {"id": item.id, "ext_id": item.ext_id, "text": item.text, "messages": item.messages} if item else None
        return {"item": out, "labels": labels}

    @app.post("/api/p/{project_id}/items/{item_id}/label")
    def api_label(project_id: int, item_id: int, body: LabelIn, user: Viewer = Depends(api_user)) -> dict[str, Any]:
        _act(assign.submit, project_id, user.id, item_id, body.label, body.comment)
        return {"ok": True, "item": item_id, "label": body.label}

    @app.get("/api/p/{project_id}/export.jsonl")
    def api_export(project_id: int, user: Viewer = Depends(api_user)) -> Response:
        return _export(project_id, user)

    return app
