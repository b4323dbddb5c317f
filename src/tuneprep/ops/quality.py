"""``filter.quality``: the published document-quality heuristics (Gopher, C4, FineWeb), one reason per rule.

The measures are pure functions (``tuneprep.ops.quality_rules``); this module holds the rule table
(which measure, which bound, the papers' thresholds), the presets, and the operator. Every measure
of every active rule group is written to ``meta.scores["filter.quality"]`` (kept records too), so a
threshold can be re-tuned afterwards without recomputing; a dropped record's reason is the first
rule it fails (in the order below, which is datatrove's), with the measured value and the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from tuneprep.ops import quality_rules as qr
from tuneprep.ops.base import Drop, OpParams, RecordOp, register
from tuneprep.ops.language import judged_text
from tuneprep.records import set_score


@dataclass(frozen=True)
class Rule:
    """One switchable, re-tunable rule: ``group.name``; ``kind`` min/max compare a measure, flag is on/off."""

    group: str
    name: str
    kind: Literal["min", "max", "flag", "setting"]
    measure: str
    help: str

    @property
    def key(self) -> str:
        return f"{self.group}.{self.name}"


# Characters that only ever form punctuation tokens (Unicode category P*, so spaCy's is_punct) and may
# trail a sentence: sentence-final marks, quotes, closing brackets.
_TRAILING_PUNCT = "".join(sorted(set(".!?…\"'”’»)]}")))

_R = Rule
# Order = evaluation order = the reason a record gets when several rules fail (datatrove's order per group).
RULES: tuple[Rule, ...] = (
    _R("gopher_repetition", "max_dup_para_frac", "max", "dup_para_frac", "duplicate paragraphs / paragraphs"),
    _R("gopher_repetition", "max_dup_para_char_frac", "max", "dup_para_char_frac",
       "characters in duplicate paragraphs / characters"),
    _R("gopher_repetition", "max_dup_line_frac", "max", "dup_line_frac", "duplicate lines / lines"),
    _R("gopher_repetition", "max_dup_line_char_frac", "max", "dup_line_char_frac",
       "characters in duplicate lines / characters"),
    *(_R("gopher_repetition", f"max_top_{n}_gram_char_frac", "max", f"top_{n}_gram_char_frac",
         f"characters covered by the most frequent word {n}-gram / characters") for n in (2, 3, 4)),
    *(_R("gopher_repetition", f"max_dup_{n}_gram_char_frac", "max", f"dup_{n}_gram_char_frac",
         f"characters in repeated word {n}-grams / characters") for n in range(5, 11)),
    _R("gopher_quality", "min_words", "min", "words", "words (tokens with a non-punctuation character)"),
    _R("gopher_quality", "max_words", "max", "words", "words (tokens with a non-punctuation character)"),
    _R("gopher_quality", "min_mean_word_length", "min", "mean_word_length", "mean word length (characters)"),
    _R("gopher_quality", "max_mean_word_length", "max", "mean_word_length", "mean word length (characters)"),
    _R("gopher_quality", "max_hash_ratio", "max", "hash_ratio", "'#' per word"),
    _R("gopher_quality", "max_ellipsis_ratio", "max", "ellipsis_ratio", "'...' or '…' per word"),
    _R("gopher_quality", "max_bullet_lines", "max", "bullet_lines", "fraction of lines starting with '•' or '-'"),
    _R("gopher_quality", "max_ellipsis_lines", "max", "ellipsis_lines", "fraction of lines ending with an ellipsis"),
    _R("gopher_quality", "min_alpha_words", "min", "alpha_words", "fraction of words with a letter"),
    _R("gopher_quality", "min_stop_words", "min", "stop_words",
       "distinct stop words of the, be, to, of, and, that, have, with"),
    _R("fineweb", "min_line_punct", "min", "line_punct", "fraction of lines ending in terminal punctuation"),
    _R("fineweb", "short_line_length", "setting", "", "a line of at most this many characters is short"),
    _R("fineweb", "max_short_lines", "max", "short_lines", "fraction of short lines"),
    _R("fineweb", "max_dup_line_chars", "max", "dup_line_chars",
       "characters in repeated lines / non-newline characters"),
    _R("fineweb", "max_list_ratio", "max", "list_ratio", "newlines per word"),
    _R("c4", "line_max_word_length", "setting", "", "C4 removes lines with a longer word (characters)"),
    _R("c4", "line_remove_citations", "setting", "", "C4 removes [1], [edit], [citation needed] first"),
    _R("c4", "line_terminal_punct", "setting", "", "C4 removes lines not ending in . ? ! \" ' (or ending in ...)"),
    _R("c4", "line_min_words", "setting", "", "C4 removes lines with fewer words"),
    _R("c4", "lorem_ipsum", "flag", "", "drop a document with 'lorem ipsum' in a kept line"),
    _R("c4", "line_javascript", "setting", "", "C4 removes lines mentioning 'javascript'"),
    _R("c4", "curly_bracket", "flag", "", "drop a document with '{' in a kept line"),
    _R("c4", "line_policy", "setting", "", "C4 removes lines about cookies / privacy policy / terms of use"),
    _R("c4", "min_sentences", "min", "sentences", "sentences in the lines C4 keeps"),
)
RULES_BY_KEY = {r.key: r for r in RULES}
GROUPS = ("gopher_repetition", "gopher_quality", "fineweb", "c4")

Threshold = float | int | bool | None

GOPHER: dict[str, Threshold] = {
    "gopher_repetition.max_dup_para_frac": 0.3, "gopher_repetition.max_dup_para_char_frac": 0.2,
    "gopher_repetition.max_dup_line_frac": 0.3, "gopher_repetition.max_dup_line_char_frac": 0.2,
    "gopher_repetition.max_top_2_gram_char_frac": 0.2, "gopher_repetition.max_top_3_gram_char_frac": 0.18,
    "gopher_repetition.max_top_4_gram_char_frac": 0.16,
    **{f"gopher_repetition.max_dup_{n}_gram_char_frac": round(0.15 - (n - 5) * 0.01, 2) for n in range(5, 11)},
    "gopher_quality.min_words": 50, "gopher_quality.max_words": 100_000,
    "gopher_quality.min_mean_word_length": 3, "gopher_quality.max_mean_word_length": 10,
    "gopher_quality.max_hash_ratio": 0.1, "gopher_quality.max_ellipsis_ratio": 0.1,
    "gopher_quality.max_bullet_lines": 0.9, "gopher_quality.max_ellipsis_lines": 0.3,
    "gopher_quality.min_alpha_words": 0.8, "gopher_quality.min_stop_words": 2,
}
C4: dict[str, Threshold] = {
    "c4.line_max_word_length": 1000, "c4.line_remove_citations": True, "c4.line_terminal_punct": True,
    "c4.line_min_words": 3, "c4.lorem_ipsum": True, "c4.line_javascript": True, "c4.curly_bracket": True,
    "c4.line_policy": True, "c4.min_sentences": 5,
}
FINEWEB_RULES: dict[str, Threshold] = {
    "fineweb.min_line_punct": 0.12, "fineweb.short_line_length": 30, "fineweb.max_short_lines": 0.67,
    "fineweb.max_dup_line_chars": 0.01, "fineweb.max_list_ratio": 0.3,
}
# Short instruction/chat data (see README "Screening" and benchmarks/results/quality_on_sft.json for
# the measured effect on Alpaca and ShareGPT data). Web thresholds assume pages of hundreds of words:
# on Alpaca the gopher preset drops 54 %, c4 50 %, fineweb 61 % -- mostly good, short answers (e.g.
# "What is the capital of France? / The capital city of France is Paris." fails the top-4-gram rule).
# Kept, loosened for short texts: the repetition rules that catch degenerate output. One echoed
# phrase (an answer restating its question) is 10-30 % of a short text's characters, so the duplicated
# 5..10-gram bound is 0.3 for every n (a looping answer scores far above), and repeated lines /
# paragraphs may be half the lines / 40 % of the characters (code and verse repeat some lines).
# Kept at the papers' values: '#' and ellipsis per word, ellipsis-ended lines (truncated answers),
# mean word length widened to 2..15 (code identifiers, short tokens). Off: the 50-word minimum (a
# good answer may be one word: min 1), stop words (short answers have none), top n-gram fractions (one
# repeated phrase is a large share of a short text), bullet lines and the alphabetic-word fraction
# (lists, arrays and arithmetic are normal answers: "[5, 4, 3, 2, 1]" has no letters), all of C4
# (>= 5 sentences; any '{' drops all code) and FineWeb's line rules (code and lists end lines
# without punctuation and are made of short lines).
SFT: dict[str, Threshold] = {
    "gopher_repetition.max_dup_para_frac": 0.5, "gopher_repetition.max_dup_para_char_frac": 0.4,
    "gopher_repetition.max_dup_line_frac": 0.5, "gopher_repetition.max_dup_line_char_frac": 0.4,
    **{f"gopher_repetition.max_dup_{n}_gram_char_frac": 0.3 for n in range(5, 11)},
    "gopher_quality.min_words": 1, "gopher_quality.max_words": 100_000,
    "gopher_quality.min_mean_word_length": 2, "gopher_quality.max_mean_word_length": 15,
    "gopher_quality.max_hash_ratio": 0.1, "gopher_quality.max_ellipsis_ratio": 0.1,
    "gopher_quality.max_ellipsis_lines": 0.3,
}
PRESETS: dict[str, dict[str, Threshold]] = {
    "gopher": GOPHER,
    "c4": C4,
    # FineWeb's own recipe: Gopher repetition + quality, C4 without the terminal-punctuation line rule, FineWeb.
    "fineweb": {**GOPHER, **C4, "c4.line_terminal_punct": False, **FINEWEB_RULES},
    # All four at the papers' defaults (what benchmarks/quality_vs_datatrove.py compares).
    "web": {**GOPHER, **C4, **FINEWEB_RULES},
    "sft": SFT,
}


class QualityParams(OpParams):
    preset: Literal["gopher", "c4", "fineweb", "web", "sft"] = "gopher"
    """Base thresholds: gopher (Gopher quality + repetition), c4, fineweb (FineWeb's recipe: Gopher,
    C4 without the terminal-punctuation line rule, FineWeb's rules), web (all four at their papers'
    defaults), sft (for short instruction/chat data)."""
    rules: dict[str, Threshold] = Field(default_factory=dict)
    """Overrides on the preset, ``group.rule: value`` (e.g. ``gopher_quality.min_words: 20``); ``null``
    or ``false`` switches a rule off; a rule the preset leaves off is switched on by giving it a value."""
    roles: list[Literal["system", "user", "assistant"]] = ["user", "assistant"]
    """Chat records: the contents of these roles, joined by blank lines, are judged as one text."""
    scores: Literal["all", "until_drop"] = "all"
    """all: every measure of every active rule group, kept records and dropped (re-tune later without
    recomputing); until_drop: stop at the first group (order: Gopher repetition, Gopher quality,
    FineWeb, C4) with a failing rule, as datatrove does (faster; a dropped record then lacks the
    later groups' measures). Decisions and reasons are the same either way."""

    @field_validator("rules")
    @classmethod
    def _known(cls, v: dict[str, Threshold]) -> dict[str, Threshold]:
        unknown = sorted(set(v) - set(RULES_BY_KEY))
        if unknown:
            import difflib

            hints = [f"{u} (did you mean {', '.join(difflib.get_close_matches(u, list(RULES_BY_KEY), 2))}?)"
                     if difflib.get_close_matches(u, list(RULES_BY_KEY), 2) else u for u in unknown]
            raise ValueError(f"unknown quality rule(s): {'; '.join(hints)}. Known: {', '.join(RULES_BY_KEY)}")
        return v


def resolve_rules(preset: str, overrides: dict[str, Threshold]) -> dict[str, Threshold]:
    """The effective ``rule key → value`` (off rules left out) for a preset plus overrides."""
    merged = {**PRESETS[preset], **overrides}
    return {k: v for k, v in merged.items() if v is not None and v is not False}


def _round(x: Any) -> Any:
    """Floats to 4 decimals (NaN stays NaN: JSON null in the output)."""
    return round(x, 4) if x.__class__ is float else x


@register
class FilterQuality(RecordOp):
    """Gopher quality + repetition, C4 and FineWeb heuristics; one drop reason per rule, all measures kept."""

    name: ClassVar[str] = "filter.quality"
    Params: ClassVar[type[OpParams]] = QualityParams
    description: ClassVar[str] = ("Published quality heuristics (Gopher, C4, FineWeb; presets gopher|c4|fineweb|"
                                  "web|sft), one reason per rule, measures under meta.scores.")

    def __init__(self, params: OpParams | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self.active = resolve_rules(self.params.preset, self.params.rules)
        self.groups = [g for g in GROUPS if any(k.startswith(g + ".") for k in self.active
                                                  if RULES_BY_KEY[k].kind != "setting")]
        self._tokenizer: Any = None
        # the active comparisons, in rule order (= the order of the reasons)
        self._checks = [(r, self.active[r.key]) for r in RULES if r.key in self.active and r.kind != "setting"]

    def setup(self) -> None:
        if self._tokenizer is not None:
            return
        # spaCy's blank English tokenizer (rules only, no model): datatrove's English word splitter.
        import spacy
        from spacy.pipeline import Sentencizer

        self._tokenizer = spacy.blank("en").tokenizer
        self._sentencizer = Sentencizer()
        self._punct_chars = frozenset(Sentencizer.default_punct_chars)

    def words(self, text: str) -> list[str]:
        """The words the heuristics count: spaCy tokens, whitespace tokens dropped, stripped."""
        return [s for s in (t.text.strip() for t in self._tokenizer(text)) if s]

    def count_sentences(self, line: str) -> int:
        """Sentences in a line as spaCy's sentencizer splits it (what datatrove's C4 filter counts).

        The sentencizer starts a sentence at a token that follows a sentence-final punctuation
        token and is not punctuation itself. When every such character sits in the trailing run of
        punctuation (the usual "One sentence." line), no token can start a second sentence, so the
        answer is 1 without tokenizing; other lines go through spaCy.
        """
        if self._punct_chars.isdisjoint(line.rstrip(_TRAILING_PUNCT)):
            return 1
        doc = self._sentencizer(self._tokenizer(line))
        return sum(1 for _ in doc.sents)

    def text_of(self, record: dict[str, Any]) -> str:
        """The judged text: ``text``, or the chosen roles' contents joined by blank lines (paragraphs)."""
        return judged_text(record, self.params.roles, "\n\n")

    def measure(self, text: str, until_drop: bool = False) -> dict[str, dict[str, Any]]:
        """The measures of the active rule groups, by group, in rule order; with ``until_drop`` the
        groups after the first one with a failing rule are not computed."""
        if self._tokenizer is None:
            self.setup()
        a = self.active
        out: dict[str, dict[str, Any]] = {}
        words = self.words(text) if {"gopher_repetition", "gopher_quality", "fineweb"} & set(self.groups) else []
        for group in self.groups:
            if group == "gopher_repetition":
                top = [n for n in (2, 3, 4) if f"gopher_repetition.max_top_{n}_gram_char_frac" in a]
                dup = [n for n in range(5, 11) if f"gopher_repetition.max_dup_{n}_gram_char_frac" in a]
                out[group] = qr.gopher_repetition(text, words, top, dup)
            elif group == "gopher_quality":
                out[group] = qr.gopher_quality(text, words)
            elif group == "fineweb":
                fw = qr.fineweb(text, words, int(a.get("fineweb.short_line_length", 30)))
                out[group] = fw or {}  # None only for a blank text, which apply() rejects first
            else:
                out[group] = qr.c4_lines(
                    text, self.count_sentences,
                    terminal_punct=bool(a.get("c4.line_terminal_punct")),
                    min_words_per_line=a.get("c4.line_min_words"),  # type: ignore[arg-type]
                    max_word_length=a.get("c4.line_max_word_length"),  # type: ignore[arg-type]
                    remove_citations=bool(a.get("c4.line_remove_citations")),
                    javascript=bool(a.get("c4.line_javascript")),
                    policy=bool(a.get("c4.line_policy")),
                    lorem_ipsum=bool(a.get("c4.lorem_ipsum")),
                    curly_bracket=bool(a.get("c4.curly_bracket")),
                )
            if until_drop and self.failures({group: out[group]}):
                break
        return out

    def failures(self, measures: dict[str, dict[str, Any]]) -> list[tuple[Rule, Any, Any]]:
        """(rule, measured value, bound) for every active rule the measures fail, in rule order."""
        failed = []
        for rule, bound in self._checks:
            m = measures.get(rule.group)
            if m is None:
                continue
            if rule.kind == "flag":
                if m.get("doc_hit") == rule.name:
                    failed.append((rule, True, True))
                continue
            value = m.get(rule.measure)
            # NaN (mean word length of a text without words) fails no bound, as in the reference
            if value is None:
                continue
            if (value < bound) if rule.kind == "min" else (value > bound):
                failed.append((rule, value, bound))
        return failed

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:
        text = self.text_of(record)
        if not text.strip():
            set_score(record, self.name, {})
            return Drop("empty_text", {"chars": len(text)})
        measures = self.measure(text, until_drop=self.params.scores == "until_drop")
        set_score(record, self.name, {g: {k: _round(v) for k, v in m.items()} for g, m in measures.items()})
        failed = self.failures(measures)
        if not failed:
            return record
        rule, value, bound = failed[0]
        detail: dict[str, Any] = {"rule": rule.key}
        if rule.kind != "flag":
            detail.update({"value": _round(value), rule.kind: bound})
        if len(failed) > 1:
            detail["also"] = [f[0].key for f in failed[1:]]
        return Drop(rule.key, detail)
