"""Converters between OpenAI messages, ShareGPT, Alpaca and prompt/completion; convert_file; CLI."""

from __future__ import annotations

import collections
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tuneprep.cli import app
from tuneprep.datasets import shared_data_dir
from tuneprep.io.converters import (
    STYLES,
    convert,
    convert_file,
    convert_row,
    detect_style,
    from_messages,
    rejects_path_for,
)
from tuneprep.io.readers import InputError, read_rows
from tuneprep.records import RecordError


def shared(rel: str) -> Path:
    root = shared_data_dir()
    if root is None or not (root / rel).exists():
        pytest.skip(f"shared data absent: {rel}")
    return root / rel


def objs(path: Path) -> list:
    return [r.obj for r in read_rows(path)]


U, A, S = "user", "assistant", "system"


def m(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def test_detect_style() -> None:
    assert detect_style({"messages": []}) == "openai"
    assert detect_style({"conversations": []}) == "sharegpt"
    assert detect_style({"instruction": "a", "output": "b"}) == "alpaca"
    assert detect_style({"prompt": "a", "completion": "b"}) == "prompt_completion"
    assert detect_style({"text": "a"}) is None and detect_style([1]) is None


def test_alpaca_to_messages_keeps_other_keys() -> None:
    row = {"id": 7, "instruction": "Sum", "input": "1 2", "output": "3", "system": "Be brief.", "src": "x"}
    assert convert_row(row, "alpaca") == {
        "id": 7, "src": "x", "messages": [m(S, "Be brief."), m(U, "Sum\n\n1 2"), m(A, "3")]}
    assert convert_row({"instruction": "Hi", "output": "Hello"}, "alpaca")["messages"] == [m(U, "Hi"), m(A, "Hello")]
    assert convert_row({"instruction": "Hi", "input": "", "output": "x"}, "alpaca")["messages"][0] == m(U, "Hi")


def test_sharegpt_roles_system_and_variants() -> None:
    row = {"id": "c1", "system": "sys", "conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"},
        {"from": "user", "value": "q2"}, {"from": "assistant", "value": "a2"},
        {"role": "user", "content": "q3"}, {"from": "ChatGPT", "value": "a3"}]}
    out = convert_row(row, "sharegpt")
    assert out == {"id": "c1", "messages": [m(S, "sys"), m(U, "q"), m(A, "a"), m(U, "q2"), m(A, "a2"),
                                            m(U, "q3"), m(A, "a3")]}
    back = from_messages(out, "sharegpt")
    assert back["conversations"][0] == {"from": "system", "value": "sys"}
    assert [t["from"] for t in back["conversations"][1:]] == ["human", "gpt"] * 3


def test_prompt_completion_plain_and_conversational() -> None:
    assert convert_row({"prompt": "p", "completion": "c", "k": 1}, "prompt_completion") == {
        "k": 1, "messages": [m(U, "p"), m(A, "c")]}
    conv = {"prompt": [m(S, "s"), m(U, "p")], "completion": [m(A, "c")]}
    assert convert_row(conv, "prompt_completion")["messages"] == [m(S, "s"), m(U, "p"), m(A, "c")]
    assert from_messages({"messages": [m(U, "p"), m(A, "c")]}, "prompt_completion") == {"prompt": "p",
                                                                                        "completion": "c"}
    assert from_messages({"messages": conv["prompt"] + conv["completion"]}, "prompt_completion") == conv


@pytest.mark.parametrize("row,style,reason,field", [
    ({"instruction": "x"}, "alpaca", "missing_field", "output"),
    ({"instruction": "  ", "output": "y"}, "alpaca", "empty_field", "instruction"),
    ({"instruction": "x", "input": 3, "output": "y"}, "alpaca", "bad_type", "input"),
    ({"instruction": ["x"], "output": "y"}, "alpaca", "bad_type", "instruction"),
    ({"conversations": []}, "sharegpt", "bad_messages", "conversations"),
    ({"conversations": [{"from": "robot", "value": "x"}]}, "sharegpt", "bad_role", "conversations"),
    ({"conversations": [{"from": "human", "value": None}]}, "sharegpt", "bad_messages", "conversations"),
    ({"conversations": ["hi"]}, "sharegpt", "bad_messages", "conversations"),
    ({"conversations": [{"from": "human", "value": "x"}], "system": 5}, "sharegpt", "bad_type", "system"),
    ({"id": 1}, "sharegpt", "missing_field", "conversations"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "openai", "bad_role", "messages"),
    ({"messages": "hi"}, "openai", "bad_messages", "messages"),
    ({"prompt": "p"}, "prompt_completion", "missing_field", "completion"),
    ({"prompt": [{"role": "x"}], "completion": "c"}, "prompt_completion", "bad_role", "prompt"),
    ([1, 2], "alpaca", "not_an_object", None),
])
def test_bad_rows_raise_record_error_naming_the_field(row, style, reason, field) -> None:
    with pytest.raises(RecordError) as e:
        convert_row(row, style)
    assert e.value.reason == reason and e.value.field == field


def test_inexpressible_conversations() -> None:
    multi = {"messages": [m(U, "a"), m(A, "b"), m(U, "c"), m(A, "d")]}
    with pytest.raises(RecordError, match="user/assistant/user/assistant") as e:
        from_messages(multi, "alpaca")
    assert e.value.reason == "not_expressible" and e.value.field == "messages"
    with pytest.raises(RecordError, match="ends with an assistant turn"):
        from_messages({"messages": [m(U, "a")]}, "prompt_completion")
    with pytest.raises(RecordError, match="missing field 'messages'"):
        from_messages({"text": "x"}, "sharegpt")
    with pytest.raises(ValueError, match="unknown style 'chatml'"):
        convert_row({"messages": []}, "chatml")


def test_alpaca_real_round_trips() -> None:
    rows = objs(shared("alpaca_cleaned_1000.json"))
    for row in rows:
        rec = convert_row(row, "alpaca")
        assert rec["messages"][-1] == m(A, row["output"])
        back = from_messages(rec, "alpaca")
        if row["input"]:
            # The Alpaca prompt joins instruction and input; the join is not undone.
            assert back == {"instruction": row["instruction"] + "\n\n" + row["input"], "input": "",
                            "output": row["output"]}
        else:
            assert back == row
        # Through every style and back to messages: the conversation is unchanged.
        for style in STYLES:
            assert convert_row(from_messages(rec, style), style) == rec, style
    assert sum(not r["input"] for r in rows) == 591


def test_sharegpt_real_round_trips() -> None:
    rows = objs(shared("sharegpt_500.json"))
    turns = collections.Counter()
    for row in rows:
        rec = convert_row(row, "sharegpt")
        assert rec["id"] == row["id"] and "conversations" not in rec
        turns[len(rec["messages"])] += 1
        assert from_messages(rec, "sharegpt") == row  # exact: human/gpt, same order
        for style in ("openai", "prompt_completion"):
            assert convert(convert(row, "sharegpt", style), style, "sharegpt") == row
    assert turns == {2: 167, 4: 166, 6: 167}
    assert sum(m["role"] == U for r in rows for m in convert_row(r, "sharegpt")["messages"]) == 1000


def test_convert_file_real_sharegpt_to_alpaca_writes_rejects(tmp_path: Path) -> None:
    dst = tmp_path / "out.jsonl"
    res = convert_file(shared("sharegpt_500.json"), dst, None, "alpaca")
    assert (res.from_style, res.read, res.written, res.rejected) == ("sharegpt", 500, 167, 333)
    assert res.rejected_by_reason == {"not_expressible": 333}
    rejects = objs(Path(res.rejects_path))
    assert len(rejects) == 333 and rejects[0]["step"] == "convert" and rejects[0]["field"] == "messages"
    assert rejects[0]["source"].endswith("sharegpt_500.json:1") and rejects[0]["record"]["id"] == "identity_0"
    assert len(objs(dst)) == 167
    # A clean rerun into the same place removes the stale rejects file.
    res2 = convert_file(shared("sharegpt_500.json"), dst, "sharegpt", "openai")
    assert res2.rejected == 0 and res2.rejects_path is None and not rejects_path_for(dst).exists()


def test_convert_file_bad_rows_and_detection(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"note": "no style here"}\n{"instruction": "a", "output": "b"}\n{broken\n'
                    b'{"instruction": "c"}\n{"instruction": "d", "input": "e", "output": "f"}\n')
    res = convert_file(src, tmp_path / "out.parquet", to_style="sharegpt")
    assert (res.from_style, res.read, res.written, res.rejected) == ("alpaca", 5, 2, 3)
    assert res.rejected_by_reason == {"missing_field": 2, "parse_error": 1}
    rejects = objs(Path(res.rejects_path))
    assert [r["source"].rsplit(":", 1)[1] for r in rejects] == ["1", "3", "4"]
    assert rejects[1]["raw"] == "{broken" and rejects[2]["field"] == "output"
    out = objs(tmp_path / "out.parquet")
    assert out[1]["conversations"] == [{"from": "human", "value": "d\n\ne"}, {"from": "gpt", "value": "f"}]
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"text": "x"}\n')
    with pytest.raises(InputError, match="no row looks like any of"):
        convert_file(plain, tmp_path / "o.jsonl")


def test_convert_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in.json"
    src.write_text(orjson.dumps([{"instruction": "a", "output": "b"}, {"instruction": "c"}]).decode())
    dst = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), str(dst), "--from", "alpaca", "--to", "openai"])
    assert r.exit_code == 0, r.output
    assert "read 2  written 1  rejected 1" in r.output and "out.jsonl.rejects.jsonl" in r.output
    assert objs(dst) == [{"messages": [m(U, "a"), m(A, "b")]}]
    r = runner.invoke(app, ["convert", str(src), str(dst), "--strict", "--json"])
    assert r.exit_code == 1 and orjson.loads(r.stdout)["from_style"] == "alpaca"
    r = runner.invoke(app, ["convert", str(tmp_path / "missing.json"), str(dst)])
    assert r.exit_code == 2
    r = runner.invoke(app, ["convert", str(src), str(dst), "--to", "chatml"])
    assert r.exit_code == 2 and "unknown style" in r.output
