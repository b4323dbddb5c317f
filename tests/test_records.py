"""The record contract: field mapping, stable ids, precise errors."""

from __future__ import annotations

import os

import pytest

from tuneprep.records import FieldMapping, RecordError, derive_id, to_record


def test_mapping_moves_fields_and_keeps_the_rest():
    rec = to_record({"sentence": "great film", "sentiment": 1, "extra": [1, 2]},
                    FieldMapping(text_field="sentence", label_field="sentiment"), "in.tsv", 3)
    assert rec["text"] == "great film" and rec["label"] == "1" and rec["extra"] == [1, 2]
    assert "sentence" not in rec and "sentiment" not in rec


def test_existing_text_is_not_overwritten_silently():
    rec = to_record({"sentence": "a", "text": "b"}, FieldMapping(text_field="sentence"), "f", 1)
    assert rec["text"] == "a" and rec["meta"]["displaced"]["text"] == "b"


def test_nested_and_dotted_fields():
    assert to_record({"a": {"b": "x"}}, FieldMapping(text_field="a.b"), "f", 1)["text"] == "x"
    assert to_record({"a.b": "y"}, FieldMapping(text_field="a.b"), "f", 1)["text"] == "y"


def test_ids_are_stable_across_spellings_of_the_path(tmp_path):
    os.chdir(tmp_path)
    assert derive_id("data/x.jsonl", 7) == derive_id("./data/x.jsonl", 7) == derive_id(str(tmp_path / "data/x.jsonl"), 7)
    assert derive_id("data/x.jsonl", 7) != derive_id("data/x.jsonl", 8)
    assert to_record({"text": "t", "id": 5}, FieldMapping(), "f", 1)["id"] == "5"


@pytest.mark.parametrize("obj,mapping,reason,field", [
    ([1, 2], FieldMapping(), "not_an_object", None),
    ({"txt": "x"}, FieldMapping(), "missing_field", "text"),
    ({"text": 3}, FieldMapping(), "bad_type", "text"),
    ({"text": "x", "meta": "no"}, FieldMapping(), "bad_type", "meta"),
    ({"messages": [{"role": "bot", "content": "x"}]}, FieldMapping(messages_field="messages"), "bad_role", "messages"),
    ({"messages": []}, FieldMapping(messages_field="messages"), "bad_messages", "messages"),
])
def test_errors_name_reason_and_field(obj, mapping, reason, field):
    with pytest.raises(RecordError) as e:
        to_record(obj, mapping, "f", 1)
    assert e.value.reason == reason and e.value.field == field
