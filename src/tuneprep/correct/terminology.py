"""A glossary (canonical term → variants) applied longest-match-first in one pass.

Glossary files (YAML or CSV; a malformed one is a ``GlossaryError`` naming file, line and entry):

YAML::

    options:                  # defaults for every term (all optional)
      case_sensitive: false
      whole_word: true
      inflections: false      # also plural/possessive forms: variant+s/es/'s/s' → canonical+same
    terms:
      email: [e-mail, E-mail]
      login:
        variants: [log-in, log in]
        case_sensitive: true

CSV (header required; one row per variant; the option columns are optional)::

    canonical,variant,case_sensitive,whole_word,inflections
    email,e-mail,,,
    login,log in,true,,

Matching uses an Aho–Corasick automaton (ahocorasick-rs) per case mode over the whole text (a
batch of texts at once): the leftmost-longest non-overlapping variant occurrences that respect
word boundaries are kept, found in one scan (``TermMatcher`` says how). No loop over terms.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.correct.edits import Edit


class GlossaryError(ValueError):
    """A malformed glossary, vocabulary or protect list; the message names file, line and entry."""


@dataclass
class Term:
    canonical: str
    variants: list[str]
    case_sensitive: bool = False
    whole_word: bool = True
    inflections: bool = False
    line: int = 0


@dataclass
class Glossary:
    terms: list[Term]
    path: str = "<glossary>"
    words: set[str] = field(default_factory=set)

    def protected_words(self) -> set[str]:
        """Every word of every canonical form and variant (clean.typos leaves them alone)."""
        out: set[str] = set()
        for t in self.terms:
            for s in (t.canonical, *t.variants):
                out.update(w.lower() for w in _split_words(s))
        return out


_OPTIONS = ("case_sensitive", "whole_word", "inflections")


def _split_words(s: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", s)


def _bool(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return v.strip().lower() in ("true", "yes", "1")
    raise GlossaryError(f"{where}: expected true or false, got {v!r}")


def load_glossary(path: str | Path) -> Glossary:
    """Read and check a YAML or CSV glossary (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise GlossaryError(f"{path}: no such glossary file")
    text = path.read_text(encoding="utf-8")
    terms = _load_csv(text, str(path)) if path.suffix.lower() in (".csv", ".tsv") else _load_yaml(text, str(path))
    _check(terms, str(path))
    return Glossary(terms, str(path))


def _load_yaml(text: str, where: str) -> list[Term]:
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise GlossaryError(f"{where}:{mark.line + 1 if mark else '?'}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if root is None:
        raise GlossaryError(f"{where}: empty glossary")
    if not isinstance(root, yaml.MappingNode):
        raise GlossaryError(f"{where}:{root.start_mark.line + 1}: a glossary is a mapping with 'terms' (and 'options')")
    top = {k.value: v for k, v in root.value}
    unknown = set(top) - {"options", "terms"}
    if unknown:
        k = next(k for k, _ in root.value if k.value in unknown)
        raise GlossaryError(f"{where}:{k.start_mark.line + 1}: unknown key {k.value!r} (allowed: options, terms)")
    defaults = {"case_sensitive": False, "whole_word": True, "inflections": False}
    if "options" in top:
        defaults.update(_options(top["options"], where))
    node = top.get("terms")
    if not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else 1
        raise GlossaryError(f"{where}:{line}: 'terms' must map each canonical term to its variants")
    terms = []
    for k, v in node.value:
        line = k.start_mark.line + 1
        canonical = k.value
        if not isinstance(k, yaml.ScalarNode) or not str(canonical).strip():
            raise GlossaryError(f"{where}:{line}: empty canonical term")
        opts = dict(defaults)
        if isinstance(v, yaml.SequenceNode):
            variants = _variants(v, where, canonical)
        elif isinstance(v, yaml.MappingNode):
            d = {kk.value: vv for kk, vv in v.value}
            bad = set(d) - {"variants", *_OPTIONS}
            if bad:
                raise GlossaryError(f"{where}:{line}: term {canonical!r}: unknown key(s) {sorted(bad)} "
                                    f"(allowed: variants, {', '.join(_OPTIONS)})")
            if "variants" not in d:
                raise GlossaryError(f"{where}:{line}: term {canonical!r}: no 'variants' list")
            variants = _variants(d["variants"], where, canonical)
            opts.update(_options(v, where, skip=("variants",)))
        elif isinstance(v, yaml.ScalarNode) and v.value:
            variants = [v.value]
        else:
            raise GlossaryError(f"{where}:{line}: term {canonical!r}: give a list of variants")
        terms.append(Term(str(canonical), variants, line=line, **opts))
    return terms


def _variants(node: Any, where: str, canonical: str) -> list[str]:
    import yaml

    if not isinstance(node, yaml.SequenceNode):
        raise GlossaryError(f"{where}:{node.start_mark.line + 1}: term {canonical!r}: variants must be a list")
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
            raise GlossaryError(f"{where}:{item.start_mark.line + 1}: term {canonical!r}: empty or non-text variant")
        out.append(str(item.value))
    return out


def _options(node: Any, where: str, skip: tuple[str, ...] = ()) -> dict[str, bool]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise GlossaryError(f"{where}:{node.start_mark.line + 1}: options must be a mapping")
    out = {}
    for k, v in node.value:
        if k.value in skip:
            continue
        if k.value not in _OPTIONS:
            raise GlossaryError(f"{where}:{k.start_mark.line + 1}: unknown option {k.value!r} (allowed: {', '.join(_OPTIONS)})")
        out[k.value] = _bool(yaml.safe_load(yaml.serialize(v)), f"{where}:{k.start_mark.line + 1}: {k.value}")
    return out


def _load_csv(text: str, where: str) -> list[Term]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0][:2]] != ["canonical", "variant"]:
        raise GlossaryError(f"{where}:1: a CSV glossary starts with the header canonical,variant[,{','.join(_OPTIONS)}]")
    header = [c.strip() for c in rows[0]]
    bad = set(header[2:]) - set(_OPTIONS)
    if bad:
        raise GlossaryError(f"{where}:1: unknown column(s) {sorted(bad)} (allowed: {', '.join(_OPTIONS)})")
    by_canonical: dict[tuple[str, tuple[bool, ...]], Term] = {}
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise GlossaryError(f"{where}:{n}: entry {','.join(row)!r}: needs a canonical term and a variant")
        opts = {"case_sensitive": False, "whole_word": True, "inflections": False}
        for col, val in zip(header[2:], row[2:]):
            if val.strip():
                opts[col] = _bool(val, f"{where}:{n}: {col}")
        key = (row[0].strip(), tuple(opts.values()))
        if key not in by_canonical:
            by_canonical[key] = Term(row[0].strip(), [], line=n, **opts)
        by_canonical[key].variants.append(row[1].strip())
    return list(by_canonical.values())


def _check(terms: list[Term], where: str) -> None:
    """One variant → one canonical term; a variant may not be another term's canonical form."""
    owner: dict[str, Term] = {}
    canon = {(t.canonical if t.case_sensitive else t.canonical.lower()): t for t in terms}
    for t in terms:
        for v in t.variants:
            key = v if t.case_sensitive else v.lower()
            if key in owner and owner[key].canonical != t.canonical:
                o = owner[key]
                raise GlossaryError(f"{where}:{t.line}: variant {v!r} maps to {t.canonical!r} here and to "
                                    f"{o.canonical!r} at line {o.line}")
            other = canon.get(key)
            if other is not None and other.canonical != t.canonical:
                raise GlossaryError(f"{where}:{t.line}: variant {v!r} of {t.canonical!r} is itself the canonical "
                                    f"term at line {other.line}")
            owner[key] = t


_SUFFIXES = ("s", "es", "'s", "s'", "\u2019s")
# Candidates for the character that joins a batch of texts (the first one no glossary form holds):
# control characters, none of them a word character or whitespace.
_SEPARATORS = "".join(map(chr, [*range(0x00, 0x09), *range(0x0E, 0x20)]))


@dataclass(frozen=True)
class _Entry:
    canonical: str
    variant: str
    whole_word: bool
    suffix: str
    rule: str  # "canonical ← variant", the audit's rule name and the per-term counter key
    replacement: str = field(init=False)  # canonical + suffix, computed once, not per match
    lower_canonical: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "replacement", self.canonical + self.suffix)
        object.__setattr__(self, "lower_canonical", self.canonical.islower())


Match = tuple[int, int, _Entry]


class TermMatcher:
    """Find and replace glossary variants (see the module docstring).

    Every occurrence of every form is found (overlapping: a form that fails the word-boundary
    check still leaves the shorter forms it covers), those that fail the check are dropped, and the
    leftmost-longest non-overlapping ones are kept. A batch of texts is scanned as one string
    (joined by a control character that no glossary form holds, so no match spans two texts) by
    one automaton per case mode (ahocorasick-rs, in Rust): per text, Python only joins and
    lower-cases; it handles the matches themselves.
    """

    def __init__(self, glossary: Glossary):
        import ahocorasick_rs

        # case-sensitive? → (automaton, the entry of each pattern index); a mode without forms has none
        self.automata: dict[bool, tuple[Any, list[_Entry]]] = {}
        used: set[str] = set()
        for cs in (False, True):
            keys: dict[str, _Entry] = {}
            for t in glossary.terms:
                if t.case_sensitive != cs:
                    continue
                for v in t.variants:
                    if v == t.canonical:
                        continue
                    forms = [("", v)] + ([(s, v + s) for s in _SUFFIXES] if t.inflections else [])
                    for suffix, form in forms:
                        key = form if cs else form.lower()
                        if key not in keys:  # the first (longest listed) owner of a form wins; _check forbids clashes
                            keys[key] = _Entry(t.canonical, v, t.whole_word, suffix, f"{t.canonical} ← {v}")
            if keys:
                used.update(*keys)
                try:
                    ac = ahocorasick_rs.AhoCorasick(list(keys), matchkind=ahocorasick_rs.MatchKind.Standard)
                except UnicodeEncodeError as e:
                    raise GlossaryError(f"{glossary.path}: a variant holds a lone surrogate ({e.reason})") from None
                self.automata[cs] = (ac, list(keys.values()))
        sep = next((c for c in _SEPARATORS if c not in used), None)
        if sep is None:
            raise GlossaryError(f"{glossary.path}: the variants use every control character; "
                                "one of U+0000-U+0008, U+000E-U+001F must stay free")
        self.separator = sep

    def matches(self, text: str) -> list[Match]:
        """Leftmost-longest, non-overlapping variant occurrences as (start, end, entry)."""
        return self.matches_many([text])[0]

    def matches_many(self, texts: Sequence[str]) -> list[list[Match]]:
        """``matches`` of each text, the batch scanned as one string."""
        per: list[list[Match]] = [[] for _ in texts]
        if not texts or not self.automata:
            return per
        sep = self.separator
        joined = sep.join(texts)
        n = len(joined)
        starts = [0]
        for t in texts:
            starts.append(starts[-1] + len(t) + 1)  # the last one past the end: no text starts there
        for cs, (ac, entries) in self.automata.items():
            hay = joined
            if not cs:
                lows = [t.lower() for t in texts]
                hay = sep.join(lows)
                if len(hay) != n:  # a character whose lowercase is longer ('İ'): that text matches case-sensitively
                    hay = sep.join([lo if len(lo) == len(t) else t for lo, t in zip(lows, texts)])
            try:
                found = ac.find_matches_as_indexes(hay, overlapping=True)
            except UnicodeEncodeError:  # lone surrogates (valid in JSON strings); no form holds one or the separator
                found = ac.find_matches_as_indexes(_SURROGATE.sub(sep, hay), overlapping=True)
            i, lo, hi = 0, 0, starts[1]  # the text of the last match and its span in joined
            for pi, s, e in found:
                entry = entries[pi]
                # a word character is alphanumeric or "_" (inlined: this runs once per match); the
                # separator is none, so a text's edges are word boundaries as when it stands alone
                if entry.whole_word and (
                        (s > 0 and ((c := joined[s - 1]).isalnum() or c == "_"))
                        or (e < n and ((c := joined[e]).isalnum() or c == "_"))):
                    continue
                if not lo <= s < hi:  # matches come by position: look the text up only when it changes
                    i = bisect_right(starts, s) - 1
                    lo, hi = starts[i], starts[i + 1]
                per[i].append((s - lo, e - lo, entry))
        for i, ms in enumerate(per):
            if len(ms) < 2:
                continue
            ms.sort(key=lambda m: (m[0], m[0] - m[1]))  # stable: the case-insensitive match first on a tie
            out, pos = [], 0
            for m in ms:
                if m[0] >= pos:
                    out.append(m)
                    pos = m[1]
            per[i] = out
        return per

    def propose(self, text: str) -> list[Edit]:
        return self.propose_many([text])[0]

    def propose_many(self, texts: Sequence[str]) -> list[list[Edit]]:
        """The edits of each text (one batch scan; see ``matches_many``)."""
        new_edit = tuple.__new__  # Edit(...) without its Python-level __new__: this runs once per match
        out: list[list[Edit]] = []
        for text, found in zip(texts, self.matches_many(texts)):
            edits = []
            for s, e, entry in found:
                old = text[s:e]
                new = entry.replacement
                if entry.lower_canonical and old[:1].isupper():
                    new = new[:1].upper() + new[1:]  # sentence-initial "E-mail" → "Email", not "email"
                if old != new:
                    edits.append(new_edit(Edit, (s, e, old, new, entry.rule)))
            out.append(edits)
        return out


_SURROGATE = re.compile("[\ud800-\udfff]")
