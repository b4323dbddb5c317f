"""``tuneprep studio init | user add | project create | serve | export`` (thin; the library does the work).

Every command takes ``--db URL`` or reads ``TUNEPREP_STUDIO_DB``; SQLite (``studio.db``) by default.
"""

from __future__ import annotations

from pathlib import Path

import typer

studio_app = typer.Typer(help="Annotation studio: people label, review and agree (web app).", no_args_is_help=True)
user_app = typer.Typer(help="Accounts (there is no self-signup).", no_args_is_help=True)
project_app = typer.Typer(help="Labelling projects.", no_args_is_help=True)
studio_app.add_typer(user_app, name="user")
studio_app.add_typer(project_app, name="project")
token_app = typer.Typer(help="API tokens for scripts (one user, one project; revocable).", no_args_is_help=True)
studio_app.add_typer(token_app, name="token")

DB_HELP = "Database URL (sqlite:///studio.db, postgresql+psycopg://…) or SQLite path; default $TUNEPREP_STUDIO_DB."
SECRET_HELP = "Session secret file (default: beside a SQLite file, or $TUNEPREP_STUDIO_SECRET_FILE)."


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    from tuneprep.annotate.core import AnnotateError
    from tuneprep.io.readers import InputError
    from tuneprep.studio.db import StudioError

    return (StudioError, AnnotateError, InputError, SQLAlchemyError, OSError)


def _open(db: str | None):
    from tuneprep.studio.db import create_schema, make_engine, resolve_url, session_factory

    url = resolve_url(db)
    engine = make_engine(url)
    create_schema(engine)
    return url, session_factory(engine)


def _private_sqlite_file(url: str) -> None:
    """The SQLite file holds password hashes and sessions: owner-only, like the secret."""
    import os

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and os.path.exists(u.database):
        os.chmod(u.database, 0o600)


@studio_app.command("init")
def init_cmd(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    admin: str = typer.Option("admin", "--admin", help="Name of the first admin account."),
    secret_file: Path | None = typer.Option(None, "--secret-file", help=SECRET_HELP),
    new_secret: bool = typer.Option(False, "--new-secret", help="Replace the session secret (logs everyone out)."),
) -> None:
    """Create the database, a session secret (mode 0600) and the first admin with a generated password."""
    try:
        from sqlalchemy import select

        from tuneprep.studio.db import User, redacted
        from tuneprep.studio.projects import add_user
        from tuneprep.studio.security import secret_path, write_secret

        url, sf = _open(db)
        _private_sqlite_file(url)
        path = secret_path(url, secret_file)
        if new_secret and path.exists():
            path.unlink()
        if not path.exists():
            write_secret(path)
            typer.echo(f"session secret written to {path} (mode 0600)")
        with sf() as s:
            existing = s.scalars(select(User.name).where(User.role == "admin")).first()
        if existing:
            typer.echo(f"{redacted(url)} is already initialised (admin: {existing}); "
                       "use `tuneprep studio user reset-password` to get a new password")
            return
        password = add_user(sf, admin, "admin")
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"database {redacted(url)} ready")
    typer.echo(f"admin user: {admin}")
    typer.echo(f"password:   {password}")
    typer.echo("(shown once; it is stored only as an argon2 hash)")


@user_app.command("add")
def user_add_cmd(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option("annotator", "--role", help="annotator | reviewer | admin."),
    invite: bool = typer.Option(False, "--invite", help="Print a one-time link where the person sets their "
                                "own password, instead of a generated password."),
    invite_hours: float = typer.Option(72.0, "--invite-hours", help="How long the invite link works."),
    base_url: str = typer.Option("http://127.0.0.1:8765", "--url", help="The studio's address, for the link."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Add a person; prints a generated password once (or, with --invite, a one-time link)."""
    try:
        from tuneprep.studio.invites import check_hours, create_invite
        from tuneprep.studio.projects import add_user

        if invite:
            check_hours(invite_hours)  # before the account exists: no user without a way in
        _url, sf = _open(db)
        password = add_user(sf, name, role)  # with --invite: random, never shown, replaced via the link
        token = create_invite(sf, name, invite_hours) if invite else None
    except _errors() as e:
        _fail(str(e))
        return
    if token is None:
        typer.echo(f"user {name} ({role}) created; password: {password}")
        return
    typer.echo(f"user {name} ({role}) created; invite link (works once, for {invite_hours:g} h):")
    typer.echo(f"{base_url.rstrip('/')}/invite/{token}")


@user_app.command("reset-password")
def user_reset_cmd(
    name: str = typer.Argument(..., help="User name."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Give a person a new generated password (printed once)."""
    try:
        from tuneprep.studio.projects import set_password

        _url, sf = _open(db)
        password = set_password(sf, name)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"new password for {name}: {password}")


@project_app.command("create")
def project_create_cmd(
    source: Path = typer.Option(..., "--from", help="A JSONL (any supported file) or a run directory."),
    labels: str = typer.Option(..., "--labels", help="Label set, comma-separated (1–9 labels)."),
    name: str | None = typer.Option(None, "--name", help="Project name (default: the input's name)."),
    guidelines: Path | None = typer.Option(None, "--guidelines", help="Markdown guidelines shown to annotators."),
    overlap: int = typer.Option(1, "--overlap", help="Different annotators per item."),
    annotators: str | None = typer.Option(None, "--annotators", help="Members, comma-separated user names."),
    suggest: str | None = typer.Option(None, "--suggest", help="Machine suggestions: lexicon | knn | llm | ensemble."),
    limit: int | None = typer.Option(None, "--limit", help="Load only the first N records."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Load records into a new project (optionally with suggestions from `tuneprep annotate`)."""
    try:
        from tuneprep.studio.projects import add_members, create_project, load_input
        from tuneprep.studio.projects import suggest as add_suggestions

        label_list = [x.strip() for x in labels.split(",") if x.strip()]
        records = load_input(source, limit)
        if suggest:
            records = add_suggestions(records, suggest, label_list)
        text = guidelines.read_text(encoding="utf-8") if guidelines else ""
        _url, sf = _open(db)
        pname = name or source.stem
        pid = create_project(sf, pname, records, label_list, overlap, text, str(source))
        if annotators:
            add_members(sf, pname, [x.strip() for x in annotators.split(",") if x.strip()])
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"project {pname} (id {pid}): {len(records)} items, labels {','.join(label_list)}, overlap {overlap}")


@project_app.command("members")
def project_members_cmd(
    project: str = typer.Argument(..., help="Project name."),
    names: str = typer.Argument(..., help="User names to add, comma-separated."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Add people to a project."""
    try:
        from tuneprep.studio.projects import add_members

        _url, sf = _open(db)
        add_members(sf, project, [x.strip() for x in names.split(",") if x.strip()])
    except _errors() as e:
        _fail(str(e))


@token_app.command("create")
def token_create_cmd(
    user: str = typer.Argument(..., help="The user the token acts as."),
    project: str = typer.Option(..., "--project", help="The only project the token reaches."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    try:
        from tuneprep.studio.projects import create_token

        _url, sf = _open(db)
        token_id, token = create_token(sf, user, project)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"token {token_id} for {user} on {project}: {token}")
    typer.echo("(shown once; send it as `Authorization: Bearer <token>`)")


@token_app.command("revoke")
def token_revoke_cmd(
    token_id: int = typer.Argument(..., help="Token id (from `token list`)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke an API token."""
    try:
        from tuneprep.studio.projects import revoke_token

        _url, sf = _open(db)
        revoke_token(sf, token_id)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"token {token_id} revoked")


@token_app.command("list")
def token_list_cmd(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """List API tokens (ids, users, projects; never the tokens)."""
    try:
        from tuneprep.studio.projects import list_tokens

        _url, sf = _open(db)
        with sf() as s:
            rows = list_tokens(s)
    except _errors() as e:
        _fail(str(e))
        return
    for r in rows:
        typer.echo(f"{r['id']}\t{r['user']}\t{r['project']}\t{r['created_at']}\t{'revoked' if r['revoked'] else 'active'}")


@project_app.command("flag")
def project_flag_cmd(
    project: str = typer.Argument(..., help="Project name."),
    folds: int = typer.Option(3, "--folds", help="Cross-validation folds."),
    model: str = typer.Option("minilm-l6", "--model", help="Sentence encoder for the features."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Send items whose current label cleanlab doubts to the review queue (`annotate issues`)."""
    try:
        from tuneprep.studio.flags import flag_label_issues

        _url, sf = _open(db)
        summary = flag_label_issues(sf, project, folds, model)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"{summary['n_issues']} of {summary['n_judged']} labelled items flagged for review "
               f"(cross-validated accuracy {summary['cv_accuracy']:.3f})")


@studio_app.command("serve")
def serve_cmd(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a non-loopback --host."),
    https: bool = typer.Option(False, "--https", help="Served over HTTPS (by a proxy): Secure cookies."),
    secret_file: Path | None = typer.Option(None, "--secret-file", help=SECRET_HELP),
    workers: int = typer.Option(1, "--workers", help="Server processes (same database and secret; "
                                "the login rate limit is in the database, so it holds across them)."),
) -> None:
    """Start the web app."""
    try:
        from tuneprep.studio.db import resolve_url
        from tuneprep.studio.server import serve

        serve(resolve_url(db), host, port, allow_remote, secret_file, https, workers)
    except _errors() as e:
        _fail(str(e))


@studio_app.command("export")
def export_cmd(
    project: str = typer.Argument(..., help="Project name."),
    out: Path = typer.Option(..., "--out", help="Output directory (data/records.jsonl, judgements.jsonl, manifest.json)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Records with their final label (adjudicated, else Dawid–Skene, else majority) and every annotation."""
    try:
        from tuneprep.studio.export import export_project

        url, sf = _open(db)
        m = export_project(sf, project, out, url)
    except _errors() as e:
        _fail(str(e))
        return
    typer.echo(f"{m['n_records']} records, {m['n_annotations']} annotations → {out} "
               f"(final labels: {m['final_source_counts']})")


def register(app: typer.Typer) -> None:
    app.add_typer(studio_app, name="studio")
