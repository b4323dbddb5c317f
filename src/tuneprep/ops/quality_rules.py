"""The published document-quality heuristics as pure functions (no tuneprep state, no I/O).

Sources and the reference implementation each function reproduces, measure for measure:

* **Gopher quality** and **Gopher repetition** — Rae et al. 2021, "Scaling Language Models: Methods,
  Analysis & Insights from Training Gopher", appendix A1 (table A1 for the repetition thresholds);
  datatrove's ``GopherQualityFilter`` / ``GopherRepetitionFilter``.
* **C4** — Raffel et al. 2020, "Exploring the Limits of Transfer Learning…", section 2.2; datatrove's
  ``C4QualityFilter`` (the TFDS ``c4_utils`` rules: terminal punctuation, ≥ 3 words per line, no
  "javascript" / policy lines, no "lorem ipsum", no curly bracket, ≥ 5 sentences). The line filters
  only feed the sentence count here: ``filter.quality`` keeps or drops, it never rewrites the text.
* **FineWeb** — Penedo et al. 2024, "The FineWeb Datasets"; datatrove's ``FineWebQualityFilter``.

Every function takes the document text and, where needed, its words: the tokens of spaCy's blank
English tokenizer with whitespace tokens removed — the same words datatrove's ``split_into_words``
returns for English, so the measures (and so the keep/drop decisions) are the same
(benchmarks/quality_vs_datatrove.py checks this on real text). Each returns a dict of measures; which
measure fails which threshold is decided by the caller (``tuneprep.ops.quality``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

# datatrove.utils.text.PUNCTUATION / TERMINAL_PUNCTUATION are imported lazily (datatrove is a dev
# dependency); tuneprep keeps its own copies so the op runs without datatrove. The test suite checks
# that the copies equal datatrove's (tests/ops/test_quality.py).
from tuneprep.ops._punctuation import PUNCTUATION_SET, TERMINAL_PUNCTUATION

GOPHER_STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                        "use cookies")
C4_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")
_LINE_SPLIT = re.compile("\n+")
_TERMINAL = tuple(TERMINAL_PUNCTUATION)


def find_duplicates(parts: Iterable[str]) -> tuple[int, int]:
    """(number of elements seen before, characters in them): Gopher's duplicate line/paragraph count."""
    seen: set[str] = set()
    dup_elements = dup_chars = 0
    for p in parts:
        if p in seen:
            dup_elements += 1
            dup_chars += len(p)
        else:
            seen.add(p)
    return dup_elements, dup_chars


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by the most frequent word n-gram (its length with single spaces × its count).

    Ties go to the n-gram seen first, as ``Counter.most_common`` (datatrove) breaks them. n-grams
    are counted as word tuples (no string building); the length of ``" ".join(gram)`` is computed.
    """
    if len(words) < n:
        return 0
    counts = Counter(zip(*(words[i:] for i in range(n))))
    gram, count = counts.most_common(1)[0]
    if count == 1:
        # every n-gram is unique: the first one wins the tie (insertion order)
        gram = tuple(words[:n])
    return (sum(map(len, gram)) + n - 1) * count


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    """Characters in word n-grams that repeat an earlier one, non-overlapping (Gopher's dup n-gram fraction).

    As in the reference, an n-gram is its words joined *without* separator, and after a repeated
    n-gram the scan jumps ahead by n words. Documents where no joined n-gram repeats (most of them)
    are answered without the scan.
    """
    if len(words) < n:
        return 0
    grams = list(map("".join, zip(*(words[i:] for i in range(n)))))
    if len(set(grams)) == len(grams):
        return 0
    seen: set[str] = set()
    repeated = idx = 0
    last = len(grams)
    while idx < last:
        g = grams[idx]
        if g in seen:
            repeated += len(g)
            idx += n
        else:
            seen.add(g)
            idx += 1
    return repeated


def gopher_repetition(text: str, words: list[str], top_ns: Iterable[int] = (2, 3, 4),
                      dup_ns: Iterable[int] = (5, 6, 7, 8, 9, 10)) -> dict[str, float]:
    """Gopher repetition measures: duplicate paragraph/line fractions (by count and by characters),
    top n-gram character fractions and duplicated n-gram character fractions (of ``len(text)``)."""
    n_chars = len(text)
    paragraphs = _PARAGRAPH_SPLIT.split(text.strip())
    para_dups, para_dup_chars = find_duplicates(paragraphs)
    lines = _LINE_SPLIT.split(text)
    line_dups, line_dup_chars = find_duplicates(lines)
    out = {
        "dup_para_frac": para_dups / len(paragraphs),
        "dup_para_char_frac": para_dup_chars / n_chars,
        "dup_line_frac": line_dups / len(lines),
        "dup_line_char_frac": line_dup_chars / n_chars,
    }
    # No repeated word means no repeated n-gram (as word tuples): every n-gram occurs once, and the
    # "most frequent" one is the first (Counter's tie order), so no counting is needed.
    unique = len(set(words)) == len(words)
    for n in top_ns:
        top = (sum(map(len, words[:n])) + n - 1 if len(words) >= n else 0) if unique else top_ngram_chars(words, n)
        out[f"top_{n}_gram_char_frac"] = top / n_chars
    for n in dup_ns:
        out[f"dup_{n}_gram_char_frac"] = duplicated_ngram_chars(words, n) / n_chars
    return out


def gopher_quality(text: str, words: list[str], stop_words: frozenset[str] = GOPHER_STOP_WORDS) -> dict[str, float]:
    """Gopher quality measures.

    ``words``: non-symbol word count (words with a character outside punctuation);
    ``mean_word_length`` over those words; ``hash_ratio`` / ``ellipsis_ratio``: '#' and '...'/'…'
    per word; ``bullet_lines`` / ``ellipsis_lines``: fraction of lines starting with a bullet
    ('•', '-') or ending with an ellipsis; ``alpha_words``: fraction of words with a letter;
    ``stop_words``: how many distinct Gopher stop words occur (case-sensitive, as in the reference).
    """
    n_words = len(words)
    lengths = [len(w) for w in words if not PUNCTUATION_SET.issuperset(w)]
    lines = text.splitlines()
    n_lines = len(lines) or 1
    denom = n_words or 1  # no words: the ratios are 0 (the word-count rule rejects such a text)
    return {
        "words": len(lengths),
        "mean_word_length": sum(lengths) / len(lengths) if lengths else float("nan"),
        "hash_ratio": text.count("#") / denom,
        "ellipsis_ratio": (text.count("...") + text.count("…")) / denom,
        "bullet_lines": sum(s.lstrip().startswith(("•", "-")) for s in lines) / n_lines,
        "ellipsis_lines": sum(s.rstrip().endswith(("...", "…")) for s in lines) / n_lines,
        "alpha_words": sum(any(map(str.isalpha, w)) for w in words) / denom,
        "stop_words": len(stop_words.intersection(words)),
    }


def c4_lines(
    text: str,
    count_sentences: Callable[[str], int],
    *,
    terminal_punct: bool = True,
    min_words_per_line: int | None = 3,
    max_word_length: int | None = 1000,
    remove_citations: bool = True,
    javascript: bool = True,
    policy: bool = True,
    lorem_ipsum: bool = True,
    curly_bracket: bool = True,
) -> dict[str, float | str | None]:
    """C4 measures: the sentences in the lines C4 keeps, lines kept / removed by rule, and the first
    document-level hit ("lorem_ipsum" or "curly_bracket", which C4 tests on kept lines only, in order).

    ``count_sentences(line)`` counts a line's sentences (spaCy's sentencizer in the op, as in datatrove).
    """
    sentences = kept = 0
    removed = {"no_terminal_punct": 0, "too_few_words": 0, "long_word": 0, "javascript": 0, "policy": 0}
    doc_hit: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        words = line.split()
        if max_word_length is not None and any(len(w) > max_word_length for w in words):
            removed["long_word"] += 1
            continue
        if remove_citations and "[" in line:
            line = C4_CITATION.sub("", line)
        if terminal_punct and (not line.endswith(C4_END_PUNCTUATION) or line.endswith("...")):
            removed["no_terminal_punct"] += 1
            continue
        if min_words_per_line is not None and len(words) < min_words_per_line:
            removed["too_few_words"] += 1
            continue
        low = line.lower()
        if lorem_ipsum and "lorem ipsum" in low:
            doc_hit = "lorem_ipsum"
            break
        if javascript and "javascript" in low:
            removed["javascript"] += 1
            continue
        if curly_bracket and "{" in line:
            doc_hit = "curly_bracket"
            break
        if policy and any(p in low for p in C4_POLICY_SUBSTRINGS):
            removed["policy"] += 1
            continue
        sentences += count_sentences(line)
        kept += 1
    return {"sentences": sentences, "lines_kept": kept, **{f"lines_{k}": v for k, v in removed.items()},
            "doc_hit": doc_hit}


def fineweb(text: str, words: list[str], short_line_length: int = 30,
            stop_chars: tuple[str, ...] = _TERMINAL) -> dict[str, float] | None:
    """FineWeb measures over the non-blank lines; None when there are none.

    ``line_punct``: fraction of lines ending in terminal punctuation; ``short_lines``: fraction of
    lines of at most ``short_line_length`` characters; ``dup_line_chars``: characters in repeated lines
    over all non-newline characters; ``list_ratio``: newlines per word.
    """
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return None
    n = len(lines)
    return {
        "line_punct": sum(1 for ln in lines if ln.endswith(stop_chars)) / n,
        "short_lines": sum(1 for ln in lines if len(ln) <= short_line_length) / n,
        "dup_line_chars": find_duplicates(lines)[1] / (len(text) - text.count("\n")),
        "list_ratio": text.count("\n") / (len(words) or 1),
    }
