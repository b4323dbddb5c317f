"""Length policies: drop / truncate / error, with counts per reason; no-trainable-token rejects."""

from __future__ import annotations

import pytest

from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.train.data import Example, TrainDataError
from tuneprep.train.formatting import format_examples

pytestmark = pytest.mark.slow  # needs the converted smollm2 tokenizer


@pytest.fixture(scope="module")
def tok():
    from tuneprep.models.registry import load_tokenizer

    return load_tokenizer("smollm2-135m")


def _chat(i, user_words, answer):
    return Example(f"c{i}", f"f:{i}", messages=[{"role": "user", "content": " ".join(["word"] * user_words)},
                                              {"role": "assistant", "content": answer}])


def test_sft_policies(tok):
    exs = [_chat(0, 5, "short answer"), _chat(1, 200, "an answer after a long prompt")]
    kept = format_examples(exs, tok, task="sft", template=None, max_length=64, length_policy="drop")
    assert kept.ids == ["c0"] and kept.counts()["rejected"] == {"too_long": 1}
    # truncation at 64 tokens cuts off the whole answer of c1: nothing left to train on
    cut = format_examples(exs, tok, task="sft", template=None, max_length=64, length_policy="truncate")
    assert cut.ids == ["c0"]
    assert cut.rejects[0]["id"] == "c1" and cut.rejects[0]["reason"] == "no_trainable_tokens"
    assert "after truncation" in cut.rejects[0]["detail"]
    with pytest.raises(TrainDataError, match=r"f:1 id=c1: \d+ tokens > max_length 64"):
        format_examples(exs, tok, task="sft", template=None, max_length=64, length_policy="error")


def test_classify_truncates_inside_the_text(tok):
    t = ClassifyTemplate(labels=["a", "b"])
    exs = [Example("x", "f:1", text="long " * 300, label="b"), Example("y", "f:2", text="short", label="a")]
    out = format_examples(exs, tok, task="classify", template=t, max_length=80, length_policy="truncate")
    assert out.ids == ["x", "y"] and out.truncated == 1
    assert max(len(x) for x in out.input_ids) <= 80
    dropped = format_examples(exs, tok, task="classify", template=t, max_length=80, length_policy="drop")
    assert dropped.ids == ["y"] and dropped.counts()["rejected"] == {"too_long": 1}
