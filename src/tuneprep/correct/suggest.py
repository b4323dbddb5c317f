"""``tuneprep terms suggest``: variant groups found in a corpus, written as an editable glossary.

Three kinds of group, each from the corpus's own counts:

* **form variants** — surface forms equal once case (beyond a sentence-initial capital), hyphens,
  spaces and periods are ignored: ``e-mail / email / E-mail``, ``log in / login``, ``U.S. / US``;
* **spelling variants** — a rare form within edit distance 1 of a form at least ``ratio`` times as
  frequent, when the rare form is not an English word itself (``accomodate`` → ``accommodate``);
* **abbreviations** — ``expansion (ABBR)`` or ``ABBR (expansion)`` where the initials of the
  expansion spell the abbreviation ("earnings before interest … (EBITDA)"); written commented out,
  since replacing either by the other everywhere is rarely wanted.

The canonical form of a group is its most frequent form; the file lists every group's counts in a
comment so the user can judge, edit, and pass it to ``clean.terminology``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Za-z][A-Za-z0-9]*(?:['\u2019-][A-Za-z0-9]+)*")
_COMMON = 50_000_000  # dictionary count above which a word is a function word ("into", "away", "upon")
_ABBR_AFTER = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,8}?)\(([A-Z][A-Za-z&]{1,9})\)")
_ABBR_BEFORE = re.compile(r"\b([A-Z][A-Z&]{1,9})\s+\(([A-Za-z][\w\s-]{3,80}?)\)")
_MINOR = {"of", "and", "the", "for", "in", "on", "to", "a", "an", "&"}


@dataclass
class Group:
    canonical: str
    variants: list[str]
    counts: dict[str, int]
    kind: str


def _key(form: str) -> str:
    return re.sub(r"[-.\s]", "", form.lower())


def _shape(form: str) -> str:
    """The form with a sentence-initial capital undone ('The' and 'the' are one form)."""
    return form[:1].lower() + form[1:] if form[1:2].islower() or len(form) == 1 else form


def suggest_terms(texts: Iterable[str], min_count: int = 3, ratio: float = 10.0,
                  english: dict[str, int] | None = None) -> list[Group]:
    """Variant groups found in ``texts`` (see the module docstring)."""
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    abbr: Counter[tuple[str, str]] = Counter()
    for t in texts:
        toks = _TOKEN.findall(t)
        uni.update(toks)
        # bigrams of lowercase words only: "log in" may be "login", "The End" is not a variant
        bi.update(f"{a} {b}" for a, b in zip(toks, toks[1:]) if a.islower() and b.islower() and len(a) > 1 and len(b) > 1)
        for m in _ABBR_AFTER.finditer(t):
            exp = _expansion(m.group(1).split(), m.group(2))
            if exp:
                abbr[(m.group(2), exp)] += 1
        for m in _ABBR_BEFORE.finditer(t):
            words = m.group(2).split()
            if _initials(words) == m.group(1).lower():
                abbr[(m.group(1), " ".join(words))] += 1
    english = english or {}
    groups: list[Group] = []
    # form variants: unigram shapes grouped by key, plus bigrams whose key is a unigram key
    shapes: dict[str, Counter[str]] = defaultdict(Counter)
    for form, n in uni.items():
        shapes[_key(form)][_shape(form)] += n
    for form, n in bi.items():
        k = _key(form)
        if k in shapes and n >= min_count and not any(english.get(f, 0) >= _COMMON for f in shapes[k]):
            shapes[k][_shape(form)] += n  # "login"/"log in", but not "into"/"in to"
    for c in shapes.values():
        forms = [f for f, n in c.items() if n >= min_count]
        if any(f.isupper() or "." in f for f in forms):
            # "us" vs "US"/"U.S.", "who" vs "WHO": a lowercase word and an acronym are different words
            forms = [f for f in forms if not (f.islower() and f in english)]
        if len(forms) < 2:
            continue
        canonical = max(forms, key=lambda f: (c[f], f))
        groups.append(Group(canonical, sorted(f for f in forms if f != canonical), {f: c[f] for f in forms}, "form"))
    # spelling variants (edit distance 1 of a much more frequent form), via symspell over the corpus words
    grouped = {f for g in groups for f in (g.canonical, *g.variants)}
    words = Counter()
    for form, n in uni.items():
        if form.isalpha() and len(form) >= 5:
            words[form.lower()] += n
    if words:
        from symspellpy import SymSpell, Verbosity

        sym = SymSpell(max_dictionary_edit_distance=1, prefix_length=7)
        for w, n in words.items():
            if n >= min_count * ratio:
                sym.create_dictionary_entry(w, n)
        for w, n in words.items():
            if w in english or w in grouped:
                continue
            best = [s for s in sym.lookup(w, Verbosity.CLOSEST, max_edit_distance=1)
                    if s.term != w and s.term != w[:-1]]  # "littles" is a plural, not a misspelling
            if best and best[0].count >= ratio * n:
                groups.append(Group(best[0].term, [w], {best[0].term: best[0].count, w: n}, "spelling"))
    for (short, exp), n in abbr.items():
        if n >= 1:
            groups.append(Group(short, [exp], {f"{short} ({exp})": n}, "abbreviation"))
    kinds = {"form": 0, "spelling": 1, "abbreviation": 2}
    groups.sort(key=lambda g: (kinds[g.kind], -sum(g.counts.values()), g.canonical))
    return groups


def _initials(words: list[str]) -> str:
    return "".join(w[0].lower() for w in words if w.lower() not in _MINOR)


def _expansion(words: list[str], short: str) -> str | None:
    """The shortest run of trailing ``words`` whose initials spell ``short``, if any."""
    target = short.lower().replace("&", "")
    for k in range(1, len(words) + 1):
        tail = words[-k:]
        if tail[0].lower() in _MINOR:
            continue
        if _initials(tail) == target:
            return " ".join(tail)
    return None


def glossary_yaml(groups: list[Group], source: str) -> str:
    """The groups as a clean.terminology glossary (YAML), counts in comments, abbreviations commented out."""
    q = json.dumps  # a JSON string is a valid YAML scalar, whatever it contains
    lines = [f"# Variant groups proposed by `tuneprep terms suggest {source}`.",
             "# Edit: delete wrong groups, pick the canonical form you want, then pass the file to",
             "# clean.terminology (glossary: THIS_FILE). Counts are occurrences in the corpus.",
             "options:", "  case_sensitive: false", "  whole_word: true", "  inflections: false", "terms:"]
    if not groups:
        lines[-1] = "terms: {}"
    kind = None
    for g in groups:
        if g.kind != kind:
            kind = g.kind
            lines.append({"form": "  # case / hyphen / space / period variants",
                          "spelling": "  # spelling variants of a much more frequent form",
                          "abbreviation": "  # abbreviations seen next to their expansion (uncomment to use)"}[kind])
        counts = ", ".join(f"{f} {n}" for f, n in sorted(g.counts.items(), key=lambda kv: -kv[1]))
        variants = f"[{', '.join(q(v) for v in g.variants)}]"
        forms = (g.canonical, *g.variants)
        # only case differs, or an acronym ("U.S." / "US"): match case, or the pronoun "us" and the
        # article "La" would be rewritten too
        if len({f.lower() for f in forms}) == 1 or any(f.isupper() for f in forms):
            variants = f"{{variants: {variants}, case_sensitive: true}}"
        entry = f"  {q(g.canonical)}: {variants}   # {counts}"
        lines.append(("  # " + entry.lstrip()) if g.kind == "abbreviation" else entry)
    return "\n".join(lines) + "\n"
