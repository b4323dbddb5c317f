"""Chat rendering and loss masking: exact trained token spans from message boundaries."""

from __future__ import annotations

import json

import pytest

from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.models.chat import answer_ids, encode_chat, encode_classification, prompt_ids
from tuneprep.models.prompt import ClassifyTemplate

pytestmark = pytest.mark.slow  # needs the converted smollm2 tokenizer


@pytest.fixture(scope="module")
def rt_rows(rt_path):
    rows = []
    with open(rt_path) as fh:
        for line in fh:
            r = json.loads(line)
            if r["text"].strip():
                rows.append(r)
            if len(rows) == 40:
                break
    return rows


def test_classification_trains_exactly_the_verbalizer_and_end_of_turn(tok, rt_rows):
    t = ClassifyTemplate(labels=SENTIMENT_LABELS)
    row = rt_rows[1]
    enc, truncated = encode_classification(tok, t, row["text"], row["label"], max_length=256)
    assert not truncated
    p = prompt_ids(tok, t.messages(row["text"]))
    # the prompt is a token prefix of the training sequence, and training starts right after it
    assert enc.input_ids[: len(p)] == p
    assert enc.spans == [(len(p), len(p) + 2)]
    s, e = enc.spans[0]
    assert tok.decode(enc.input_ids[s:e]) == row["label"] + "<|im_end|>"
    assert enc.input_ids[s:e] == answer_ids(tok, t, row["label"]) + [tok.eos_token_id]
    assert len(enc.input_ids) == e  # nothing after the end-of-turn token is kept
    assert all(x == -100 for x in enc.labels[:s])
    assert enc.labels[s:e] == enc.input_ids[s:e]


def test_multi_turn_spans_cover_each_assistant_turn(tok):
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": "I am Vicuna, a language model."},
            {"role": "user", "content": "What is up?"},
            {"role": "assistant", "content": "Hello! How can I help you today?"}]
    enc = encode_chat(tok, msgs)
    assert [tok.decode(enc.input_ids[s:e]) for s, e in enc.spans] == [
        "I am Vicuna, a language model.<|im_end|>", "Hello! How can I help you today?<|im_end|>"]
    trained = [i for i, x in enumerate(enc.labels) if x != -100]
    assert trained == [i for s, e in enc.spans for i in range(s, e)]
    last = encode_chat(tok, msgs, train_on="last_assistant")
    assert last.spans == enc.spans[-1:]


def test_long_text_is_cut_inside_the_template_and_the_answer_kept(tok, rt_rows):
    t = ClassifyTemplate(labels=SENTIMENT_LABELS)
    long_row = max(rt_rows, key=lambda r: len(r["text"]))
    enc, truncated = encode_classification(tok, t, long_row["text"], long_row["label"], max_length=64)
    assert truncated and len(enc.input_ids) <= 64
    s, e = enc.spans[0]
    assert tok.decode(enc.input_ids[s:e]) == long_row["label"] + "<|im_end|>"
    assert "Answer with one word." in tok.decode(enc.input_ids)
