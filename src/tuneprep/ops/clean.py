"""Cleaning operators: unicode repair (ftfy), whitespace normalisation, HTML to text."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar, Literal

from tuneprep.ops.base import Drop, OpParams, RecordOp, register
from tuneprep.ops.text import map_text
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

        p = self.params
        self._config = ftfy.TextFixerConfig(
            normalization=p.normalization, fix_encoding=p.fix_encoding, uncurl_quotes=p.uncurl_quotes,
            unescape_html=False,  # entities are clean.strip_html's job; "&amp;" may be intended text
        )
        self._fix_segment = ftfy.fix_and_explain

    def fix(self, text: str) -> str:
        """``ftfy.fix_text(text, config)``, without calling ftfy on lines it would return unchanged.

        ftfy fixes a text line by line (segments end after each newline, or every
        ``max_decode_length`` characters), each independently. With this op's config (HTML
        unescaping off) ftfy can only change an ASCII segment through a control character, a
        carriage return (line breaks) or an escape (terminal escapes, also a control character):
        every other fix acts on non-ASCII characters, and ASCII is already NFC/NFKC. So an ASCII
        segment without those characters is returned as it is, and the others go through ftfy
        exactly as ``fix_text`` would send them. tests/ops/test_clean_fastpath.py checks the
        equality on real text and on every ASCII character.
        """
        if not text or (text.isascii() and not _ASCII_FTFY_TOUCHES.search(text)):
            return text
        cfg = self._config
        out: list[str] = []
        pos, n, limit = 0, len(text), cfg.max_decode_length
        while pos < n:
            end = text.find("\n", pos) + 1
            if end == 0:
                end = n
            if end - pos > limit:
                end = pos + limit
            seg = text[pos:end]
            if seg.isascii() and not _ASCII_FTFY_TOUCHES.search(seg):
                out.append(seg)
            else:
                fixed, steps = self._fix_segment(seg, cfg)
                out.append(fixed)
                # Every repair but plain normalisation is counted (meta.scores, see apply()).
                self._repairs.update(f"{action}:{name}" for action, name in steps or () if action != "normalize")
            pos = end
        return "".join(out)

    _repairs: set[str] = set()

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        """Fix the text; a record that needed repairs (mojibake such as cp1252 read as latin-1 or
        UTF-8 decoded twice, C1 controls…) gets ``meta.scores["clean.unicode"]`` = the ftfy
        fixes applied, so the repaired records can be counted and audited."""
        self._repairs = set()
        map_text(record, self.fix)
        if self._repairs:
            set_score(record, self.name, sorted(self._repairs))
        return record


# The ASCII characters ftfy may change when HTML unescaping is off: C0 controls other than tab and
# newline (remove_control_chars, remove_terminal_escapes: ESC is one), CR (fix_line_breaks), DEL.
# Vertical tab and form feed are included although ftfy keeps form feed: erring towards ftfy is safe.
_ASCII_FTFY_TOUCHES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class WhitespaceParams(OpParams):
    keep_newlines: bool = True
    """Keep line structure (paragraphs, at most one blank line); False joins everything into one line."""
    keep_indent: bool = True
    """Keep each line's leading whitespace (code, lists, verse); False trims lines on both sides."""


_BLANKS = re.compile(r"\n{3,}")  # blank lines are empty by then: at most one blank line survives
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


@register
class CleanWhitespace(RecordOp):
    """Collapse runs of spaces/tabs, trim lines, drop zero-width characters, limit blank lines."""

    name: ClassVar[str] = "clean.whitespace"
    Params: ClassVar[type[OpParams]] = WhitespaceParams
    description: ClassVar[str] = "Collapse whitespace runs, trim lines, remove zero-width characters."

    def _clean(self, text: str) -> str:
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
