"""Assignment over HTTP on SQLite and PostgreSQL: overlap, hidden labels, skip/undo, 20 concurrent annotators."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.studio.kit import build_studio, rt_records
from tuneprep.studio.db import Assignment, Item
from tuneprep.studio.projects import add_members

ANNOTATORS = [f"ann{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def studio(db_url, rt_path, tmp_path_factory):
    recs = rt_records(rt_path, 60)
    s = build_studio(db_url, tmp_path_factory.mktemp("studio"), recs[:12], ANNOTATORS, overlap=2,
                     main_members=ANNOTATORS[:4], extra_projects={"conc": recs[12:42], "undo": recs[42:48]})
    add_members(s.sf, "conc", ANNOTATORS)
    add_members(s.sf, "undo", ANNOTATORS[:2])
    yield s
    s.stop()


def test_each_item_goes_to_overlap_different_annotators_and_labels_stay_hidden(studio):
    pid = studio.projects["main"]
    clients = {a: studio.client(a) for a in ANNOTATORS[:4]}
    seen: dict[str, list[int]] = {a: [] for a in clients}
    # a, b label everything they get first; then c, d: each item must reach exactly two people
    for a, c in clients.items():
        while (item := c.next_item(pid)) is not None:
            page = c.page(f"/p/{pid}/items/{item}")
            assert page.status_code == 200
            # nobody sees another's label: the page names no other annotator and shows no 'done' counts
            assert not any(other in page.text for other in clients if other != a)
            seen[a].append(item)
            label = ("positive", "negative", "neutral")[item % 3] if a != "ann01" else "neutral"
            r = c.label(pid, item, label, comment=f"by {a}")
            assert r.status_code == 303, r.text
    per_item = Counter(i for items in seen.values() for i in items)
    assert set(per_item.values()) == {2} and len(per_item) == 12
    assert all(len(set(v)) == len(v) for v in seen.values())  # never the same item twice
    # the first two annotators took every item; the others got nothing (overlap reached)
    assert len(seen["ann00"]) == len(seen["ann01"]) == 12 and seen["ann02"] == seen["ann03"] == []
    with studio.sf() as s:
        assert s.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.project_id == pid, Assignment.status == "done")) == 24
        # the database agrees: counters equal rows
        for it in s.scalars(select(Item).where(Item.project_id == pid)):
            assert it.n_done == it.n_assigned == 2


def test_skip_frees_the_slot_and_undo_reopens(studio):
    pid = studio.projects["undo"]
    a, b = studio.client("ann00"), studio.client("ann01")
    first = a.next_item(pid)
    r = a.post(f"/p/{pid}/items/{first}/skip")
    assert r.status_code == 303
    second = a.next_item(pid)
    assert second != first
    assert a.label(pid, second, "negative").status_code == 303
    # undo: the labelled item comes back open, its annotation withdrawn
    r = a.post(f"/p/{pid}/undo")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/items/{second}")
    with studio.sf() as s:
        row = s.scalars(select(Assignment).where(Assignment.item_id == second)).one()
        assert (row.status, row.label) == ("assigned", None)
        assert s.get(Item, second).n_done == 0
    assert a.next_item(pid) == second
    assert a.label(pid, second, "positive").status_code == 303
    # the skipped item went to the next person (overlap 2 → ann01 may take it); ann00 never gets it again
    got = []
    while (it := a.next_item(pid)) is not None:
        got.append(it)
        a.label(pid, it, "neutral")
    assert first not in got
    assert b.next_item(pid) == first
    # submitting twice counts once
    assert b.label(pid, first, "positive").status_code == 303
    assert b.label(pid, first, "negative").status_code == 404
    with studio.sf() as s:
        assert s.get(Item, first).n_done == 1
        assert s.scalars(select(Assignment.label).where(Assignment.item_id == first,
                                                        Assignment.status == "done")).all() == ["positive"]


def test_twenty_annotators_at_once(studio):
    """20 concurrent clients: no item beyond its overlap, no lost or duplicated annotation."""
    pid = studio.projects["conc"]
    overlap, n_items = 2, 30

    def work(name: str) -> list[int]:
        c = studio.client(name)
        done = []
        while (item := c.next_item(pid)) is not None:
            r = c.label(pid, item, ("positive", "negative", "neutral")[(item + len(done)) % 3])
            assert r.status_code == 303, (r.status_code, r.text[:300])
            done.append(item)
        return done

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(work, ANNOTATORS))
    submitted = [i for r in results for i in r]
    assert len(submitted) == overlap * n_items
    per_item = Counter(submitted)
    assert max(per_item.values()) == overlap and len(per_item) == n_items
    with studio.sf() as s:
        rows = s.execute(select(Assignment.item_id, Assignment.user_id, Assignment.status)
                         .where(Assignment.project_id == pid)).all()
        assert len(rows) == len(submitted) and all(st == "done" for *_, st in rows)
        assert len({(i, u) for i, u, _ in rows}) == len(rows)
        for it in s.scalars(select(Item).where(Item.project_id == pid)):
            assert it.n_assigned == it.n_done == overlap
