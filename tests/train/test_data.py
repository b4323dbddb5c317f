"""Bad training data stops training with clear errors that name each record (file:line id=...)."""

from __future__ import annotations

import json

import pytest

from tuneprep.train.data import TrainDataError, read_examples, resolve_data, subsample


def _write(tmp_path, rows, name="d.jsonl"):
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return p


def test_sft_errors_name_every_bad_record(tmp_path):
    p = _write(tmp_path, [
        {"id": "ok", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"id": "empty", "messages": []},
        {"id": "role", "messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "x"}]},
        {"id": "noasst", "messages": [{"role": "user", "content": "hi"}]},
        {"id": "nofield", "foo": 1},
        "{not json",
    ])
    with pytest.raises(TrainDataError) as ei:
        read_examples([p], "sft")
    msg = str(ei.value)
    assert "5 bad training record(s)" in msg
    assert f"{p}:2 id=empty: field 'messages' must be a non-empty list" in msg
    assert f"{p}:3 id=role: messages[0].role is 'human'" in msg
    assert f"{p}:4 id=noasst: no assistant message" in msg
    assert f"{p}:5 id=nofield: no 'messages' field" in msg
    assert f"{p}:6: invalid JSON" in msg
    assert len(ei.value.problems) == 5


def test_classify_errors_missing_and_unknown_labels(tmp_path):
    p = _write(tmp_path, [
        {"id": "a", "text": "fine", "label": "positive"},
        {"id": "b", "text": "no label here"},
        {"id": "c", "text": "odd", "label": "mixed"},
        {"id": "d", "label": "positive"},
    ])
    with pytest.raises(TrainDataError) as ei:
        read_examples([p], "classify", ["positive", "negative"])
    msg = str(ei.value)
    assert f"{p}:2 id=b: field 'label' is missing" in msg
    assert f"{p}:3 id=c: unknown label 'mixed' (labels: positive, negative)" in msg
    assert f"{p}:4 id=d: field 'text' is missing" in msg


def test_empty_text_is_a_counted_reject_not_a_silent_drop(tmp_path):
    p = _write(tmp_path, [{"id": "a", "text": "good", "label": "x"}, {"id": "b", "text": "  ", "label": "y"}])
    rejects: list = []
    ex = read_examples([p], "classify", None, rejects)
    assert [e.id for e in ex] == ["a"]
    assert rejects == [{"id": "b", "source": f"{p}:2", "reason": "empty_text", "detail": "field 'text' is empty"}]


def test_other_chat_styles_convert_to_messages(shared_data):
    ex = read_examples([shared_data / "sharegpt_500.json"], "sft")
    assert len(ex) == 500 and ex[0].messages[0]["role"] == "user"
    ex = read_examples([shared_data / "alpaca_cleaned_1000.json"], "sft")
    assert len(ex) == 1000 and [m["role"] for m in ex[0].messages] == ["user", "assistant"]


def test_resolve_run_dir_and_subsample(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    _write(tmp_path / "train", [{"text": "a", "label": "x"}], "part-0.jsonl")
    _write(tmp_path / "val", [{"text": "b", "label": "x"}], "part-0.jsonl")
    src = resolve_data(tmp_path)
    assert [f.name for f in src.train_files] == ["part-0.jsonl"] and len(src.val_files) == 1
    fp = src.fingerprint()
    assert fp["manifest_sha256"] is None and len(next(iter(fp["train"].values()))) == 64
    with pytest.raises(TrainDataError, match="no such file"):
        resolve_data(tmp_path / "missing")
    items = list(range(100))
    from tuneprep.train.data import Example

    exs = [Example(str(i), "s") for i in items]
    a = subsample(exs, 10, 3)
    assert [e.id for e in a] == [e.id for e in subsample(exs, 10, 3)] and len(a) == 10
    assert [int(e.id) for e in a] == sorted(int(e.id) for e in a)
