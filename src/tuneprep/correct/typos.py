"""Conservative spelling correction: symspellpy candidates, corrected only with a confident margin.

Real text is full of words a general dictionary does not know (names, slang, domain terms), and
"correcting" those does more harm than the typos. So a word is left alone unless every check
passes:

1. it is a plain word (letters only, ``min_length`` or longer), not in a protected span (URL,
   e-mail, @handle, #hashtag, code), not an acronym (ALL CAPS), not mixed case (``iPhone``), not
   capitalised in the middle of a sentence (a name);
2. it is unknown to the dictionary, to the user's protect list and glossary, and rare in the
   corpus itself (seen fewer than ``corpus_min_count`` times: a word the corpus repeats is its
   vocabulary, not a typo);
3. symspell finds a candidate within ``max_edit_distance`` that is common (dictionary count ≥
   ``min_candidate_count``), that keeps the first letter (``keep_first_letter``), and that beats
   every other candidate at the same distance by ``min_ratio`` in frequency — or, with
   ``context``, in bigram count with the neighbouring words. Distance-2 candidates must also be
   the only candidate within distance 2 and the word at least ``min_length_distance2`` long.

The case of the original is kept (``Recieve`` → ``Receive``); punctuation is never touched since
only the letters of a word are replaced.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tuneprep.correct.dictionary import dictionary_files, word_frequencies
from tuneprep.correct.edits import Edit
from tuneprep.correct.protect import overlaps, protected_spans

# A word: letters only, not glued to digits, underscores or other letters' apostrophe-less runs.
WORD = re.compile(r"(?<![\w])[A-Za-z]+(?![\w])")
_TOKEN = re.compile(r"[A-Za-z]+")
# Where a capitalised word may just be a sentence's first word: the text's start, after a line
# break, or after . ! ? (and an optional closing quote or bracket) and a space.
_SENTENCE_START = re.compile(r"(?:^|\n|(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bProf)(?<!\bSen)(?<!\bRep)"
                             r"(?<!\bGen)(?<!\bGov)(?<!\bLt)(?<!\bCol)(?<!\bJr)(?<!\bvs)[.!?][\"')\]]?\s)[\"'(\[]?\s*$")
_GLUED_AFTER = re.compile(r"\s?['\u2019`]|-\w")
_GLUED_BEFORE = ("'", "\u2019", "`", "-")


@dataclass
class TypoConfig:
    language: str = "en"
    dictionary_path: str | None = None
    bigram_path: str | None = None
    max_edit_distance: int = 2
    min_length: int = 3
    min_length_distance2: int = 6
    min_candidate_count: int = 100_000
    min_ratio: float = 10.0
    keep_first_letter: bool = True
    context: bool = True
    corpus_min_count: int = 2
    protect: set[str] = field(default_factory=set)
    capitalised: bool = False
    """Also correct capitalised words that open a sentence (stricter margin; they are often names)."""
    max_unknown_share: float = 0.25
    """Texts where more than this share of words is unknown are left alone (another language, code)."""
    extra_known: bool = True
    """Also treat pyspellchecker's word list (US spellings such as 'traveling') as known words."""


class TypoCorrector:
    """Propose typo corrections for texts; ``learn`` the corpus vocabulary first (see module doc)."""

    def __init__(self, cfg: TypoConfig):
        self.cfg = cfg
        uni, bi = dictionary_files(cfg.language) if cfg.dictionary_path is None else (cfg.dictionary_path, None)
        if cfg.bigram_path:
            bi = cfg.bigram_path
        self.words = word_frequencies(str(uni))
        self.sym = _symspell(str(uni), cfg.max_edit_distance)
        self.bigrams = _bigrams(str(bi)) if cfg.context and bi is not None else {}
        self.protect = {w.lower() for w in cfg.protect}
        self.known: set[str] | dict[str, int] = _extra_known() if cfg.extra_known else set()
        self.corpus: Counter[str] = Counter()

    # --- corpus vocabulary ---------------------------------------------------------------------

    def learn(self, texts: Iterable[str]) -> None:
        """Count the corpus's words (lowercased): frequent ones are protected from correction."""
        for t in texts:
            self.corpus.update(w.lower() for w in _TOKEN.findall(t))

    def add_vocabulary(self, counts: dict[str, int]) -> None:
        self.corpus.update({k.lower(): v for k, v in counts.items()})

    # --- correction ----------------------------------------------------------------------------

    def candidates(self, low: str) -> list[tuple[str, int, int]]:
        """(term, distance, count) of the dictionary words within ``max_edit_distance``."""
        from symspellpy import Verbosity

        return [(s.term, s.distance, s.count) for s in
                self.sym.lookup(low, Verbosity.ALL, max_edit_distance=self.cfg.max_edit_distance)]

    def _choose(self, low: str, prev: str | None, nxt: str | None, capitalised: bool = False) -> str | None:
        cfg = self.cfg
        cands = [c for c in self.candidates(low) if c[0] != low and _plausible(low, c[0], c[2])]
        if capitalised:  # a capitalised word that opens a sentence may still be a name: stricter
            cands = [c for c in cands if c[1] == 1 and c[2] >= 10 * cfg.min_candidate_count]
        if cfg.keep_first_letter:  # real typos rarely hit the first letter; names differ there often
            cands = [c for c in cands if c[0][0] == low[0]]
        if not cands:
            return None
        d_min = min(d for _, d, _ in cands)
        if d_min >= 2 and (len(low) < cfg.min_length_distance2 or self._derived_or_compound(low)):
            return None
        near = sorted((c for c in cands if c[1] == d_min), key=lambda c: -c[2])
        best = near[0]
        if best[2] < cfg.min_candidate_count:
            return None
        ratio = cfg.min_ratio * (2 if d_min >= 2 else 1)
        if len(near) > 1 and best[2] < ratio * near[1][2]:
            if not (cfg.context and self.bigrams):
                return None
            scores = sorted(((self._context(c[0], prev, nxt), c[0]) for c in near), reverse=True)
            if scores[0][0] == 0 or scores[0][0] < ratio * scores[1][0]:
                return None
            return scores[0][1]
        return best[0]

    def _context(self, cand: str, prev: str | None, nxt: str | None) -> int:
        n = 0
        if prev:
            n += self.bigrams.get(f"{prev} {cand}", 0)
        if nxt:
            n += self.bigrams.get(f"{cand} {nxt}", 0)
        return n

    def correction(self, word: str, prev: str | None = None, nxt: str | None = None) -> str | None:
        """The corrected form of one word (case kept), or None to leave it as it is."""
        low = word.lower()
        if (len(low) < self.cfg.min_length or low in self.words or low in self.protect or low in self.known
                or self.corpus[low] >= self.cfg.corpus_min_count):
            return None
        if word.isupper() or (word[1:] != word[1:].lower()):  # acronym, mixed case (iPhone)
            return None
        fixed = self._choose(low, prev, nxt, capitalised=word[0].isupper())
        if fixed is None:
            return None
        return fixed.capitalize() if word[0].isupper() else fixed

    def is_known(self, low: str) -> bool:
        return low in self.words or low in self.known or low in self.protect

    def _derived_or_compound(self, low: str) -> bool:
        """A known word plus a common suffix ('blazingly') or two known words ('backmasking').

        Such a word is a coinage far more often than a typo two edits away from some other word
        ('blazing', 'backpacking'); at one edit ('controll') it is still corrected.
        """
        for suf in _SUFFIXES:
            if low.endswith(suf) and len(low) - len(suf) >= 4:
                stem = low[: -len(suf)]
                if self.is_known(stem) or self.is_known(stem + "e") or (stem.endswith("i") and self.is_known(stem[:-1] + "y")):
                    return True
        for pre in _PREFIXES:
            if low.startswith(pre) and len(low) - len(pre) >= 4 and self.is_known(low[len(pre):]):
                return True
        return any(self.is_known(low[:i]) and self.is_known(low[i:]) for i in range(3, len(low) - 2))

    def unknown_share(self, words: list[str]) -> float:
        """Share of words of three letters or more that no word list knows (high: another language)."""
        long = [w.lower() for w in words if len(w) >= 3]
        if not long:
            return 0.0
        unknown = sum(not (self.is_known(w) or self.corpus[w] >= self.cfg.corpus_min_count) for w in long)
        return unknown / len(long) if unknown >= 3 else 0.0  # one or two typos in a short text are not a language

    def propose(self, text: str) -> list[Edit]:
        """Edits for the typos in ``text`` (see the module docstring for what is left alone)."""
        protected = protected_spans(text) if ("`" in text or "@" in text or "#" in text or "://" in text
                                              or "www." in text) else []
        matches = list(WORD.finditer(text))
        if self.unknown_share(_LETTERS.findall(text)) > self.cfg.max_unknown_share:
            return []  # mostly words the dictionary does not know: another language or a code listing
        edits = []
        for i, m in enumerate(matches):
            w = m.group()
            low = w.lower()
            if len(w) < self.cfg.min_length or low in self.words:
                continue
            if w[0].isupper() and not (self.cfg.capitalised and _SENTENCE_START.search(text, 0, m.start())):
                continue  # capitalised in mid-sentence: a name; at a sentence start: often a name too
            if _GLUED_AFTER.match(text, m.end()) or text[m.start() - 1:m.start()] in _GLUED_BEFORE:
                continue  # part of a contraction ("didn 't"), a compound ("neo-noir") or a quoted fragment
            if protected and overlaps(protected, m.start(), m.end()):
                continue
            prev = matches[i - 1].group().lower() if i else None
            nxt = matches[i + 1].group().lower() if i + 1 < len(matches) else None
            fixed = self.correction(w, prev, nxt)
            if fixed is not None and fixed != w:
                edits.append(Edit(m.start(), m.end(), w, fixed))
        return edits


# A word that is a dictionary word plus or minus one final letter ("novak"/"nova", "wilco"/"wilcox",
# "deepa"/"deep") is more often a name or another word form than a typo, unless the letter doubles
# the one before ("thiss") or the dictionary word is among the commonest ("becaus"/"because").
FINAL_LETTER_MIN_COUNT = 60_000_000
_PREFIXES = ("un", "re", "non", "pre", "mis", "over", "under", "out", "super", "anti")
_LETTERS = re.compile(r"[^\W\d_]+")  # words in any script: an accented word counts as unknown below
_SUFFIXES = ("ly", "ness", "less", "ish", "ies", "ed", "ing", "er", "ers", "est", "ful", "able", "ism", "ist", "s")


def _plausible(low: str, cand: str, count: int) -> bool:
    if cand == low[:-1]:
        return low[-1] == low[-2] or count >= FINAL_LETTER_MIN_COUNT
    if cand[:-1] == low:
        return count >= FINAL_LETTER_MIN_COUNT
    return True


@lru_cache(maxsize=2)
def _symspell(path: str, max_edit_distance: int) -> Any:
    """The SymSpell index of a dictionary file, built once per process (it takes seconds)."""
    from symspellpy import SymSpell

    sym = SymSpell(max_dictionary_edit_distance=max_edit_distance, prefix_length=7)
    for w, c in word_frequencies(path).items():
        sym.create_dictionary_entry(w, c)
    return sym


@lru_cache(maxsize=2)
def _bigrams(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:
                out[f"{parts[0]} {parts[1]}"] = int(parts[2])
    return out


@lru_cache(maxsize=1)
def _extra_known() -> set[str]:
    """pyspellchecker's English word list (a superset for US spellings), or empty when not installed."""
    try:
        from spellchecker import SpellChecker
    except ModuleNotFoundError:
        return set()
    return set(SpellChecker(language="en").word_frequency.dictionary)
