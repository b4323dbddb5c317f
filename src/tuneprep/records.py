"""The record contract (docs/architecture.md): reserved keys, stable ids, field mapping.

A record is a plain ``dict``. Reserved keys: ``id``, ``text`` or ``messages``, ``label``,
``meta``. Everything else from the input is kept as-is.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from tuneprep.errors import TuneprepError
from tuneprep.urls import is_url, source_name

RESERVED_KEYS = ("id", "text", "messages", "label", "meta")
ROLES = ("system", "user", "assistant")


class RecordError(TuneprepError, ValueError):
    """A record that cannot be mapped into the contract. ``reason`` is a short machine tag."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.field = field


class FieldMapping(BaseModel):
    """How the fields of an input row map into the record contract."""

    model_config = ConfigDict(extra="forbid")

    text_field: str | None = "text"
    id_field: str | None = None
    label_field: str | None = None
    messages_field: str | None = None


def derive_id(source_path: str, row: int) -> str:
    """A stable id from the source file's absolute path and the row, so that a rerun gives the same ids.

    The path is made absolute and normalised first, so ``data/x.jsonl`` and ``./data/x.jsonl``
    (or the same file named from another working directory) give the same ids. A ``file://`` URL
    is the local file it names; another URL (``s3://...``) is taken as it is.
    """
    name = source_name(source_path) if is_url(source_path) else source_path
    path = name if is_url(name) else os.path.normpath(os.path.abspath(name))
    return hashlib.blake2b(f"{path}:{row}".encode(), digest_size=8).hexdigest()


def seeded_hash(seed: int, key: str) -> int:
    """A 64-bit hash of ``key`` under ``seed``: the project's one seeded per-record draw
    (``select.sample``'s priorities, the hash split). ``/ 2**64`` maps it to [0, 1).

    Callers that draw for different purposes put a purpose tag in ``key``, so that two draws
    with one seed are independent (a split must not keep exactly the records a sample kept)."""
    import xxhash

    return xxhash.xxh3_64_intdigest(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"))


def did_you_mean(name: str, fields: Iterable[str]) -> str:
    """``" (fields: a, b; did you mean 'b'?)"``: what a row has, for a field name it lacks."""
    names = [str(f) for f in fields]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    return f" (fields: {shown or 'none'}{hint})"


def get_path(obj: Mapping[str, Any], dotted: str) -> Any:
    """``get_path({"a": {"b": 1}}, "a.b") == 1``; raises KeyError when absent.

    A key that itself contains a dot (``{"a.b": 1}``) is found first.
    """
    if dotted in obj:
        return obj[dotted]
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise KeyError(dotted)
        cur = cur[part]
    return cur


def validate_messages(messages: Any, field: str = "messages") -> list[dict[str, str]]:
    """Check an OpenAI-style message list; returns it or raises RecordError."""
    if not isinstance(messages, list) or not messages:
        raise RecordError("bad_messages", f"field '{field}' must be a non-empty list of messages", field)
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise RecordError("bad_messages", f"{field}[{i}] is not an object", field)
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise RecordError(
                "bad_role", f"{field}[{i}].role is {role!r}; allowed: {', '.join(ROLES)}", field
            )
        if not isinstance(content, str):
            raise RecordError("bad_messages", f"{field}[{i}].content must be a string", field)
    return messages  # type: ignore[return-value]


def to_record(obj: Any, mapping: FieldMapping, source_path: str, row: int) -> dict[str, Any]:
    """Map one parsed input row into the record contract.

    Raises RecordError (reason ``not_an_object``, ``missing_field``, ``bad_type``,
    ``bad_messages``/``bad_role``) naming the field at fault.
    """
    if type(obj) is not dict and not isinstance(obj, Mapping):  # the ABC check costs, per row
        raise RecordError("not_an_object", f"row is a {type(obj).__name__}, not an object")
    rec: dict[str, Any] = dict(obj)
    meta = rec.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise RecordError("bad_type", "field 'meta' must be an object", "meta")

    if mapping.messages_field:
        try:
            msgs = get_path(obj, mapping.messages_field)
        except KeyError:
            raise RecordError(
                "missing_field", f"missing field '{mapping.messages_field}'" + did_you_mean(mapping.messages_field, obj),
                mapping.messages_field
            ) from None
        if mapping.messages_field != "messages":
            rec.pop(mapping.messages_field, None)
        rec["messages"] = validate_messages(msgs, mapping.messages_field)
    elif mapping.text_field:
        try:
            text = get_path(obj, mapping.text_field)
        except KeyError:
            if "messages" in obj:
                rec["messages"] = validate_messages(obj["messages"])
                text = None
            else:
                raise RecordError(
                    "missing_field", f"missing field '{mapping.text_field}'" + did_you_mean(mapping.text_field, obj),
                    mapping.text_field
                ) from None
        if text is not None:
            if not isinstance(text, str):
                raise RecordError(
                    "bad_type",
                    f"field '{mapping.text_field}' is a {type(text).__name__}, expected a string",
                    mapping.text_field,
                )
            if mapping.text_field != "text":
                if mapping.text_field in rec:
                    rec.pop(mapping.text_field)
                if "text" in rec:
                    # The input had its own `text` besides the mapped field: keep it, don't overwrite.
                    rec.setdefault("meta", {}).setdefault("displaced", {})["text"] = rec["text"]
            rec["text"] = text

    if mapping.label_field:
        try:
            label = get_path(obj, mapping.label_field)
        except KeyError:
            label = None
        if label is not None:
            if isinstance(label, (int, float, bool)):
                label = str(label)
            elif isinstance(label, list):
                label = [str(x) for x in label]
            elif not isinstance(label, str):
                raise RecordError(
                    "bad_type", f"field '{mapping.label_field}' must be a string or list", mapping.label_field
                )
            if mapping.label_field != "label":
                if mapping.label_field in rec:
                    rec.pop(mapping.label_field)
                if "label" in rec:
                    rec.setdefault("meta", {}).setdefault("displaced", {})["label"] = rec["label"]
            rec["label"] = label

    if mapping.id_field:
        try:
            rid = get_path(obj, mapping.id_field)
        except KeyError:
            raise RecordError("missing_field", f"missing id field '{mapping.id_field}'"
                              + did_you_mean(mapping.id_field, obj), mapping.id_field) from None
        rec["id"] = str(rid)
    elif "id" in rec and rec["id"] is not None:
        rec["id"] = str(rec["id"])
    else:
        rec["id"] = derive_id(source_path, row)
    return rec


def record_text(rec: Mapping[str, Any]) -> str:
    """The text an operator looks at: ``text``, or the concatenated message contents."""
    text = rec.get("text")
    if isinstance(text, str):
        return text
    msgs = rec.get("messages")
    if isinstance(msgs, list):
        return "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, Mapping))
    return ""


def set_score(rec: dict[str, Any], op: str, value: Any) -> None:
    """Store an operator's score under ``meta.scores.<op>`` (never a new top-level key)."""
    rec.setdefault("meta", {}).setdefault("scores", {})[op] = value
