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

Matching uses one Aho–Corasick automaton (pyahocorasick) per case mode over the whole text:
every variant occurrence is found in a single scan, then the leftmost-longest non-overlapping
matches that respect word boundaries are kept. No loop over terms.
"""

from __future__ import annotations

import csv
import io
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
    import re

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


@dataclass(frozen=True)
class _Entry:
    canonical: str
    variant: str
    whole_word: bool
    suffix: str
    rule: str  # "canonical ← variant", the audit's rule name and the per-term counter key


class TermMatcher:
    """Find and replace glossary variants (see the module docstring)."""

    def __init__(self, glossary: Glossary):
        import ahocorasick

        self.automata = {}
        for cs in (False, True):
            a = ahocorasick.Automaton()
            n = 0
            for t in glossary.terms:
                if t.case_sensitive != cs:
                    continue
                for v in t.variants:
                    if v == t.canonical:
                        continue
                    forms = [("", v)] + ([(s, v + s) for s in _SUFFIXES] if t.inflections else [])
                    for suffix, form in forms:
                        key = form if cs else form.lower()
                        if key not in a:  # the first (longest listed) owner of a form wins; _check forbids clashes
                            a.add_word(key, (len(key), _Entry(t.canonical, v, t.whole_word, suffix, f"{t.canonical} ← {v}")))
                            n += 1
            if n:
                a.make_automaton()
                self.automata[cs] = a

    def matches(self, text: str) -> list[tuple[int, int, _Entry]]:
        """Leftmost-longest, non-overlapping variant occurrences as (start, end, entry)."""
        found: list[tuple[int, int, _Entry]] = []
        n = len(text)
        for cs, a in self.automata.items():
            hay = text if cs else text.lower()
            if len(hay) != n:  # a character whose lowercase is longer: match case-sensitively
                hay = text
            for end, (length, entry) in a.iter(hay):
                start = end - length + 1
                end += 1
                if entry.whole_word and ((start > 0 and _is_word(text[start - 1]))
                                         or (end < n and _is_word(text[end]))):
                    continue
                found.append((start, end, entry))
        if len(found) < 2:
            return found
        found.sort(key=lambda m: (m[0], m[0] - m[1]))
        out, pos = [], 0
        for m in found:
            if m[0] >= pos:
                out.append(m)
                pos = m[1]
        return out

    def propose(self, text: str) -> list[Edit]:
        out = []
        for s, e, entry in self.matches(text):
            old = text[s:e]
            new = entry.canonical + entry.suffix
            if old[:1].isupper() and entry.canonical.islower():
                new = new[:1].upper() + new[1:]  # sentence-initial "E-mail" → "Email", not "email"
            if old != new:
                out.append(Edit(s, e, old, new, entry.rule))
        return out


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"
