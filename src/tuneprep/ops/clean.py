"""Cleaning operators: unicode repair (ftfy), whitespace normalisation, HTML to text."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any, ClassVar, Literal

from tuneprep.ops.base import Drop, OpParams, RecordOp, register
from tuneprep.ops.text import is_collapsed_ascii, map_text
from tuneprep.records import set_score


class UnicodeParams(OpParams):
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"
    """Unicode normal form applied after repair (None keeps ftfy's default of none)."""
    fix_encoding: bool = True
    """Repair mojibake such as 'Ã©' → 'é'."""
    uncurl_quotes: bool = False
    """Turn curly quotes into straight ones."""


@register
class CleanUnicode(RecordOp):
    """Fix mojibake, broken HTML entities and control characters with ftfy."""

    name: ClassVar[str] = "clean.unicode"
    Params: ClassVar[type[OpParams]] = UnicodeParams
    description: ClassVar[str] = "Repair mojibake and odd unicode with ftfy, then normalise (NFC)."

    def setup(self) -> None:
        import ftfy

        from tuneprep.ops.unicode_fast import UnicodeFixer

        p = self.params
        self._config = ftfy.TextFixerConfig(
            normalization=p.normalization, fix_encoding=p.fix_encoding, uncurl_quotes=p.uncurl_quotes,
            unescape_html=False,  # entities are clean.strip_html's job; "&amp;" may be intended text
        )
        self._fixer = UnicodeFixer(self._config)

    def fix(self, text: str) -> str:
        """``ftfy.fix_text(text, config)``, calling ftfy only on the lines it could change.

        ops/unicode_fast.py derives from ftfy's tables the characters through which each enabled
        fix can change a line, and sends only lines holding one of them (or not yet normalised) to
        ftfy; tests/ops/test_unicode_fast.py checks byte-identical output.
        """
        fixed = self._fixer.fix(text)
        if fixed != text and unicodedata.normalize(self._config.normalization or "NFC", text) != fixed:
            # A real repair, not just normalisation (rare): name the ftfy fixes for meta.scores.
            import ftfy

            steps = ftfy.fix_and_explain(text, self._config).explanation
            self._repairs.update(f"{action}:{name}" for action, name in steps or () if action != "normalize")
        return fixed

    _repairs: set[str] = set()

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        """Fix the text; a record that needed repairs (mojibake such as cp1252 read as latin-1 or
        UTF-8 decoded twice, C1 controls…) gets ``meta.scores["clean.unicode"]`` = the ftfy
        fixes applied, so the repaired records can be counted and audited."""
        text = record.get("text")
        if "messages" not in record and type(text) is str and self._fixer.unchanged_whole(text):
            return record  # most records: nothing to repair, proved without the calls below
        self._repairs = set()
        map_text(record, self.fix)
        if self._repairs:
            set_score(record, self.name, sorted(self._repairs))
        return record


class WhitespaceParams(OpParams):
    keep_newlines: bool = True
    """Keep line structure (paragraphs, at most one blank line); False joins everything into one line."""
    keep_indent: bool = True
    """Keep each line's leading whitespace (code, lists, verse); False trims lines on both sides."""


_BLANKS = re.compile(r"\n{3,}")  # blank lines are empty by then: at most one blank line survives
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# What clean.whitespace changes in ASCII text with no whitespace at either end: ASCII whitespace
# other than space and newline (str.split's set), a space run, a space ending a line, two blank lines.
_ASCII_ODD_SPACE = re.compile(r"[\t\r\x0b\x0c\x1c-\x1f]")
_EDGE = ("", " ", "\n")


@register
class CleanWhitespace(RecordOp):
    """Collapse runs of spaces/tabs, trim lines, drop zero-width characters, limit blank lines."""

    name: ClassVar[str] = "clean.whitespace"
    Params: ClassVar[type[OpParams]] = WhitespaceParams
    description: ClassVar[str] = "Collapse whitespace runs, trim lines, remove zero-width characters."

    def _clean(self, text: str) -> str:
        # Most real text is already clean: for ASCII text a scan in C proves that, and the split/join
        # work below is skipped (tests/ops/test_clean_fastpath.py compares both paths on real text).
        if is_collapsed_ascii(text):  # one line, single inner spaces its only whitespace
            return text
        if (text.isascii() and text[:1] not in _EDGE and text[-1:] not in _EDGE
                and "  " not in text and " \n" not in text and "\n\n\n" not in text
                and _ASCII_ODD_SPACE.search(text) is None):
            p = self.params
            if p.keep_newlines:  # lines keep their indent, or there is none to trim
                if p.keep_indent or "\n " not in text:
                    return text
            elif "\n" not in text:  # nothing to join
                return text
        return self._clean_slow(text)

    def _clean_slow(self, text: str) -> str:
        # " ".join(line.split()) collapses each whitespace run to one space and trims, in C, as the
        # per-line regex [^\S\n]+ -> " " + strip did: str.split and re's \s agree on what whitespace
        # is (tests/ops/test_clean_fastpath.py checks the two against each other on real text).
        if not text.isascii():
            text = _ZERO_WIDTH.sub("", text)
        if not self.params.keep_newlines:
            return " ".join(text.split())
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.params.keep_indent:
            text = "\n".join([_indent(line) + " ".join(line.split()) for line in text.split("\n")])
        else:
            text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
        if "\n\n\n" in text:
            text = _BLANKS.sub("\n\n", text)
        return text.strip("\n") if self.params.keep_indent and text[:1] in " \t" else text.strip()

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        return map_text(record, self._clean)


def _indent(line: str) -> str:
    """The leading whitespace of a line that has content (blank lines get none)."""
    if not line or not line[0].isspace():
        return ""
    body = line.lstrip()
    return line[: len(line) - len(body)] if body else ""


class StripHtmlParams(OpParams):
    mode: Literal["auto", "page", "fragment"] = "auto"
    """page: trafilatura main-content extraction (drops menus, boilerplate); fragment: strip tags only;
    auto: page when the text looks like a whole document (<html> or <body>), else fragment."""
    include_tables: bool = True
    favor_precision: bool = False
    """Trafilatura: prefer less text with less boilerplate."""


_PAGE = re.compile(r"<\s*(html|body|!doctype)\b", re.I)
_DROP_BLOCKS = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|p|div|li|h[1-6]|tr)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def strip_tags(fragment: str) -> str:
    """Cheap tag strip for HTML fragments: drops scripts/styles/comments, keeps block breaks."""
    text = _COMMENT.sub("", fragment)
    text = _DROP_BLOCKS.sub("", text)
    text = _BREAKS.sub("\n", text)
    text = _TAG.sub("", text)
    return html.unescape(text).strip()


@register
class CleanStripHtml(RecordOp):
    """HTML to text: trafilatura for whole pages, a cheap tag strip for fragments."""

    name: ClassVar[str] = "clean.strip_html"
    Params: ClassVar[type[OpParams]] = StripHtmlParams
    description: ClassVar[str] = "HTML to text (trafilatura for pages, tag strip for fragments)."

    def _page(self, text: str) -> str | None:
        import trafilatura

        return trafilatura.extract(text, include_tables=self.params.include_tables,
                                   favor_precision=self.params.favor_precision, include_comments=False)

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        text = record.get("text")
        if not isinstance(text, str) or "<" not in text:
            return record
        mode = self.params.mode
        if mode == "page" or (mode == "auto" and _PAGE.search(text[:5000])):
            extracted = self._page(text)
            if not extracted:
                return Drop("no_main_content", {"chars_in": len(text)})
            record["text"] = extracted
        else:
            record["text"] = strip_tags(text)
        if not record["text"].strip():
            return Drop("empty_after_html", {"chars_in": len(text)})
        return record
