"""Operators on real data: each keeps, changes or drops records for a stated reason."""

from __future__ import annotations

import gzip
import json

import pytest

from tuneprep.ops import Drop, Item, build_op


def apply(op_name: str, record: dict, **params):
    op = build_op(op_name, params)
    op.setup()
    return op.apply(record)


def test_unicode_fixes_mojibake_and_keeps_clean_text():
    assert apply("clean.unicode", {"text": "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows."})["text"] == \
        "The Mona Lisa doesn\u2019t have eyebrows."
    clean = "plain text stays exactly as it is."
    assert apply("clean.unicode", {"text": clean})["text"] == clean
    msgs = apply("clean.unicode", {"messages": [{"role": "user", "content": "cafÃ©"}]})["messages"]
    assert msgs[0]["content"] == "café"


def test_whitespace_normalises_runs_and_blank_lines():
    rec = apply("clean.whitespace", {"text": "a\t\tb \u00a0c\r\n\r\n \r\n\r\nd\u200b e  "})
    assert rec["text"] == "a b c\n\nd e"
    # Indentation is structure (code, lists): kept by default, trimmed on request.
    code = "def f(x):\n    if x:   \n        return  1\n\n\n\n    return 0"
    assert apply("clean.whitespace", {"text": code})["text"] == "def f(x):\n    if x:\n        return 1\n\n    return 0"
    assert apply("clean.whitespace", {"text": code}, keep_indent=False)["text"] == "def f(x):\nif x:\nreturn 1\n\nreturn 0"
    rec = apply("clean.whitespace", {"text": "a\n\nb"}, keep_newlines=False)
    assert rec["text"] == "a b"


def warc_html_pages(path) -> list[str]:
    """HTML payloads of the response records of a WARC file (minimal parser, enough for a fixture)."""
    data = gzip.open(path).read()
    pages = []
    for chunk in data.split(b"WARC/1.0\r\n")[1:]:
        head, _, body = chunk.partition(b"\r\n\r\n")
        if b"WARC-Type: response" in head:
            _, _, html = body.partition(b"\r\n\r\n")
            pages.append(html.decode("utf-8", "replace"))
    return pages


def test_strip_html_extracts_main_text_from_real_pages(shared_data):
    pages = warc_html_pages(shared_data / "dolma_cc" / "sample-0000.warc.gz")
    assert len(pages) == 22
    op = build_op("clean.strip_html", {})
    op.setup()
    kept = dropped = 0
    for html in pages:
        res = op.apply({"text": html})
        if isinstance(res, Drop):
            assert res.reason in ("no_main_content", "empty_after_html")
            dropped += 1
        else:
            kept += 1
            assert "<div" not in res["text"] and "<script" not in res["text"]
            assert len(res["text"]) < len(html)
    assert kept >= 15


def test_strip_html_fragment_mode():
    rec = apply("clean.strip_html", {"text": "<p>Great <b>film</b> &amp; cast</p><script>x()</script>"})
    assert rec["text"] == "Great film & cast"


def test_length_filter_reasons_and_scores():
    res = apply("filter.length", {"text": "too short"}, min_words=3)
    assert isinstance(res, Drop) and res.reason == "too_few_words" and res.detail == {"words": 2, "min_words": 3}
    rec = apply("filter.length", {"text": "long enough text here"}, min_words=3, max_chars=100)
    assert rec["meta"]["scores"]["filter.length"] == {"chars": 21, "words": 4}
    with pytest.raises(ValueError, match="greater than"):
        build_op("filter.length", {"min_words": 5, "max_words": 2})


def test_fields_filter():
    op = build_op("filter.fields", {"required": ["label"], "drop_regex": {"text": r"(?i)lorem ipsum"},
                                    "allowed_values": {"label": ["positive", "negative"]}})
    op.setup()
    assert op.apply({"text": "x"}).reason == "missing_field"
    assert op.apply({"text": "x", "label": "meh"}).reason == "value_not_allowed"
    assert op.apply({"text": "Lorem Ipsum dolor", "label": "positive"}).reason == "drop_match"
    assert op.apply({"text": "fine", "label": "negative"}) == {"text": "fine", "label": "negative"}


def test_exact_dedup_on_real_sharegpt(shared_data):
    rows = json.loads((shared_data / "sharegpt_500.json").read_text())
    items = [Item(f"sharegpt_500.json:{i + 1}", {"id": r["id"], "text": r["conversations"][0]["value"]})
             for i, r in enumerate(rows)]
    op = build_op("dedup.exact", {})
    op.setup()
    outcomes = list(op.apply_global(lambda: iter(items)))
    kept = [it for it, drop in outcomes if drop is None]
    assert len(outcomes) == 500
    assert len(kept) == 52  # the data README: 52 distinct first human turns
    survivors = {it.record["id"] for it in kept}
    assert all(d.detail["duplicate_of"] in survivors for _, d in outcomes if d is not None)


def test_sample_is_seeded_and_exact():
    items = [Item(str(i), {"id": f"r{i}"}) for i in range(1000)]
    op = build_op("select.sample", {"n": 100, "seed": 3})
    a = [it.record["id"] for it, d in op.apply_global(lambda: iter(items)) if d is None]
    b = [it.record["id"] for it, d in op.apply_global(lambda: iter(items)) if d is None]
    assert len(a) == 100 and a == b
    op2 = build_op("select.sample", {"n": 100, "seed": 4})
    assert [it.record["id"] for it, d in op2.apply_global(lambda: iter(items)) if d is None] != a
    frac = build_op("select.sample", {"fraction": 0.3, "seed": 0})
    n = sum(d is None for _, d in frac.apply_global(lambda: iter(items)))
    assert 240 < n < 360
