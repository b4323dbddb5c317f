"""Correcting operators that edit text: typos, terminology, irregularities.

Every text edit is audited (``tuneprep.correct.edits``): the record carries
``meta.edits.<op> = [{start, end, from, to}]`` (offsets into the text before the op; chat records
add ``message``), ``stats.json`` counts the edits and the most frequent replacements per step,
and ``dry_run: true`` records the proposed edits without changing the text.

* ``clean.normalize`` — named, switchable rules (PTB detokenisation, quotes, dashes, …);
* ``clean.typos`` — conservative symspell spelling correction (global: learns the corpus vocabulary);
* ``clean.terminology`` — a glossary of canonical terms and variants, one Aho–Corasick pass per chunk.

Ambiguous labels (``dedup.conflicts``, ``filter.agreement``) are in :mod:`tuneprep.ops.ambiguity`.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from tuneprep.correct.edits import EditCounter, audit_record, audit_records
from tuneprep.ops.base import Drop, GlobalOp, Item, OpParams, RecordOp, register
from tuneprep.records import record_text


class _EditParams(OpParams):
    dry_run: bool = False
    """Record the proposed edits in meta.edits without changing the text (review before applying)."""


class _Editing:
    """Counts edits for stats.json; the engine calls ``take_counters`` after each chunk."""

    _counter: EditCounter | None = None

    @property
    def counter(self) -> EditCounter:
        if self._counter is None:
            self._counter = EditCounter()
        return self._counter

    def take_counters(self) -> Counter[str]:
        return self.counter.take()

    def _ready(self) -> None:
        # The local engine runs a per-record step that follows a global one without calling
        # setup() (engine/local.py, phase B); set up on first use so such recipes work too.
        if not getattr(self, "_set_up", False):
            self.setup()  # type: ignore[attr-defined]
            self._set_up = True


# --- clean.normalize -----------------------------------------------------------------------------


class NormalizeParams(_EditParams):
    rules: list[str] = Field(default_factory=lambda: list(_rules()))
    """Rules to apply: ptb, quotes, dashes, ellipsis, repeated_punctuation, elongation,
    space_before_punctuation, numbers (default: all)."""
    skip: list[str] = []
    """Rules to switch off (applied after ``rules``)."""
    dash: str = "—"
    """The one dash style for '--', spaced en dashes and em dashes."""
    ellipsis: str = "..."
    """The one ellipsis style for '…', '....' and '. . .'."""
    max_letter_repeat: int = Field(2, ge=1)
    """elongation: letters kept of a long run when no dictionary word fits ('soooo' → 'soo' at 2)."""

    @field_validator("rules", "skip")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if r not in _rules()]
        if bad:
            raise ValueError(f"unknown rule(s) {bad}; rules: {', '.join(_rules())}")
        return v


def _rules() -> tuple[str, ...]:
    from tuneprep.correct.normalize import RULES

    return RULES


@register
class CleanNormalize(_Editing, RecordOp):
    """Fix irregularities by named rules; every edit recorded under meta.edits.clean.normalize."""

    name: ClassVar[str] = "clean.normalize"
    Params: ClassVar[type[OpParams]] = NormalizeParams
    description: ClassVar[str] = "Irregularities by named rules: PTB tokens, quotes, dashes, elongation, punctuation…"

    def setup(self) -> None:
        from tuneprep.correct.dictionary import english_frequencies
        from tuneprep.correct.normalize import NormalizeConfig, Normalizer

        p = self.params
        rules = tuple(r for r in p.rules if r not in p.skip)
        words = english_frequencies() if "elongation" in rules else None
        self.normalizer = Normalizer(NormalizeConfig(rules, p.dash, p.ellipsis, p.max_letter_repeat, words))
        self._set_up = True

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        self._ready()
        return audit_record(record, self.name, self.normalizer.propose, dry_run=self.params.dry_run,
                            counter=self.counter)


# --- word lists (protect list, vocabulary) -----------------------------------------------------------


def read_word_list(path: str, with_counts: bool = False) -> dict[str, int]:
    """A protect list (one word per line) or vocabulary (``word`` or ``word<space>count``); ``#`` comments.

    Raises GlossaryError naming file, line and entry for a malformed line.
    """
    from tuneprep.correct.terminology import GlossaryError

    p = Path(path)
    if not p.exists():
        raise GlossaryError(f"{path}: no such file")
    out: dict[str, int] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        parts = entry.split()
        if with_counts and len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = out.get(parts[0], 0) + int(parts[1])
        elif len(parts) == 1:
            out[parts[0]] = out.get(parts[0], 0) + 1
        else:
            want = "'word' or 'word count'" if with_counts else "one word per line"
            raise GlossaryError(f"{path}:{n}: entry {entry!r}: expected {want}")
    return out


def _checked(loader: Callable[[], Any]) -> None:
    """Run a file check at recipe validation, so a bad file is a recipe error (exit 2)."""
    from tuneprep.correct.terminology import GlossaryError

    try:
        loader()
    except GlossaryError as e:
        raise ValueError(str(e)) from None


# --- clean.typos -----------------------------------------------------------------------------------


class TyposParams(_EditParams):
    language: str = "en"
    """Dictionary language (symspellpy's bundled 'en' now; other languages via dictionary_path)."""
    dictionary_path: str | None = None
    """A symspell-format 'term count' file replacing the bundled dictionary."""
    max_edit_distance: int = Field(2, ge=1, le=3)
    """Largest edit distance (Damerau OSA) between a word and its correction."""
    min_length: int = Field(3, ge=1)
    """Shorter words are never corrected."""
    min_length_distance2: int = Field(6, ge=1)
    """Corrections at distance 2 only for words at least this long."""
    min_candidate_count: int = Field(100_000, ge=0)
    """A correction must be at least this frequent in the dictionary (Google n-gram counts)."""
    min_ratio: float = Field(10.0, ge=1.0)
    """The chosen candidate must be this many times more frequent (or, with context, more likely
    next to its neighbours) than the runner-up at the same distance; doubled at distance 2."""
    keep_first_letter: bool = True
    """Only candidates with the word's first letter (names and real words differ there often)."""
    context: bool = True
    """Break ties between candidates with the bundled bigram counts of the neighbouring words."""
    capitalised: bool = False
    """Also correct capitalised words at a sentence start (stricter margin; in reviews and plots they
    are mostly names). Capitalised words mid-sentence are never corrected."""
    max_unknown_share: float = Field(0.25, ge=0.0, le=1.0)
    """Leave a text alone when more than this share of its words (3+ unknown) is unknown: another language."""
    learn_vocabulary: bool = True
    """First pass: count the corpus's own words; those seen corpus_min_count times are protected."""
    corpus_min_count: int = Field(2, ge=1)
    """How often a word must occur in the corpus (or vocabulary file) to be protected."""
    vocabulary: str | None = None
    """File of corpus words ('word' or 'word count' per line), added to the learned counts."""
    protect: list[str] = []
    """Words never corrected."""
    protect_file: str | None = None
    """File of words never corrected (one per line, '#' comments)."""
    glossary: str | None = None
    """clean.terminology glossary: its terms and variants are never corrected."""
    extra_known: bool = True
    """Treat pyspellchecker's English word list (US spellings, rarer words) as known words."""

    @model_validator(mode="after")
    def _files(self) -> TyposParams:
        from tuneprep.correct.terminology import load_glossary

        if self.vocabulary:
            _checked(lambda: read_word_list(self.vocabulary, with_counts=True))  # type: ignore[arg-type]
        if self.protect_file:
            _checked(lambda: read_word_list(self.protect_file))  # type: ignore[arg-type]
        if self.glossary:
            _checked(lambda: load_glossary(self.glossary))  # type: ignore[arg-type]
        return self


@register
class CleanTypos(_Editing, GlobalOp):
    """Spelling correction with symspellpy, only with a confident margin; protects names, codes, corpus words."""

    name: ClassVar[str] = "clean.typos"
    Params: ClassVar[type[OpParams]] = TyposParams
    description: ClassVar[str] = "Conservative typo correction (symspellpy): learns the corpus vocabulary, then corrects."

    def setup(self) -> None:
        from tuneprep.correct.terminology import load_glossary
        from tuneprep.correct.typos import TypoConfig, TypoCorrector

        p = self.params
        protect = set(p.protect)
        if p.protect_file:
            protect |= set(read_word_list(p.protect_file))
        if p.glossary:
            protect |= load_glossary(p.glossary).protected_words()
        self.corrector = TypoCorrector(TypoConfig(
            language=p.language, dictionary_path=p.dictionary_path, max_edit_distance=p.max_edit_distance,
            min_length=p.min_length, min_length_distance2=p.min_length_distance2,
            min_candidate_count=p.min_candidate_count, min_ratio=p.min_ratio,
            keep_first_letter=p.keep_first_letter, context=p.context, corpus_min_count=p.corpus_min_count,
            protect=protect, extra_known=p.extra_known, capitalised=p.capitalised,
            max_unknown_share=p.max_unknown_share))
        if p.vocabulary:
            self.corrector.add_vocabulary(read_word_list(p.vocabulary, with_counts=True))

    def apply_global(self, open_items: Callable[[], Iterator[Item]]) -> Iterator[tuple[Item, Drop | None]]:
        if self.params.learn_vocabulary:
            self.corrector.learn(record_text(it.record) for it in open_items())
        for it in open_items():
            audit_record(it.record, self.name, self.corrector.propose, dry_run=self.params.dry_run,
                         counter=self.counter)
            yield it, None


# --- clean.terminology -------------------------------------------------------------------------------


class TerminologyParams(_EditParams):
    glossary: str
    """Glossary file (YAML or CSV): canonical term → variants, with case_sensitive, whole_word, inflections."""

    @model_validator(mode="after")
    def _file(self) -> TerminologyParams:
        from tuneprep.correct.terminology import load_glossary

        _checked(lambda: load_glossary(self.glossary))
        return self


@register
class CleanTerminology(_Editing, RecordOp):
    """Replace glossary variants by their canonical term (one Aho–Corasick pass, longest match first)."""

    name: ClassVar[str] = "clean.terminology"
    Params: ClassVar[type[OpParams]] = TerminologyParams
    description: ClassVar[str] = "Enforce a glossary: variants → canonical terms, counted per term."

    def setup(self) -> None:
        from tuneprep.correct.terminology import TermMatcher, load_glossary

        self.matcher = TermMatcher(load_glossary(self.params.glossary))
        self._set_up = True

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        return self._audit([record])[0]

    def apply_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any] | Drop]:
        # one automaton scan over the whole chunk: per record, Python only touches the matches
        with _gc_paused():
            return [*self._audit(records)]

    def _audit(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._ready()
        return audit_records(records, self.name, self.matcher.propose_many, dry_run=self.params.dry_run,
                             counter=self.counter)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one chunk.

    A chunk makes tens of thousands of small containers (matches, edits, audit entries) and no
    reference cycle; each burst of allocations would otherwise start collections that walk the
    whole heap for nothing (measured: a third of clean.terminology's time on the benchmark).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
