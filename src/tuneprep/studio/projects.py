"""People, projects and what a reviewer needs: users, records into items, live agreement, review queue.

Agreement statistics come from ``tuneprep.annotate.agreement`` (the same code as
``tuneprep annotate agreement``); machine suggestions from ``tuneprep.annotate`` methods.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tuneprep.studio.db import ROLES, Adjudication, Assignment, Item, Member, Project, StudioError, User
from tuneprep.studio.security import generate_password, hash_password

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_name(name: str, what: str = "user name") -> str:
    if not NAME_RE.match(name):
        raise StudioError(f"{what} {name!r}: use 1–64 letters, digits, '_', '.', '@' or '-'")
    return name


# --------------------------------------------------------------------------------------------
# users

def add_user(sf: sessionmaker, name: str, role: str, password: str | None = None) -> str:
    """Create a user; returns the password (generated unless given — it is shown once, stored hashed)."""
    if role not in ROLES:
        raise StudioError(f"role {role!r}: use one of {', '.join(ROLES)}")
    check_name(name)
    password = password or generate_password()
    try:
        with sf.begin() as s:
            s.add(User(name=name, password_hash=hash_password(password), role=role))
    except IntegrityError:
        raise StudioError(f"user {name!r} already exists") from None
    return password


def user_by_name(s: Session, name: str) -> User | None:
    return s.scalars(select(User).where(User.name == name)).first()


def set_password(sf: sessionmaker, name: str) -> str:
    password = generate_password()
    with sf.begin() as s:
        u = user_by_name(s, name)
        if u is None:
            raise StudioError(f"no user {name!r}")
        u.password_hash = hash_password(password)
    return password


def add_members(sf: sessionmaker, project: str, names: list[str]) -> None:
    with sf.begin() as s:
        p = project_by_name(s, project)
        for name in names:
            u = user_by_name(s, name)
            if u is None:
                raise StudioError(f"--annotators: no user {name!r} (add it with `tuneprep studio user add`)")
            if s.scalar(select(Member.id).where(Member.project_id == p.id, Member.user_id == u.id)) is None:
                s.add(Member(project_id=p.id, user_id=u.id))


def is_member(s: Session, project_id: int, user: User) -> bool:
    if user.role == "admin":
        return True
    return s.scalar(select(Member.id).where(Member.project_id == project_id, Member.user_id == user.id)) is not None


def projects_of(s: Session, user: User) -> list[Project]:
    q = select(Project).order_by(Project.id)
    if user.role != "admin":
        q = q.join(Member, Member.project_id == Project.id).where(Member.user_id == user.id)
    return list(s.scalars(q).all())


# --------------------------------------------------------------------------------------------
# API tokens

TOKEN_PREFIX = "tps_"


def create_token(sf: sessionmaker, user: str, project: str) -> tuple[int, str]:
    """A new token for ``user`` on ``project`` (a member). Returns (id, token); the token is shown once."""
    from tuneprep.studio.db import ApiToken
    from tuneprep.studio.security import new_token, token_hash

    token = TOKEN_PREFIX + new_token()
    with sf.begin() as s:
        u = user_by_name(s, user)
        if u is None:
            raise StudioError(f"no user {user!r}")
        p = project_by_name(s, project)
        if not is_member(s, p.id, u):
            raise StudioError(f"user {user!r} is not a member of project {project!r}")
        t = ApiToken(token_hash=token_hash(token), user_id=u.id, project_id=p.id)
        s.add(t)
        s.flush()
        return t.id, token


def revoke_token(sf: sessionmaker, token_id: int) -> None:
    from tuneprep.studio.db import ApiToken, now

    with sf.begin() as s:
        t = s.get(ApiToken, token_id)
        if t is None:
            raise StudioError(f"no API token with id {token_id}")
        t.revoked_at = t.revoked_at or now()


def list_tokens(s: Session) -> list[dict[str, Any]]:
    from tuneprep.studio.db import ApiToken

    rows = s.execute(select(ApiToken, User.name, Project.name).join(User, User.id == ApiToken.user_id)
                     .join(Project, Project.id == ApiToken.project_id).order_by(ApiToken.id)).all()
    return [{"id": t.id, "user": u, "project": p, "created_at": t.created_at.isoformat(timespec="seconds"),
             "revoked": t.revoked_at is not None} for t, u, p in rows]


# --------------------------------------------------------------------------------------------
# projects

def project_by_name(s: Session, name: str) -> Project:
    p = s.scalars(select(Project).where(Project.name == name)).first()
    if p is None:
        raise StudioError(f"no project {name!r}")
    return p


def input_files(path: Path) -> list[Path]:
    """A JSONL (or any supported) file, or a run directory: its ``data/`` or train/val/test splits."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise StudioError(f"--from {path}: no such file or directory")
    files = sorted(path.glob("data/*.jsonl*"))
    for split in ("train", "val", "test"):
        files += sorted(path.glob(f"{split}/*.jsonl*"))
    if not files:
        raise StudioError(f"--from {path}: a run directory needs data/*.jsonl or train|val|test/*.jsonl")
    return files


def load_input(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    from tuneprep.io.readers import load_records

    records: list[dict[str, Any]] = []
    for f in input_files(path):
        records += load_records(f)
        if limit and len(records) >= limit:
            return records[:limit]
    return records


def create_project(sf: sessionmaker, name: str, records: list[dict[str, Any]], labels: list[str],
                   overlap: int = 1, guidelines: str = "", source: str = "") -> int:
    """Create a project and its items from records (the record contract). Returns the project id."""
    from tuneprep.annotate.core import check_labels
    from tuneprep.annotate.interchange import _suggestion  # the same pre-annotation Label Studio export shows

    check_name(name, "project name")
    labels = check_labels(labels, "--labels")
    if not 1 <= len(labels) <= 9 or len(set(labels)) != len(labels):
        raise StudioError("--labels: give 1 to 9 distinct labels (keys 1–9 pick them)")
    if overlap < 1:
        raise StudioError("--overlap must be at least 1")
    if not records:
        raise StudioError("no records to load")
    try:
        with sf.begin() as s:
            p = Project(name=name, labels=labels, overlap=overlap, guidelines=guidelines, source=source)
            s.add(p)
            s.flush()
            seen: set[str] = set()
            for i, rec in enumerate(records):
                rid = str(rec.get("id", i))
                if rid in seen:
                    raise StudioError(f"record {i + 1}: duplicate id {rid!r}")
                seen.add(rid)
                lab, conf, method = _suggestion(rec)
                s.add(Item(project_id=p.id, position=i, ext_id=rid, text=str(rec.get("text") or ""),
                           messages=rec.get("messages"), suggestion=lab, suggestion_score=conf,
                           suggestion_method=method, record=rec))
            return p.id
    except IntegrityError:
        raise StudioError(f"project {name!r} already exists") from None


def suggest(records: list[dict[str, Any]], method: str, labels: list[str]) -> list[dict[str, Any]]:
    """Machine suggestions from ``tuneprep annotate`` (lexicon, knn, llm, ensemble) with default params."""
    from tuneprep.annotate.methods import annotate_records

    return annotate_records(records, method, labels)


# --------------------------------------------------------------------------------------------
# what reviewers see

def done_rows(s: Session, project_id: int) -> list[tuple[int, str, str, Any, Any, str]]:
    """(item_id, annotator, label, submitted_at, duration_ms, comment) of every submitted label."""
    return list(s.execute(
        select(Assignment.item_id, User.name, Assignment.label, Assignment.submitted_at, Assignment.duration_ms,
               Assignment.comment)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.project_id == project_id, Assignment.status == "done")
        .order_by(Assignment.item_id, Assignment.id)
    ).all())


def adjudications(s: Session, project_id: int) -> dict[int, Adjudication]:
    return {a.item_id: a for a in s.scalars(select(Adjudication).where(Adjudication.project_id == project_id))}


def review_queue(s: Session, project_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Items no reviewer has adjudicated yet whose submitted labels disagree, or that cleanlab
    flagged (``flags.flag_label_issues``); flagged ones first, most suspicious first."""
    from tuneprep.studio.db import ReviewFlag

    by_item: dict[int, list[str]] = defaultdict(list)
    for item_id, _name, label, *_ in done_rows(s, project_id):
        by_item[item_id].append(label)
    adj = adjudications(s, project_id)
    out = []
    for f in s.scalars(select(ReviewFlag).where(ReviewFlag.project_id == project_id).order_by(ReviewFlag.score)):
        if f.item_id not in adj:
            out.append({"item_id": f.item_id, "counts": dict(Counter(by_item.get(f.item_id, []))),
                        "n": len(by_item.get(f.item_id, [])),
                        "flag": f"cleanlab: {f.given} → {f.suggested}? (quality {f.score:.2f})"})
    flagged = {q["item_id"] for q in out}
    for item_id, labs in by_item.items():
        if len(set(labs)) > 1 and item_id not in adj and item_id not in flagged:
            out.append({"item_id": item_id, "counts": dict(Counter(labs)), "n": len(labs), "flag": None})
    return out[:limit]


def specific_agreement(by_item: dict[str, dict[str, str]], labels: list[str]) -> dict[str, float | None]:
    """Per label: of the judgement pairs that involve the label, the share where both chose it
    (positive specific agreement, Fleiss 1975 / Uebersax)."""
    out: dict[str, float | None] = {}
    for lab in labels:
        num = den = 0
        for per in by_item.values():
            m = len(per)
            if m < 2:
                continue
            n = sum(1 for v in per.values() if v == lab)
            num += n * (n - 1)
            den += n * (m - 1)
        out[lab] = num / den if den else None
    return out


def project_stats(s: Session, project: Project) -> dict[str, Any]:
    """Progress, live agreement (agreement module) and per-annotator speed and accuracy."""
    from tuneprep.annotate.agreement import AgreementError, agreement_report, build_judgements

    rows = done_rows(s, project.id)
    n_items = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == project.id)) or 0
    complete = s.scalar(select(func.count()).select_from(Item).where(
        Item.project_id == project.id, Item.n_done >= project.overlap)) or 0
    adj = adjudications(s, project.id)
    stats: dict[str, Any] = {"n_items": n_items, "n_complete": complete, "n_labels": len(rows),
                             "n_adjudicated": len(adj), "overlap": project.overlap, "agreement": None}
    judgements = [{"item": str(i), "annotator": name, "label": lab} for i, name, lab, *_ in rows]
    if judgements:
        try:
            j = build_judgements(judgements, source=f"project {project.name}")
            rep = agreement_report(j)
            rep["per_label"] = specific_agreement(j.by_item, project.labels)
            stats["agreement"] = rep
        except AgreementError as e:
            stats["agreement_note"] = str(e)
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "durations": [], "adj_n": 0, "adj_agree": 0})
    for item_id, name, lab, _at, dur, _c in rows:
        a = per[name]
        a["n"] += 1
        if dur is not None:
            a["durations"].append(dur)
        if item_id in adj:
            a["adj_n"] += 1
            a["adj_agree"] += int(adj[item_id].label == lab)
    stats["annotators"] = [
        {"name": name, "n": a["n"],
         "median_seconds": round(statistics.median(a["durations"]) / 1000, 1) if a["durations"] else None,
         "agreement_with_adjudicated": (a["adj_agree"] / a["adj_n"]) if a["adj_n"] else None,
         "n_adjudicated": a["adj_n"]}
        for name, a in sorted(per.items())
    ]
    return stats


def adjudicate(sf: sessionmaker, project_id: int, reviewer_id: int, item_id: int, label: str,
               comment: str = "") -> None:
    for attempt in range(3):
        try:
            with sf.begin() as s:
                p = s.get(Project, project_id)
                if p is None or label not in p.labels:
                    raise StudioError(f"label {label!r} is not one of this project's labels")
                item = s.get(Item, item_id)
                if item is None or item.project_id != project_id:
                    raise StudioError("no such item in this project")
                a = s.get(Adjudication, item_id)
                if a is None:
                    s.add(Adjudication(item_id=item_id, project_id=project_id, reviewer_id=reviewer_id,
                                       label=label, comment=comment[:5000]))
                else:
                    a.label, a.comment, a.reviewer_id = label, comment[:5000], reviewer_id
            return
        except IntegrityError:  # two reviewers at once: the second retries as an update
            if attempt == 2:
                raise
