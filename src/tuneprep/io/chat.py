"""Row-level chat conversion: detect a row's chat style and convert it to OpenAI ``messages``.

A leaf of ``io`` (it needs only the record contract), used by the record source
(``readers.iter_records``) and by ``converters`` (whole files, and back from ``messages``).
The styles are described in ``converters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneprep.records import RecordError, validate_messages

STYLES = ("openai", "sharegpt", "alpaca", "prompt_completion")
STYLE_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("messages",),
    "sharegpt": ("conversations", "system"),
    "alpaca": ("instruction", "input", "output", "system"),
    "prompt_completion": ("prompt", "completion"),
}
SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bing": "assistant",
    "bard": "assistant", "model": "assistant",
    "system": "system",
}
SHAREGPT_FROM = {"user": "human", "assistant": "gpt", "system": "system"}
ALPACA_JOIN = "\n\n"


def detect_style(obj: Any) -> str | None:
    """The style of one row from its keys, or None when it matches none."""
    if not isinstance(obj, Mapping):
        return None
    if "messages" in obj:
        return "openai"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "prompt_completion"
    return None


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown style '{style}'; allowed: {', '.join(STYLES)}")


def _string(obj: Mapping[str, Any], field: str, *, required: bool = True, nonempty: bool = False) -> str:
    if field not in obj or obj[field] is None:
        if required:
            raise RecordError("missing_field", f"missing field '{field}'", field)
        return ""
    value = obj[field]
    if not isinstance(value, str):
        raise RecordError("bad_type", f"field '{field}' is a {type(value).__name__}, expected a string", field)
    if nonempty and not value.strip():
        raise RecordError("empty_field", f"field '{field}' is empty", field)
    return value


def _rest(obj: Mapping[str, Any], style: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in STYLE_KEYS[style]}


def _sharegpt_messages(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    conv = obj.get("conversations")
    if not isinstance(conv, list) or not conv:
        raise RecordError("bad_messages", "field 'conversations' must be a non-empty list of turns", "conversations")
    msgs: list[dict[str, str]] = []
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        raise RecordError("bad_type", f"field 'system' is a {type(system).__name__}, expected a string", "system")
    if system:
        msgs.append({"role": "system", "content": system})
    for i, turn in enumerate(conv):
        where = f"conversations[{i}]"
        if not isinstance(turn, Mapping):
            raise RecordError("bad_messages", f"{where} is not an object", "conversations")
        who = turn.get("from", turn.get("role"))
        role = SHAREGPT_ROLES.get(who.lower()) if isinstance(who, str) else None
        if role is None:
            raise RecordError("bad_role", f"{where}.from is {who!r}; allowed: {', '.join(SHAREGPT_ROLES)}",
                              "conversations")
        value = turn.get("value", turn.get("content"))
        if not isinstance(value, str):
            raise RecordError("bad_messages", f"{where}.value must be a string", "conversations")
        msgs.append({"role": role, "content": value})
    return msgs


def _pc_part(obj: Mapping[str, Any], field: str, role: str) -> list[dict[str, str]]:
    value = obj.get(field)
    if isinstance(value, list):
        return validate_messages(value, field)
    return [{"role": role, "content": _string(obj, field)}]


def convert_row(obj: dict[str, Any], style: str) -> dict[str, Any]:
    """One row of ``style`` as a record holding ``messages`` (other keys kept, style keys removed).

    Raises RecordError (``missing_field``, ``bad_type``, ``empty_field``, ``bad_messages``,
    ``bad_role``) naming the field at fault.
    """
    _check_style(style)
    if not isinstance(obj, Mapping):
        raise RecordError("not_an_object", f"row is a {type(obj).__name__}, not an object")
    if style == "openai":
        if "messages" not in obj:
            raise RecordError("missing_field", "missing field 'messages'", "messages")
        return {**obj, "messages": [dict(m) for m in validate_messages(obj["messages"])]}
    if style == "sharegpt":
        if "conversations" not in obj:
            raise RecordError("missing_field", "missing field 'conversations'", "conversations")
        msgs = _sharegpt_messages(obj)
    elif style == "alpaca":
        instruction = _string(obj, "instruction", nonempty=True)
        extra = _string(obj, "input", required=False)
        output = _string(obj, "output")
        system = _string(obj, "system", required=False)
        user = instruction + ALPACA_JOIN + extra if extra.strip() else instruction
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}, {"role": "assistant", "content": output}]
    else:
        msgs = _pc_part(obj, "prompt", "user") + _pc_part(obj, "completion", "assistant")
    return {**_rest(obj, style), "messages": msgs}




def convert_input(obj: Any, style: str) -> Any:
    """A parsed input row in ``style`` (or ``auto``: detected per row) converted to ``messages``.

    Rows that are not objects pass through unchanged (the record mapping rejects them); an
    ``auto`` row of no known style raises RecordError ``unknown_chat_format``.
    """
    if not isinstance(obj, dict):
        return obj
    if style == "auto":
        detected = detect_style(obj)
        if detected is None:
            raise RecordError("unknown_chat_format", "cannot tell the chat format of this row "
                              "(expected messages, conversations, instruction/output or prompt/completion)")
        style = detected
    return convert_row(obj, style)
