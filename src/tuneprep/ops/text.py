"""Helpers shared by operators: apply a string function to a record's text or message contents."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any


def map_text(record: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    """Apply ``fn`` to ``text`` and to every message's ``content`` (in place; returns the record)."""
    text = record.get("text")
    if isinstance(text, str):
        record["text"] = fn(text)
    msgs = record.get("messages")
    if isinstance(msgs, list):
        for m in msgs:
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                m["content"] = fn(m["content"])
    return record


def normalize_for_dedup(text: str) -> str:
    """NFKC, casefold, whitespace collapsed: the form two texts must share to be duplicates."""
    # ASCII is its own NFKC form and casefolds as lower(); " ".join(split()) is \s+ -> " " + strip.
    if text.isascii():
        text = text.lower()
        if is_collapsed_ascii(text):  # most text after clean.whitespace: the split/join is skipped
            return text
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())


def is_collapsed_ascii(text: str) -> bool:
    """True for printable ASCII with no space at either end and no two in a row: its only whitespace
    is single spaces between words, so ``" ".join(text.split()) == text``; proved by scans in C."""
    return text.isascii() and text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "
