"""filter.quality on real text: the same decisions as datatrove's filters, presets, overrides, chat records."""

from __future__ import annotations

import gzip
import json

import pytest

from tuneprep.io.converters import convert_row
from tuneprep.ops import Drop, build_op
from tuneprep.ops.quality import FilterQuality


def _web_docs(shared) -> list[str]:
    """20 real Common Crawl documents (dolma test data) + 150 Alpaca records as plain text."""
    docs = [json.loads(line)["text"] for line in (shared / "dolma_cc" / "cc_en_head-0091.jsonl").open()]
    with gzip.open(shared / "dolma_cc" / "000.json.gz", "rt") as fh:
        docs += [json.loads(line)["text"] for line in fh]
    alpaca = json.loads((shared / "alpaca_cleaned_1000.json").read_text())[:150]
    docs += [f"{r['instruction']}\n\n{r['input']}\n\n{r['output']}" for r in alpaca]
    return docs


def _datatrove_verdicts(docs: list[str]) -> list[str | None]:
    pytest.importorskip("datatrove")
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), FineWebQualityFilter(), C4QualityFilter()]
    out = []
    for i, text in enumerate(docs):
        doc, reason = Document(text=text, id=str(i)), None
        for f in filters:
            v = f.filter(doc)
            if v is not True:
                reason = v[1]
                break
        out.append(reason)
    return out


def test_same_decisions_and_reasons_as_datatrove_on_real_text(shared_data):
    from benchmarks.quality_vs_datatrove import REASONS

    docs = _web_docs(shared_data)
    op = build_op("filter.quality", {"preset": "web"})
    op.setup()
    ours = []
    for text in docs:
        rec = {"text": text}
        r = op.apply(rec)
        ours.append(r.reason if isinstance(r, Drop) else None)
        # every measure is kept, kept or not, so thresholds can be re-tuned without recomputing
        assert set(rec["meta"]["scores"]["filter.quality"]) == {"gopher_repetition", "gopher_quality", "fineweb", "c4"}
    theirs = _datatrove_verdicts(docs)
    assert ours == [REASONS[t] if t else None for t in theirs]
    early = build_op("filter.quality", {"preset": "web", "scores": "until_drop"})
    early.setup()
    assert [r.reason if isinstance(r := early.apply({"text": t}), Drop) else None for t in docs] == ours
    # the op did something: web thresholds keep some and drop many of these documents
    assert 0 < ours.count(None) < len(docs) - 50


def test_punctuation_copies_equal_datatrove():
    pytest.importorskip("datatrove")
    from datatrove.utils.text import PUNCTUATION, TERMINAL_PUNCTUATION

    from tuneprep.ops import _punctuation as p

    assert p.PUNCTUATION == PUNCTUATION and p.TERMINAL_PUNCTUATION == frozenset(TERMINAL_PUNCTUATION)


def test_sentence_count_fast_path_equals_spacy_sentencizer(shared_data):
    op = FilterQuality(preset="c4")
    op.setup()
    lines = [ln.strip() for text in _web_docs(shared_data) for ln in text.splitlines() if ln.strip()]
    fast = 0
    for line in lines:
        slow = sum(1 for _ in op._sentencizer(op._tokenizer(line)).sents)
        assert op.count_sentences(line) == slow, line
        fast += op._punct_chars.isdisjoint(line.rstrip("\"')]}.!?…”’»"))
    assert fast > len(lines) // 3  # the fast path is actually taken


def test_sft_preset_keeps_short_good_answers_that_web_presets_drop(shared_data):
    alpaca = json.loads((shared_data / "alpaca_cleaned_1000.json").read_text())[:200]
    recs = [convert_row(r, "alpaca") for r in alpaca]
    dropped = {}
    for preset in ("sft", "gopher", "c4"):
        op = build_op("filter.quality", {"preset": preset})
        op.setup()
        dropped[preset] = sum(isinstance(op.apply(json.loads(json.dumps(r))), Drop) for r in recs)
    assert dropped["sft"] < 0.05 * len(recs) < 0.4 * len(recs) < min(dropped["gopher"], dropped["c4"])
    capital = next(r for r in recs if r["messages"][0]["content"] == "What is the capital of France?")
    gopher = build_op("filter.quality", {"preset": "gopher"})
    gopher.setup()
    d = gopher.apply(json.loads(json.dumps(capital)))
    # first reason in rule order (repetition before quality, as datatrove), the others listed too
    assert isinstance(d, Drop) and d.reason == "gopher_repetition.max_top_2_gram_char_frac"
    assert d.detail["value"] > d.detail["max"] == 0.2 and "gopher_quality.min_words" in d.detail["also"]
    sft = build_op("filter.quality", {"preset": "sft"})
    sft.setup()
    assert not isinstance(sft.apply(json.loads(json.dumps(capital))), Drop)


def test_rules_switch_and_retune():
    text = "What is the capital of France?\n\nThe capital city of France is Paris."
    d = build_op("filter.quality", {"preset": "gopher"}).apply({"text": text})
    assert "gopher_quality.min_words" in [d.reason, *d.detail["also"]]
    d = build_op("filter.quality", {"preset": "gopher", "rules": {"gopher_quality.min_words": 5}}).apply({"text": text})
    assert "gopher_quality.min_words" not in [d.reason, *d.detail.get("also", [])]
    off = {k: None for k in ("gopher_quality.min_words", "gopher_quality.min_stop_words",
                             "gopher_quality.min_alpha_words")}
    off.update({f"gopher_repetition.max_top_{n}_gram_char_frac": False for n in (2, 3, 4)})
    assert not isinstance(build_op("filter.quality", {"preset": "gopher", "rules": off}).apply({"text": text}), Drop)
    with pytest.raises(ValueError, match="unknown quality rule.*did you mean gopher_quality.min_words"):
        build_op("filter.quality", {"rules": {"gopher_quality.min_word": 3}})


def test_chat_records_judged_on_chosen_roles(shared_data):
    conv = json.loads((shared_data / "sharegpt_500.json").read_text())[0]
    rec = convert_row(conv, "sharegpt")
    op = build_op("filter.quality", {"preset": "gopher"})
    op.setup()
    text = op.text_of(rec)
    assert text == "\n\n".join(m["content"] for m in rec["messages"] if m["role"] in ("user", "assistant"))
    out = op.apply(rec)
    assert isinstance(out, Drop)
    words = rec["meta"]["scores"]["filter.quality"]["gopher_quality"]["words"]
    assert words < 50 and "gopher_quality.min_words" in [out.reason, *out.detail.get("also", [])]
    only_user = build_op("filter.quality", {"preset": "gopher", "roles": ["user"]})
    assert only_user.text_of(rec) == "\n\n".join(m["content"] for m in rec["messages"] if m["role"] == "user")
    assert isinstance(build_op("filter.quality", {}).apply({"text": "  \n"}), Drop)
