"""The long-input policy on real long documents (CCNet pages from shared data) with the default tokenizer."""

from __future__ import annotations

import json

import pytest

from tuneprep.models.longinput import apply_policy


@pytest.fixture(scope="module")
def docs(shared_data):
    with open(shared_data / "dolma_cc" / "cc_en_head-0091.jsonl") as fh:
        return [json.loads(line)["text"] for line in fh]


def _n_tokens(tok, text):
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_truncate_end_keeps_the_first_tokens_and_counts_what_was_cut(tok, docs):
    n = [_n_tokens(tok, d) for d in docs]
    pieces, owner, st = apply_policy(tok, docs, max_tokens=300, truncate="end")
    assert owner == list(range(len(docs)))
    long = [i for i, k in enumerate(n) if k > 300]
    assert long and st.truncated == len(long) and st.chunked == 0
    assert st.tokens_cut == sum(n[i] - 300 for i in long)
    assert st.tokens_cut_max == max(n) - 300 and st.max_text_tokens == max(n)
    for i in long:
        assert docs[i].startswith(pieces[i]) and abs(_n_tokens(tok, pieces[i]) - 300) <= 2
    assert all(pieces[i] == docs[i] for i in range(len(docs)) if i not in long)


def test_truncate_start_keeps_the_last_tokens(tok, docs):
    pieces, _, st = apply_policy(tok, docs, max_tokens=300, truncate="start")
    assert st.truncate == "start"
    for d, p in zip(docs, pieces):
        assert d.endswith(p)
    assert any(p != d for d, p in zip(docs, pieces))


def test_chunk_splits_without_losing_text(tok, docs):
    pieces, owner, st = apply_policy(tok, docs, max_tokens=256, chunk=True)
    assert st.truncated == 0 and st.tokens_cut == 0 and st.chunked > 0
    for i, d in enumerate(docs):
        mine = [p for p, o in zip(pieces, owner) if o == i]
        assert "".join(mine) == d  # byte-level BPE: pieces decode back to the exact text
        assert all(_n_tokens(tok, p) <= 258 for p in mine)
    assert st.chunks == sum(1 for o in owner if owner.count(o) > 1)


def test_bad_policy_is_refused(tok, docs):
    with pytest.raises(ValueError, match="truncate"):
        apply_policy(tok, docs, max_tokens=10, truncate="middle")
    with pytest.raises(ValueError, match="max_tokens"):
        apply_policy(tok, docs, max_tokens=0)
