"""Irregularities fixed by named rules, each switchable, each edit recorded.

Every rule looks at the *original* text and proposes ``Edit`` objects; the proposals of all
enabled rules are merged (on overlap the earlier rule in ``RULES`` wins), so every offset in the
audit refers to the text before the operator. Protected spans (URLs, e-mails, handles, code) are
never edited.

Rules (``RULES``, in priority order):

* ``ptb`` — Penn-Treebank-tokenised text back to plain text: ``-LRB-``/``-RRB-`` and friends,
  ````…''`` quotes, split clitics (`` 's``, `` n't``, `` 're``…), spaces around punctuation.
  Many public NLP datasets ship tokenised (SST is one).
* ``quotes`` — typographic quotes to straight ones.
* ``dashes`` — ``--``, spaced en dashes and em dashes to one dash style.
* ``ellipsis`` — ``…``, ``....`` and ``. . .`` to one style.
* ``repeated_punctuation`` — ``!!!!`` → ``!``, ``?!?!`` → ``?!``, ``,,`` → ``,``.
* ``elongation`` — ``soooo`` → ``so`` (dictionary form when the word list knows one, else the
  run cut to ``max_letter_repeat``).
* ``space_before_punctuation`` — ``word ,`` → ``word,``; ``( x )`` → ``(x)``.
* ``numbers`` — thousands separated by (thin/no-break) spaces or apostrophes → ``,``; ``50 %`` → ``50%``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tuneprep.correct.edits import Edit
from tuneprep.correct.protect import overlaps, protected_spans

RULES = ("ptb", "quotes", "dashes", "ellipsis", "repeated_punctuation", "elongation",
         "space_before_punctuation", "numbers")


@dataclass
class NormalizeConfig:
    rules: tuple[str, ...] = RULES
    dash: str = "—"
    ellipsis: str = "..."
    max_letter_repeat: int = 2
    words: dict[str, int] | None = field(default=None, repr=False)
    """Word counts used by ``elongation`` to pick the dictionary form (None: cut runs only)."""


_PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
                 "-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_PTB_BRACKET = re.compile("|".join(re.escape(k) for k in _PTB_BRACKETS))
# A split clitic: " 's", " n't", " 're"… after a word (SST: "it 's", "does n't", "ca n't").
_PTB_CLITIC = re.compile(r"(?<=\w) (n't|'s|'re|'ve|'ll|'d|'m)\b", re.I)
# `` opening and '' closing double quotes, with the space inside them.
_PTB_OPEN = re.compile(r"``\s?")
_PTB_CLOSE = re.compile(r"\s?''(?!\w)")  # not "it''s", a doubled apostrophe
_PTB_SINGLE = re.compile(r"` ?([^`'\n]*?[\w.!?]) ?'(?!\w)")
# Space before closing punctuation after a word or closing bracket/quote: "word ." / "word ,".
_SPACE_BEFORE = re.compile(r"(?<=[\w)\]\"'%]) +(?=[,.;:!?)\]](?:\s|$|[\"')\]]))")
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[]) +(?=\w)")

_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
           "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2033": '"'}
_QUOTE = re.compile("[" + "".join(_QUOTES) + "]")
# Only the dash characters change; the spacing around them is the writer's (or the style's) choice.
_DASH = re.compile(r"(?<=[\w\s.,;:!?\"')])(?:--|\u2014|\u2015)(?=[\w\s\"'(])|(?<=\S )\u2013(?= \S)")
_ELLIPSIS = re.compile(r"\u2026|\.{4,}|(?<!\S)\. \. \.(?! \.)|(?<=\w)\. \. \.")
_REPEAT_PUNCT = re.compile(r"([!?])[!?]*\1[!?]*|,{2,}|;{2,}")
_ELONGATED = re.compile(r"\b[A-Za-z]*([A-Za-z])\1{2,}[A-Za-z]*\b")
_RUN = re.compile(r"([A-Za-z])\1{2,}")
_THOUSANDS = re.compile(r"\b\d{1,3}(?:[\u202f\u2009\u00a0'](\d{3}))+\b")
_PERCENT = re.compile(r"(?<=\d) +(?=%)")


def _ptb(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _PTB_BRACKET.finditer(text):
        yield Edit(m.start(), m.end(), m.group(), _PTB_BRACKETS[m.group()], "ptb")
    for m in _PTB_CLITIC.finditer(text):
        yield Edit(m.start(), m.start() + 1, " ", "", "ptb")
    for m in _PTB_OPEN.finditer(text):
        yield Edit(m.start(), m.end(), m.group(), '"', "ptb")
    for m in _PTB_CLOSE.finditer(text):
        yield Edit(m.start(), m.end(), m.group(), '"', "ptb")
    for m in _PTB_SINGLE.finditer(text):  # "` hip '" -> "'hip'"
        yield Edit(m.start(), m.start(1), m.group()[:m.start(1) - m.start()], "'", "ptb")
        yield Edit(m.end(1), m.end(), m.group()[m.end(1) - m.start():], "'", "ptb")


def _quotes(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _QUOTE.finditer(text):
        yield Edit(m.start(), m.end(), m.group(), _QUOTES[m.group()], "quotes")


def _dashes(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _DASH.finditer(text):
        if m.group() != cfg.dash:
            yield Edit(m.start(), m.end(), m.group(), cfg.dash, "dashes")


def _ellipsis(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _ELLIPSIS.finditer(text):
        if m.group() != cfg.ellipsis:
            yield Edit(m.start(), m.end(), m.group(), cfg.ellipsis, "ellipsis")


def _repeated_punctuation(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _REPEAT_PUNCT.finditer(text):
        s = m.group()
        # keep the distinct marks in order of first appearance: "?!?!" -> "?!", "!!!" -> "!"
        new = "".join(dict.fromkeys(s))
        if new != s:
            yield Edit(m.start(), m.end(), s, new, "repeated_punctuation")


def _elongation(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    words = cfg.words
    for m in _ELONGATED.finditer(text):
        w = m.group()
        low = w.lower()
        if len(set(low)) == 1 or (words is not None and low in words):  # "zzz", "www", real words
            continue
        if w.isupper() and len(_RUN.findall(w)) == 0:
            continue
        new = _shorten(w, cfg.max_letter_repeat, words)
        if new != w:
            yield Edit(m.start(), m.end(), w, new, "elongation")


def _shorten(word: str, keep: int, words: dict[str, int] | None) -> str:
    """The most frequent dictionary word got by cutting each long run to 1 or 2 letters, else runs cut to ``keep``."""
    runs = [(m.start(), m.end()) for m in _RUN.finditer(word)]
    fallback = _RUN.sub(lambda m: m.group(1) * keep, word)
    if words is None or len(runs) > 4:
        return fallback
    best, best_n = fallback, 0
    for mask in range(1 << len(runs)):
        parts, pos = [], 0
        for j, (a, b) in enumerate(runs):
            parts.append(word[pos:a])
            parts.append(word[a] * (2 if mask >> j & 1 else 1))
            pos = b
        parts.append(word[pos:])
        cand = "".join(parts)
        n = words.get(cand.lower(), 0)
        if n > best_n:
            best, best_n = cand, n
    return best


def _space_before_punctuation(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for rx in (_SPACE_BEFORE, _SPACE_AFTER_OPEN):
        for m in rx.finditer(text):
            yield Edit(m.start(), m.end(), m.group(), "", "space_before_punctuation")


def _numbers(text: str, cfg: NormalizeConfig) -> Iterator[Edit]:
    for m in _THOUSANDS.finditer(text):
        s = m.group()
        new = re.sub(r"[\u202f\u2009\u00a0']", ",", s)
        yield Edit(m.start(), m.end(), s, new, "numbers")
    for m in _PERCENT.finditer(text):
        yield Edit(m.start(), m.end(), m.group(), "", "numbers")


_RULE_FUNCS: dict[str, Callable[[str, NormalizeConfig], Iterator[Edit]]] = {
    "ptb": _ptb, "quotes": _quotes, "dashes": _dashes, "ellipsis": _ellipsis,
    "repeated_punctuation": _repeated_punctuation, "elongation": _elongation,
    "space_before_punctuation": _space_before_punctuation, "numbers": _numbers,
}


class Normalizer:
    """Propose the edits of the enabled rules for one text (see the module docstring)."""

    def __init__(self, cfg: NormalizeConfig):
        unknown = [r for r in cfg.rules if r not in _RULE_FUNCS]
        if unknown:
            raise ValueError(f"unknown normalize rule(s) {unknown}; rules: {', '.join(RULES)}")
        self.cfg = cfg
        self.funcs = [_RULE_FUNCS[r] for r in RULES if r in cfg.rules]

    def propose(self, text: str) -> list[Edit]:
        protected = protected_spans(text) if ("`" in text or "@" in text or "#" in text or "://" in text
                                              or "www." in text) else []
        chosen: list[Edit] = []
        taken: list[tuple[int, int]] = []
        for fn in self.funcs:
            for e in fn(text, self.cfg):
                if protected and overlaps(protected, e.start, e.end):
                    continue
                if any(e.start < b and a < e.end or a == b == e.start == e.end for a, b in taken):
                    continue  # overlapping another rule's edit: the earlier rule wins
                chosen.append(e)
                taken.append((e.start, e.end))
        chosen.sort(key=lambda e: (e.start, e.end))
        return chosen
