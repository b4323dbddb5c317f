"""Spans of text no correcting operator may touch: URLs, e-mails, @handles, #hashtags, code.

Shared by ``clean.typos`` and ``clean.normalize`` so that both agree on what is protected.
"""

from __future__ import annotations

import re

_PROTECTED = re.compile(
    r"```.*?```"                                   # fenced code block
    r"|`(?! )[^`\n]+(?<! )`"                       # inline code span (PTB's "` word '" quotes are not)
    r"|\b(?:https?://|ftp://|www\.)\S+"            # URL
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"           # e-mail
    r"|(?<![\w@])@\w+"                             # @handle
    r"|(?<![\w#&])#\w+",                           # #hashtag
    re.S,
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted ``(start, end)`` spans of URLs, e-mails, handles, hashtags and code in ``text``."""
    return [m.span() for m in _PROTECTED.finditer(text)]


def overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``[start, end)`` touches any of the sorted ``spans``."""
    for a, b in spans:
        if a >= end:
            return False
        if b > start:
            return True
    return False
