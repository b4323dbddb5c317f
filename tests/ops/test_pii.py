"""clean.pii on Presidio's labelled evaluation set (PyPI presidio-evaluator sdist): the meta.pii contract and
every action. Loads the spaCy NER model once (slow)."""

from __future__ import annotations

import re

import pytest

from tuneprep.ops import Drop, build_op
from tuneprep.screen_data import presidio_synth

pytestmark = pytest.mark.slow
PATTERN = {"EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"}


@pytest.fixture(scope="module")
def tagger():
    op = build_op("clean.pii", {"action": "tag"})
    op.setup()
    return op


def _like(tagger, **params):
    """Another clean.pii op sharing the loaded analyzer (one model load for the whole module)."""
    op = build_op("clean.pii", params)
    op._analyzer, op._engine = tagger._analyzer, tagger._engine
    return op


@pytest.fixture(scope="module")
def data():
    rows = presidio_synth()
    with_pattern = [r for r in rows if any(s["type"] in PATTERN for s in r["spans"])][:60]
    return with_pattern


def test_tag_writes_contract_spans_that_match_the_labels(tagger, data):
    recs = [{"text": r["text"]} for r in data]
    out = tagger.apply_batch(recs)
    hits = gold = 0
    for r, o in zip(data, out):
        assert o["text"] == r["text"]  # tag leaves the text unchanged
        for s in o["meta"]["pii"]:
            assert set(s) == {"start", "end", "type", "score"} and 0 <= s["start"] < s["end"] <= len(r["text"])
        found = {(s["start"], s["end"], s["type"]) for s in o["meta"]["pii"]}
        for g in r["spans"]:
            if g["type"] in PATTERN:
                gold += 1
                hits += (g["start"], g["end"], g["type"]) in found
        assert o["meta"]["scores"]["clean.pii"]["count"] == len(o["meta"]["pii"])
        for s in o["meta"]["pii"]:  # NER spans are trimmed to the entity (tidy_ner_span)
            value = r["text"][s["start"]:s["end"]]
            assert value == value.strip() and "\n" not in value and not value.endswith("'s"), (s["type"], value)
    assert gold >= 60 and hits / gold >= 0.95  # exact boundaries, card and phone formats of many countries


def test_ner_spans_are_trimmed_to_the_name(tagger):
    text = "Bryan Maclean's killers sentenced. Mrs. Barbara Yudina called.\nName: Victoria Bruun\nPhone: (72) 754-186"
    names = {text[s["start"]:s["end"]] for s in tagger.find(text) if s["type"] == "PERSON"}
    assert not any(n.endswith("'s") or "\n" in n or n.startswith("Mrs") for n in names), names
    assert "Bryan Maclean" in names


def test_redact_mask_hash_drop_and_allow(tagger, data):
    email_row = next(r for r in data if any(s["type"] == "EMAIL_ADDRESS" for s in r["spans"]))
    g = next(s for s in email_row["spans"] if s["type"] == "EMAIL_ADDRESS")
    email = email_row["text"][g["start"]:g["end"]]
    text = email_row["text"]

    red = _like(tagger, action="redact").apply_batch([{"text": text}])[0]["text"]
    assert email not in red and "<EMAIL_ADDRESS>" in red
    masked = _like(tagger, action="mask").apply_batch([{"text": text}])[0]["text"]
    assert len(masked) == len(text) and email not in masked and "*" * len(email) in masked

    hasher = _like(tagger, action="hash", salt="test-salt")
    chat = {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": f"Noted: {email}"}]}
    h = hasher.apply_batch([json_copy(chat)])[0]["messages"]
    tok = re.findall(r"<EMAIL_ADDRESS_[0-9a-f]{12}>", h[0]["content"])
    assert tok and tok[0] in h[1]["content"]  # same value, same token: joins survive
    other = _like(tagger, action="hash", salt="other-salt").apply_batch([{"text": text}])[0]["text"]
    assert tok[0] not in other  # the salt matters

    tagged = _like(tagger, action="tag").apply_batch([json_copy(chat)])[0]
    assert {s["message"] for s in tagged["meta"]["pii"]} == {0, 1}
    assert any(s["type"] == "EMAIL_ADDRESS" and s["message"] == 1 for s in tagged["meta"]["pii"])

    dropped = _like(tagger, action="drop").apply_batch([{"text": text}, {"text": "What are my options?"}])
    assert isinstance(dropped[0], Drop) and dropped[0].reason == "pii" and "EMAIL_ADDRESS" in dropped[0].detail["types"]
    assert not isinstance(dropped[1], Drop)

    allowed = _like(tagger, action="redact", allow=[email]).apply_batch([{"text": text}])[0]["text"]
    assert email in allowed


def test_user_patterns_and_pattern_only_mode(tagger):
    op = _like(tagger, action="redact", patterns={"TICKET_ID": r"\bTCK-\d{6}\b"},
               entities=["TICKET_ID", "EMAIL_ADDRESS"])
    op._analyzer = None  # its own registry (the user pattern), same model package
    op.setup()
    out = op.apply_batch([{"text": "Ticket TCK-123456 from ana@example.org"}])[0]["text"]
    assert out == "Ticket <TICKET_ID> from <EMAIL_ADDRESS>"
    with pytest.raises(ValueError, match="UPPER_SNAKE_CASE"):
        build_op("clean.pii", {"patterns": {"ticket": "x"}})


def json_copy(x):
    import json

    return json.loads(json.dumps(x))
