"""``ftfy.fix_text`` without calling ftfy on the segments it would return unchanged.

ftfy fixes a text segment by segment (a segment ends after each ``\\n``, or every
``max_decode_length`` characters), each independently, in a loop of steps (``fix_and_explain``):
``unescape_html``, ``fix_encoding``, eight character fixers, then Unicode normalisation, repeated
until a round changes nothing. If no step changes a segment in the first round, the segment comes
back as it went in. Each step can only change a segment through known characters:

* ``fix_encoding`` (mojibake repair, with its sub-steps ``restore_byte_a0``,
  ``replace_lossy_sequences``, ``decode_inconsistent_utf8``) returns its input unchanged unless
  ``ftfy.badness.is_bad`` finds one of the character sequences of ftfy's ``BADNESS_RE``;
* every character fixer (C1 controls, Latin ligatures, character width, curly quotes, line
  breaks, surrogates, terminal escapes, control characters; HTML entities when on) only acts on a
  fixed set of characters;
* the normalisation changes nothing when ``unicodedata.is_normalized`` says so.

This module derives those character sets from ftfy's own tables and regexes when it is imported
(so an ftfy upgrade changes them with it, or makes the derivation fail loudly rather than silently
disagree), checks a segment for them with one compiled character class, and sends only the
segments that could change to ``ftfy.fix_and_explain``, exactly as ``fix_text`` would.

``is_bad`` itself is a regex of 37 alternatives tried at every position, the largest part of
ftfy's cost on clean non-ASCII text. Every alternative needs at least one character from a small
set (for example ``[a-zA-Z][Greek/Cyrillic][bad symbol]`` needs a "bad symbol"), so the union of
those sets, ``BADNESS_NEEDS``, is a necessary condition: a segment without any of them cannot be
bad, and one with some is searched only in windows of the pattern's maximum width around them,
which finds exactly the matches the full search would (``search(text, pos, endpos)``; the one
anchor ``^`` matches only at the real start of the string).

tests/ops/test_unicode_fast.py requires byte-identical output to ``ftfy.fix_text`` on every BMP
code point in context, on ftfy's own test cases and on real multilingual text.
"""

from __future__ import annotations

import array
import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import ftfy
from ftfy import badness, chardata, fixes

if sys.version_info >= (3, 11):
    import re._constants as _sre_c
    import re._parser as _sre_p
else:  # pragma: no cover - the project needs 3.11, kept for clarity
    import sre_constants as _sre_c
    import sre_parse as _sre_p

_MAX_CP = 0x110000


class DerivationError(RuntimeError):
    """ftfy's tables no longer have the shape this module derives its character sets from."""


def _class_codepoints(items: Iterable[tuple[Any, Any]]) -> set[int] | None:
    """Code points of a parsed character class of literals and ranges; None if it has anything else."""
    out: set[int] = set()
    for op, arg in items:
        if op is _sre_c.LITERAL:
            out.add(arg)
        elif op is _sre_c.RANGE:
            out.update(range(arg[0], arg[1] + 1))
        else:  # NEGATE, CATEGORY (\s, \w...): not a small explicit set
            return None
    return out


def _item_codepoints(item: tuple[Any, Any]) -> set[int] | None:
    """The characters one parsed item must be, if it is exactly one character from an explicit set."""
    op, arg = item
    if op is _sre_c.LITERAL:
        return {arg}
    if op is _sre_c.IN:
        return _class_codepoints(arg)
    return None


def _pattern_first_chars(regex: re.Pattern[str]) -> set[int]:
    """The characters one of which every match of ``regex`` starts with (its first item's set)."""
    if regex.flags & re.IGNORECASE:
        raise DerivationError(f"{regex.pattern!r}: case-insensitive patterns are not derived")
    parsed = _sre_p.parse(regex.pattern, regex.flags)
    first = _item_codepoints(parsed[0]) if len(parsed) else None
    if first is None:
        raise DerivationError(f"{regex.pattern!r} does not start with an explicit character set")
    return first


@functools.cache
def _every_codepoint() -> str:
    # via UTF-32 (surrogates included): four times faster than joining 1.1 million chr() calls
    return array.array("I", range(_MAX_CP)).tobytes().decode("utf-32-le", "surrogatepass")


def _changed_by(fix: Callable[[str], str], lo: int = 0, hi: int = _MAX_CP) -> set[int]:
    """Every code point ``c`` in [lo, hi) for which ``fix`` changes a run of characters holding it.

    For fixers that act character by character (``str.replace``/``translate``/a one-character
    class), ``fix(chunk) == chunk`` means no character of the chunk is touched; bisecting the
    chunks that do change finds them all in a few dozen calls.
    """
    chunk = _every_codepoint()[lo:hi]
    if fix(chunk) == chunk:
        return set()
    if hi - lo == 1:
        return {lo}
    mid = (lo + hi) // 2
    return _changed_by(fix, lo, mid) | _changed_by(fix, mid, hi)


@functools.cache
def _line_break_chars() -> set[int]:
    return _changed_by(fixes.fix_line_breaks)  # once per process: every shard's op set-up reuses it


# For each ftfy option that can change a segment outside fix_encoding, where the characters it
# acts on come from: a translate table's keys, the first character of its regex, or (for
# fix_line_breaks, which is code, not a table) probing the function itself.
_FIXER_SOURCES: list[tuple[str, Callable[[], set[int]]]] = [
    ("unescape_html", lambda: _pattern_first_chars(chardata.HTML_ENTITY_RE)),  # True or "auto"
    ("fix_c1_controls", lambda: _pattern_first_chars(chardata.C1_CONTROL_RE)),
    ("fix_latin_ligatures", lambda: set(chardata.LIGATURES)),
    ("fix_character_width", lambda: set(chardata.WIDTH_MAP)),
    ("uncurl_quotes",
     lambda: _pattern_first_chars(chardata.SINGLE_QUOTE_RE) | _pattern_first_chars(chardata.DOUBLE_QUOTE_RE)),
    ("fix_line_breaks", lambda: _line_break_chars()),
    ("fix_surrogates", lambda: _pattern_first_chars(fixes.SURROGATE_RE)),
    ("remove_terminal_escapes", lambda: _pattern_first_chars(fixes.ANSI_RE)),
    ("remove_control_chars", lambda: set(chardata.CONTROL_CHARS)),
]


def fixer_characters(config: ftfy.TextFixerConfig) -> set[int]:
    """The characters through which ftfy's enabled character fixers can change a segment."""
    known = {name for name, _ in _FIXER_SOURCES}
    run_by_ftfy = {name for const in ftfy.fix_and_explain.__code__.co_consts if isinstance(const, tuple)
                   for name in const if isinstance(name, str) and name in ftfy.FIXERS}
    unknown = sorted(run_by_ftfy - known)
    if unknown:  # a fixer this module does not know: it cannot vouch for any segment
        raise DerivationError(f"ftfy runs fixers this module has no character set for: {unknown}")
    chars: set[int] = set()
    for name, source in _FIXER_SOURCES:
        if getattr(config, name):
            chars |= source()
    return chars


# Parse-tree operators whose match depends only on the characters inside the match (plus the one
# anchor "^", which search(text, pos) handles as at the real start of the string). Anything else
# (lookarounds, \b, backreferences) would make the windowed search unsound: then is_bad runs whole.
_LOCAL_OPS = {_sre_c.LITERAL, _sre_c.NOT_LITERAL, _sre_c.IN, _sre_c.ANY, _sre_c.BRANCH, _sre_c.SUBPATTERN,
              _sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT}


def _is_local(items: Iterable[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        if op is _sre_c.AT:
            if arg is not _sre_c.AT_BEGINNING and arg is not _sre_c.AT_BEGINNING_STRING:
                return False
        elif op not in _LOCAL_OPS:
            return False
        elif op is _sre_c.BRANCH and not all(_is_local(alt) for alt in arg[1]):
            return False
        elif op is _sre_c.SUBPATTERN and not _is_local(arg[-1]):
            return False
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and not _is_local(arg[2]):
            return False
    return True


_COST = {"Ll": 1000, "Lo": 1000, "Lu": 100, "Lt": 100, "Lm": 100}


def _choice_cost(cps: set[int]) -> int:
    # ASCII is what most text is made of, then letters, lower case more than upper case: prefer a
    # branch's non-ASCII punctuation/symbol set, or its capital letter ("вЂ": look for "Ђ", not "в").
    return sum(1_000_000 if c < 128 else _COST.get(unicodedata.category(chr(c)), 1) for c in cps)


def badness_needs(regex: re.Pattern[str] = badness.BADNESS_RE) -> tuple[set[int], int] | None:
    """(characters every match of ftfy's badness regex contains one of, the regex's maximum width).

    For each top-level alternative, the explicit one-character set among its mandatory items that
    is cheapest to look for; None when the regex has an alternative without one, an unbounded width
    or a context-dependent operator (then ``is_bad`` is always run in full).
    """
    if regex.flags & re.IGNORECASE:
        return None
    parsed = _sre_p.parse(regex.pattern, regex.flags)
    width = parsed.getwidth()[1]
    if width >= _sre_c.MAXREPEAT or not _is_local(parsed):
        return None
    items = list(parsed)
    alternatives = items[0][1][1] if len(items) == 1 and items[0][0] is _sre_c.BRANCH else [items]
    needs: set[int] = set()
    for alt in alternatives:
        sets = [s for s in map(_item_codepoints, alt) if s]  # top-level items: each one is mandatory
        if not sets:
            return None
        needs |= min(sets, key=_choice_cost)
    return needs, width


def _char_class(cps: Iterable[int]) -> re.Pattern[str] | None:
    cps = sorted(cps)
    if not cps:
        return None
    parts, start, prev = [], cps[0], cps[0]
    for c in cps[1:] + [-1]:
        if c == prev + 1:
            prev = c
            continue
        parts.append(f"\\U{start:08x}" if start == prev else f"\\U{start:08x}-\\U{prev:08x}")
        start = prev = c
    return re.compile("[" + "".join(parts) + "]")


_BADNESS_NEEDS = badness_needs()
_NEEDS_RE = _char_class(_BADNESS_NEEDS[0]) if _BADNESS_NEEDS else None
_BADNESS_WIDTH = _BADNESS_NEEDS[1] if _BADNESS_NEEDS else 0


def is_bad(segment: str) -> bool:
    """``ftfy.badness.is_bad(segment)``, searching only around the characters a match needs."""
    if _NEEDS_RE is None:
        return badness.is_bad(segment)
    search, w, n = badness.BADNESS_RE.search, _BADNESS_WIDTH, len(segment)
    lo = hi = -1
    for m in _NEEDS_RE.finditer(segment):
        p = m.start()
        start, end = max(0, p - w + 1), min(n, p + w)  # every match holding p lies in [start, end)
        if start <= hi:  # overlaps the pending window: extend it
            hi = end
            continue
        if hi >= 0 and search(segment, lo, hi):
            return True
        lo, hi = start, end
    return hi >= 0 and search(segment, lo, hi) is not None


def ftfy_fixer_order() -> tuple[str, ...] | None:
    """The character fixers ``fix_and_explain`` runs after ``fix_encoding``, in its order.

    Read from the function's own constants (the one tuple of several ``ftfy.FIXERS`` names); None
    if there is no such tuple, and then segments with fixable characters always go to ftfy.
    """
    found = [c for c in ftfy.fix_and_explain.__code__.co_consts
             if isinstance(c, tuple) and len(c) > 1 and all(isinstance(n, str) and n in ftfy.FIXERS for n in c)]
    return found[0] if len(found) == 1 else None


_FIXER_ORDER = ftfy_fixer_order()
_PRINTABLE_ASCII = "".join(map(chr, range(0x20, 0x7F)))


class UnicodeFixer:
    """``fix(text) == ftfy.fix_text(text, config)``, calling ftfy only on segments it could change."""

    def __init__(self, config: ftfy.TextFixerConfig) -> None:
        self.config = config
        self._touch = _char_class(fixer_characters(config))
        self._form = config.normalization
        self._check_bad = bool(config.fix_encoding)
        self._auto_html = config.unescape_html == "auto"
        # No fixer character is printable ASCII (checked here, not assumed): for a printable ASCII
        # text two scans in C then prove it unchanged, cheaper than the character-class search.
        self._printable_ascii_unchanged = self._touch is None or not self._touch.search(_PRINTABLE_ASCII)
        # The fixers of one round, for segments that are not bad (fix_encoding leaves them alone).
        self._round: list[Callable[[str], str]] | None = None
        if _FIXER_ORDER is not None and config.unescape_html is False:
            self._round = [ftfy.FIXERS[name] for name in _FIXER_ORDER if getattr(config, name)]

    def unchanged(self, segment: str) -> bool:
        """True when ftfy provably returns ``segment`` (one segment) as it is."""
        if self._touch is not None and self._touch.search(segment):
            return False
        if segment.isascii():  # ASCII: not bad (possible_encoding "ascii"), always normalised
            return True
        if self._form is not None and not unicodedata.is_normalized(self._form, segment):
            return False
        return not (self._check_bad and is_bad(segment))

    def _whole_unchanged(self, text: str) -> bool:
        """True when no segment of ``text`` (segments = lines here) can change.

        No line holds a fixer's character if the text holds none; no line can be bad if the text
        holds no character a badness match needs (the whole-text search would miss a "^" match at a
        line start, so is_bad is not run on the whole); NFC/NFKC split at "\n" (a starter that
        never composes), so a normalised text is normalised line by line.
        """
        if text.isascii():
            if self._printable_ascii_unchanged and text.isprintable():
                return True
            return self._touch is None or not self._touch.search(text)
        if self._touch is not None and self._touch.search(text):
            return False
        if self._check_bad and (_NEEDS_RE is None or _NEEDS_RE.search(text)):
            return False
        return self._form is None or unicodedata.is_normalized(self._form, text)

    def unchanged_whole(self, text: str) -> bool:
        """True when ``fix(text)`` provably returns ``text`` without looking at its segments."""
        return not text or (len(text) <= self.config.max_decode_length and self._whole_unchanged(text))

    def fix(self, text: str) -> str:
        cfg = self.config
        if not text:
            return text
        if self.unchanged_whole(text):
            return text
        limit = cfg.max_decode_length
        out = []
        pos, n = 0, len(text)
        while pos < n:
            end = text.find("\n", pos) + 1
            if end == 0:
                end = n
            if end - pos > limit:
                end = pos + limit
            seg = text[pos:end]
            if self._auto_html and "<" in seg:  # as fix_text: HTML unescaping off from here on
                cfg = cfg._replace(unescape_html=False)
            out.append(seg if self.unchanged(seg) else self._fix_segment(seg, cfg))
            pos = end
        return "".join(out)

    def _fix_segment(self, seg: str, cfg: ftfy.TextFixerConfig) -> str:
        """``fix_and_explain(seg, cfg).text``: its first round run here when that provably suffices.

        A segment that is not bad only meets ftfy's character fixers and the normalisation in the
        first round (fix_encoding returns it as it is, HTML unescaping is off), so running those
        (ftfy's own functions, in its order) gives the round's result; if that result provably
        comes back unchanged from a second round, it is ftfy's answer. Otherwise ftfy does it all.
        Most such segments are CJK text with full-width punctuation, where the full badness search
        would be most of the cost.
        """
        if self._round is not None and not (self._check_bad and is_bad(seg)):
            text = seg
            for fixer in self._round:
                text = fixer(text)
            if self._form is not None:
                text = unicodedata.normalize(self._form, text)
            if self.unchanged(text):
                return text
        return ftfy.fix_and_explain(seg, cfg)[0]
