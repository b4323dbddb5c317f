"""The studio in a real browser (Playwright driving Debian's Chromium): label ten items with the
keyboard, undo, skip, review a disagreement, export; XSS payloads run nothing.

The README's screenshots (docs/studio.png, docs/studio-project.png) are rewritten when
TUNEPREP_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.studio.kit import build_studio, rt_records
from tuneprep.studio.db import Adjudication, Assignment, User
from tuneprep.studio.projects import add_members

REPO = Path(__file__).resolve().parents[2]
XSS = ['<img src=x onerror="alert(1);document.title=\'pwned\'">',
       "<script>alert(1);document.title='pwned'</script>"]
KEYS = ["1", "2", "3", "1", "2", "3", "1", "2", "3", "1"]
LABELS = ["positive", "negative", "neutral"]


@pytest.fixture(scope="module")
def browser():
    pw_api = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (make system-deps installs Debian's chromium)")
    with pw_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True,
                              args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield b
        b.close()


@pytest.fixture(scope="module")
def studio(rt_path, tmp_path_factory):
    recs = rt_records(rt_path, 12)
    xss = [{"id": f"xss-{i}", "text": t} for i, t in enumerate(XSS)]
    s = build_studio(f"sqlite:///{tmp_path_factory.mktemp('web') / 'studio.db'}", tmp_path_factory.mktemp("w"),
                     recs, ["ann0", "ann1"], overlap=2,
                     guidelines="Label the critic's **tone**: positive, negative or neutral (plot summaries).\n"
                                "<script>alert(1)</script>",
                     extra_projects={"xss": xss})
    add_members(s.sf, "xss", ["ann0"])
    yield s
    s.stop()


def login(browser, studio, name):
    ctx = browser.new_context(base_url=studio.url, viewport={"width": 1100, "height": 760}, accept_downloads=True)
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", studio.passwords[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{studio.url}/")
    page.dialogs = dialogs
    return page


def press(page, key):
    before = page.url
    with page.expect_navigation():
        page.keyboard.press(key)
    return before


def item_of(page) -> int:
    return int(page.locator("#item").get_attribute("data-item"))


def test_label_undo_skip_review_export(browser, studio, tmp_path):
    pid = studio.projects["main"]
    ann0 = login(browser, studio, "ann0")
    ann0.goto(f"/p/{pid}/next")
    order = []
    for n, key in enumerate(KEYS):
        order.append(item_of(ann0))
        assert ann0.locator("#text").inner_text().strip()  # a real snippet is on screen
        if n == 4 and os.environ.get("TUNEPREP_UPDATE_SCREENSHOTS"):
            ann0.screenshot(path=str(REPO / "docs" / "studio.png"))
        ann0.screenshot(path=str(tmp_path / "labelling.png"))
        press(ann0, key)
    assert ann0.locator("#done-count").inner_text() == "10"
    # u: the last label is withdrawn and its item comes back; relabel it with 3
    press(ann0, "u")
    assert item_of(ann0) == order[-1] and ann0.locator("#done-count").inner_text() == "9"
    press(ann0, "3")
    # s: skip the next one
    skipped = item_of(ann0)
    press(ann0, "s")
    assert item_of(ann0) != skipped and ann0.locator("#skip-count").inner_text() == "1"
    # typing in the comment box does not trigger shortcuts
    ann0.fill("textarea[name=comment]", "1 2 3 s u")
    assert ann0.locator("#done-count").inner_text() == "10"
    with studio.sf() as s:
        uid = s.scalar(select(User.id).where(User.name == "ann0"))
        rows = {a.item_id: a for a in s.scalars(select(Assignment).where(Assignment.user_id == uid))}
    mine = [LABELS[int(k) - 1] for k in KEYS[:-1]] + ["neutral"]
    assert [rows[i].label for i in order] == mine and all(rows[i].status == "done" for i in order)
    assert rows[skipped].status == "skipped"

    # ann1 labels the same ten items 'positive' with key 1: disagreements appear
    ann1 = login(browser, studio, "ann1")
    ann1.goto(f"/p/{pid}/next")
    for _ in range(10):
        press(ann1, "1")
    disagreements = sum(lab != "positive" for lab in mine)

    # the reviewer sees the disagreements with both labels and adjudicates one with the keyboard
    rev = login(browser, studio, "rev")
    rev.goto(f"/p/{pid}")
    assert rev.locator("#review-link").inner_text().startswith(f"{disagreements} disagreement")
    assert rev.locator("#agreement").is_visible()
    rev.goto(f"/p/{pid}/review")
    assert rev.locator("#queue tr").count() == disagreements
    with rev.expect_navigation():
        rev.locator("#queue a").first.click()
    target = int(rev.url.rsplit("/", 1)[1])
    labels_table = rev.locator("#labels").inner_text()
    assert "ann0" in labels_table and "ann1" in labels_table
    press(rev, "2")
    assert rev.locator("#queue tr").count() == disagreements - 1
    with studio.sf() as s:
        assert s.get(Adjudication, target).label == "negative"

    # export from the project page: a real download, every record, every annotation
    rev.goto(f"/p/{pid}")
    if os.environ.get("TUNEPREP_UPDATE_SCREENSHOTS"):
        rev.screenshot(path=str(REPO / "docs" / "studio-project.png"), full_page=True)
    with rev.expect_download() as dl:
        rev.click("#export-link")
    path = tmp_path / "export.jsonl"
    dl.value.save_as(path)
    recs = [json.loads(line) for line in path.open()]
    assert len(recs) == 12
    assert sum(len(r["meta"]["annotations"]) for r in recs) == 20
    by_id = {r["id"]: r for r in recs}
    with studio.sf() as s:
        from tuneprep.studio.db import Item

        ext = s.get(Item, target).ext_id
    assert by_id[ext]["label"] == "negative" and by_id[ext]["meta"]["studio"]["final_source"] == "adjudicated"
    for page in (ann0, ann1, rev):
        assert page.dialogs == []
        page.context.close()


def test_xss_payloads_render_as_text_and_run_nothing(browser, studio):
    pid = studio.projects["xss"]
    page = login(browser, studio, "ann0")
    for expected in XSS:
        page.goto(f"/p/{pid}/next")
        assert page.locator("#text").inner_text() == expected  # shown verbatim, as text
        assert page.locator("#text img, #text script").count() == 0
        assert page.title() != "pwned" and page.dialogs == []
        press(page, "1")
    page.goto(f"/p/{studio.projects['main']}")  # its guidelines carry a <script> too
    assert "<script>alert(1)</script>" in page.locator("#guidelines").inner_text()
    assert page.locator("#guidelines strong").inner_text() == "tone"  # Markdown still renders
    # the CSP is enforced by the browser: an inline script injected into the DOM does not run
    ran = page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.__ran = 1'; document.body.appendChild(s); return window.__ran === 1; }""")
    assert ran is False
    assert page.dialogs == [] and page.title() != "pwned"
    page.context.close()
