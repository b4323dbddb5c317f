"""The CLI end to end on real Rotten Tomatoes records: init, users, project, labels, export, agreement."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tuneprep.cli import app
from tuneprep.studio import assign
from tuneprep.studio.db import make_engine, session_factory
from tuneprep.studio.projects import adjudicate, project_by_name, project_stats, user_by_name

runner = CliRunner()


def cli(*args: str, ok: bool = True):
    res = runner.invoke(app, list(args))
    if ok:
        assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def studio_db(tmp_path_factory, rt_path):
    from tests.studio.kit import cheap_hashing

    cheap_hashing()
    d = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{d / 'studio.db'}"
    cli("studio", "init", "--db", db)
    pw = {}
    for name, role in (("rev", "reviewer"), ("ann0", "annotator"), ("ann1", "annotator"), ("solo", "annotator")):
        out = cli("studio", "user", "add", name, "--role", role, "--db", db).output
        pw[name] = re.search(r"password: (\S+)", out).group(1)
    guide = REPO / "examples" / "studio" / "guidelines.md"
    out = cli("studio", "project", "create", "--from", str(rt_path), "--labels", "positive,negative,neutral",
              "--name", "rt", "--overlap", "2", "--annotators", "rev,ann0,ann1", "--limit", "12",
              "--guidelines", str(guide), "--db", db).output
    assert "12 items" in out
    with session_factory(make_engine(db))() as s:
        assert project_by_name(s, "rt").guidelines == guide.read_text()
    cli("studio", "project", "create", "--from", str(rt_path), "--labels", "positive,negative,neutral",
        "--name", "solo", "--annotators", "solo", "--limit", "5", "--db", db)
    return db, d


def _gold(rt_path, n):
    with open(rt_path) as fh:
        return [json.loads(next(fh))["label"] for _ in range(n)]


def test_errors_name_the_problem(studio_db, rt_path, tmp_path):
    db, _ = studio_db
    r = cli("studio", "user", "add", "ann0", "--db", db, ok=False)
    assert r.exit_code == 2 and "already exists" in r.output
    r = cli("studio", "user", "add", "eve", "--role", "root", "--db", db, ok=False)
    assert r.exit_code == 2 and "role 'root'" in r.output
    r = cli("studio", "project", "create", "--from", str(tmp_path / "nope.jsonl"), "--labels", "a,b", "--db", db, ok=False)
    assert r.exit_code == 2 and "nope.jsonl" in r.output
    r = cli("studio", "project", "create", "--from", str(rt_path), "--labels", "a,b", "--name", "x", "--limit", "2",
            "--annotators", "ghost", "--db", db, ok=False)
    assert r.exit_code == 2 and "ghost" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "fine"}\n{"id": "2", "text": \n')
    r = cli("studio", "project", "create", "--from", str(bad), "--labels", "a,b", "--db", db, ok=False)
    assert r.exit_code == 2 and "bad.jsonl:2" in r.output
    r = cli("studio", "export", "missing", "--out", str(tmp_path / "o"), "--db", db, ok=False)
    assert r.exit_code == 2 and "no project 'missing'" in r.output


def test_export_final_labels_annotations_and_agreement(studio_db, rt_path, monkeypatch):
    db, d = studio_db
    sf = session_factory(make_engine(db))
    gold = _gold(rt_path, 12)
    with sf() as s:
        pid = project_by_name(s, "rt").id
        uid = {n: user_by_name(s, n).id for n in ("rev", "ann0", "ann1")}
    # ann0 labels with the corpus' own label; ann1 agrees except on every fourth item
    for name in ("ann0", "ann1"):
        while (item := assign.next_item(sf, pid, uid[name])) is not None:
            k = item - 1  # items are numbered in input order
            lab = gold[k] if name == "ann0" or k % 4 else {"positive": "negative"}.get(gold[k], "positive")
            assign.submit(sf, pid, uid[name], item, lab, comment=f"{name} on {k}")
    adjudicate(sf, pid, uid["rev"], 1, gold[0], "critic is clear")
    out = d / "export"
    res = cli("studio", "export", "rt", "--out", str(out), "--db", db)
    assert "12 records, 24 annotations" in res.output
    recs = [json.loads(line) for line in (out / "data" / "records.jsonl").open()]
    assert [r["id"] for r in recs] == [f"rt-{i:05d}" for i in range(12)]  # records in = records out, in order
    src = [r["meta"]["studio"]["final_source"] for r in recs]
    assert src[0] == "adjudicated" and set(src[1:]) == {"dawid-skene"}
    assert recs[0]["label"] == gold[0] and recs[0]["meta"]["studio"]["adjudication"]["reviewer"] == "rev"
    for k, r in enumerate(recs):
        anns = r["meta"]["annotations"]
        assert sorted(a["annotator"] for a in anns) == ["ann0", "ann1"]
        assert all(a["time"] and a["duration_ms"] is not None and a["comment"] for a in anns)
        if k % 4:  # both agree: the label model keeps it
            assert r["label"] == gold[k]
        assert r["meta"]["studio"]["input_label"] == gold[k]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_records"] == 12 and manifest["label_model"] == "dawid-skene"
    assert manifest["final_source_counts"] == {"adjudicated": 1, "dawid-skene": 11}
    assert set(manifest["files"]) == {"data/records.jsonl", "judgements.jsonl"}
    # `tuneprep annotate agreement` reads the export and agrees with the live project page
    rep = json.loads(cli("annotate", "agreement", str(out / "judgements.jsonl"), "--json").output)
    with sf() as s:
        live = project_stats(s, project_by_name(s, "rt"))
    assert rep["n_items"] == 12 and rep["n_annotators"] == 2 and rep["n_judgements"] == 24
    assert rep["cohen_kappa"] == pytest.approx(live["agreement"]["cohen_kappa"])
    assert rep["krippendorff_alpha"] == pytest.approx(live["agreement"]["krippendorff_alpha"])
    assert rep["percent_agreement"] == pytest.approx(9 / 12)
    ann = {a["name"]: a for a in live["annotators"]}
    assert ann["ann0"]["agreement_with_adjudicated"] == 1.0 and ann["ann0"]["n"] == 12


def test_single_annotator_falls_back_to_majority_and_unlabeled_stays(studio_db, rt_path):
    db, d = studio_db
    sf = session_factory(make_engine(db))
    with sf() as s:
        pid = project_by_name(s, "solo").id
        uid = user_by_name(s, "solo").id
    for _ in range(3):
        item = assign.next_item(sf, pid, uid)
        assign.submit(sf, pid, uid, item, "neutral")
    assign.skip(sf, pid, uid, assign.next_item(sf, pid, uid))
    out = d / "solo"
    cli("studio", "export", "solo", "--out", str(out), "--db", db)
    recs = [json.loads(line) for line in (out / "data" / "records.jsonl").open()]
    assert [r["meta"]["studio"]["final_source"] for r in recs] == ["majority"] * 3 + ["input"] * 2
    assert [r["label"] for r in recs[:3]] == ["neutral"] * 3
    assert recs[3]["meta"]["studio"]["skipped_by"] == ["solo"] and recs[3]["meta"]["annotations"] == []
    assert [r["label"] for r in recs[3:]] == _gold(rt_path, 5)[3:]  # nobody labelled: the input label is kept


def test_machine_suggestions_from_annotate(studio_db, rt_path):
    from sqlalchemy import select

    from tuneprep.studio.db import Item

    db, _ = studio_db
    cli("studio", "project", "create", "--from", str(rt_path), "--labels", "positive,negative,neutral",
        "--name", "suggested", "--suggest", "lexicon", "--limit", "6", "--db", db)
    with session_factory(make_engine(db))() as s:
        items = s.scalars(select(Item).where(Item.project_id == project_by_name(s, "suggested").id)).all()
    assert len(items) == 6 and all(i.suggestion_method == "lexicon" for i in items)
    assert {i.suggestion for i in items} <= {"positive", "negative", "neutral"}


def test_token_commands(studio_db):
    db, _ = studio_db
    out = cli("studio", "token", "create", "ann0", "--project", "rt", "--db", db).output
    tid, token = re.search(r"token (\d+) for ann0 on rt: (tps_\S+)", out).groups()
    listed = cli("studio", "token", "list", "--db", db).output
    assert f"{tid}\tann0\trt" in listed and "active" in listed and token not in listed
    cli("studio", "token", "revoke", tid, "--db", db)
    assert "revoked" in cli("studio", "token", "list", "--db", db).output
    r = cli("studio", "token", "create", "solo", "--project", "rt", "--db", db, ok=False)
    assert r.exit_code == 2 and "not a member" in r.output


@pytest.mark.slow  # loads the MiniLM encoder
def test_cleanlab_flags_join_the_review_queue(studio_db, rt_path):
    """One annotator labels 120 real snippets with the corpus label, 12 of them flipped; `project flag`
    (annotate issues: MiniLM + cross-validated classifier + cleanlab) sends doubtful ones to review."""
    from sqlalchemy import select

    from tuneprep.studio.db import Item, ReviewFlag
    from tuneprep.studio.projects import review_queue

    db, _ = studio_db
    cli("studio", "project", "create", "--from", str(rt_path), "--labels", "positive,negative,neutral",
        "--name", "flagme", "--annotators", "solo", "--limit", "120", "--db", db)
    sf = session_factory(make_engine(db))
    gold = _gold(rt_path, 120)
    flipped = set(range(3, 120, 10))
    with sf() as s:
        pid = project_by_name(s, "flagme").id
        uid = user_by_name(s, "solo").id
        ext = {i.id: int(i.ext_id.split("-")[1]) for i in s.scalars(select(Item).where(Item.project_id == pid))}
    while (item := assign.next_item(sf, pid, uid)) is not None:
        k = ext[item]
        lab = gold[k] if k not in flipped else {"positive": "negative", "negative": "neutral"}.get(gold[k], "positive")
        assign.submit(sf, pid, uid, item, lab)
    out = cli("studio", "project", "flag", "flagme", "--db", db).output
    assert "labelled items flagged" in out
    with sf() as s:
        flags = s.scalars(select(ReviewFlag).where(ReviewFlag.project_id == pid)).all()
        queue = review_queue(s, pid)
    assert flags and [q["item_id"] for q in queue] == [f.item_id for f in sorted(flags, key=lambda f: f.score)]
    assert all(q["flag"].startswith("cleanlab:") for q in queue)
    hit = sum(ext[f.item_id] in flipped for f in flags)
    assert hit / len(flags) > len(flipped) / 120, (hit, len(flags))  # better than flagging at random
