"""Normalisation, n-gram shingles and MinHash signatures, vectorised with numpy.

The one MinHash implementation of the project: ``dedup.minhash``, ``split.dedup: minhash`` and
``tuneprep eval``'s leakage check all use it.

Normalisation (:func:`normalize_text`): English clitics split off by PTB-style tokenisers are
joined back (``does n't`` → ``doesn't``, ``it 's`` → ``it's``), Unicode NFKC, case-folded, every
run of non-word characters (punctuation, symbols, whitespace, ``_``) replaced by one space, ends
trimmed. So ``"The Rock's new ``Conan'' doesn't"`` and ``"the rock 's new `` conan '' does n't"``
(the same sentence from two releases with different tokenisation and casing) have the same
normal form ``"the rock s new conan doesn t"``.

Shingles: the n-grams of a text's tokens, where a token is a word of the normal form (``unit="word"``)
or one of its characters (``unit="char"``). A text with fewer tokens than ``n`` is handled
explicitly (``short``): ``"whole"`` makes its whole token sequence one shingle (so two short texts
match only when their normal forms are equal, and a short text never matches a longer one);
``"skip"`` gives it no shingles (it is never compared). A text with no tokens has no shingles.

Hashes: a token is hashed from its code points (vectorised over all texts at once), an n-gram by a
polynomial over its tokens' hashes, finished with splitmix64; MinHash uses ``num_perm``
multiply-shift hash functions ``(a*x + b) >> 32`` (odd ``a``), so signature values are 32-bit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

Unit = Literal["word", "char"]
Short = Literal["whole", "skip"]

# The near-duplicate definition of ``tuneprep eval``'s leakage check (and of split.dedup's
# leakage config): character 5-grams, 64 permutations in 16 bands. One source for both.
SHINGLE = 5
N_PERM = 64
BANDS = 16

_NONWORD = re.compile(r"[\W_]+", re.UNICODE)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x100000001B3)
_CHUNK_WINDOWS = 4_000_000  # shingles per chunk when computing signatures: bounds memory to ~100 MB


# ASCII fast path: NFKC and casefold of ASCII are lower(); every non-alphanumeric ASCII character
# is a separator, as [\W_] says (measured: ~3x faster than the regex on English text).
_ASCII_SEP = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


# PTB-style tokenisation splits English clitics off their word ("does n't", "it 's"); join them
# back so that both releases of a sentence give the same words.
_CLITIC = re.compile(r"(?<=\w)\s+(?=(?:n['’]t|['’](?:s|re|ve|ll|d|m))\b)", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """The comparison form of a text: clitics joined, NFKC, case-folded, runs of non-word characters
    as one space."""
    if "'" in text or "’" in text:
        text = _CLITIC.sub("", text)
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_SEP).split())
    return _NONWORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def record_content(rec: Mapping[str, Any]) -> str:
    """What counts as the content of a record for near-duplicates: its text, or its user/assistant
    turns (a system prompt shared by many conversations would make them all look alike)."""
    text = rec.get("text")
    if isinstance(text, str):
        return text
    msgs = rec.get("messages")
    if isinstance(msgs, list):
        return "\n".join(str(m.get("content", "")) for m in msgs
                         if isinstance(m, Mapping) and m.get("role") != "system")
    return ""


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads a hash over all 64 bits (uint64 arithmetic wraps by design)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def _char_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Code points of every text, concatenated, and the number per text."""
    parts = [np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32) for t in texts]
    lens = np.array([p.size for p in parts], dtype=np.int64)
    cps = np.concatenate(parts).astype(np.uint64) if parts and lens.sum() else np.empty(0, np.uint64)
    return cps, lens


def _word_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One 64-bit hash per word of every normalised text (words are separated by single spaces).

    A word's hash is the sum of ``mix(code point | position-in-word << 21)`` over its characters,
    mixed again: computed for all words of all texts with ``np.add.reduceat``, no loop per word.
    """
    lens = np.array([t.count(" ") + 1 if t else 0 for t in texts], dtype=np.int64)
    joined = " ".join(t for t in texts if t)
    if not joined:
        return np.empty(0, np.uint64), lens
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    is_space = cp == 32
    word_of = np.cumsum(is_space)  # the word index of each position (a space opens the next word)
    keep = ~is_space
    starts = np.concatenate([[0], np.flatnonzero(is_space) + 1])
    pos = np.flatnonzero(keep)
    word = word_of[keep]
    in_word = (pos - starts[word]).astype(np.uint64)
    val = _mix(cp[keep].astype(np.uint64) | (in_word << np.uint64(21)))
    first = np.concatenate([[0], np.flatnonzero(np.diff(word)) + 1])
    sums = np.add.reduceat(val, first)
    counts = np.diff(np.concatenate([first, [word.size]])).astype(np.uint64)
    return _mix(sums ^ (counts * _MIX2)), lens


def shingle_table(texts: Sequence[str], n: int = 5, unit: Unit = "char",
                  short: Short = "whole") -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every token n-gram of every (already normalised) text, for all texts at once.

    Returns ``(hashes, offsets)``: the shingles of text ``i`` are ``hashes[offsets[i]:offsets[i+1]]``
    (repeats included). Texts with fewer than ``n`` tokens follow ``short`` (module docstring).
    """
    toks, lens = _word_tokens(texts) if unit == "word" else _char_tokens(texts)
    starts = np.zeros(len(lens), dtype=np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1], out=starts[1:])
    short_mask = (lens > 0) & (lens < n)
    if short_mask.any():
        if short == "whole":
            # Pad each short text's tokens with zeros to n: its whole sequence becomes one n-gram.
            new_lens = np.where(short_mask, n, lens)
            new_starts = np.zeros(len(lens), dtype=np.int64)
            if len(lens) > 1:
                np.cumsum(new_lens[:-1], out=new_starts[1:])
            out = np.zeros(int(new_lens.sum()), dtype=np.uint64)
            src_text = np.repeat(np.arange(len(lens)), lens)
            out[new_starts[src_text] + (np.arange(toks.size) - starts[src_text])] = toks
            toks, lens, starts = out, new_lens, new_starts
        else:
            lens = np.where(short_mask, 0, lens)  # their tokens stay in place but form no window
    counts = np.maximum(lens - n + 1, 0)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return np.empty(0, dtype=np.uint64), offsets
    m = toks.size
    # polynomial hash of every window of the concatenation (uint64 arithmetic wraps by design)
    h = np.zeros(m - n + 1, dtype=np.uint64)
    for k in range(n):
        h = h * _BASE + toks[k:m - n + 1 + k]
    # keep the windows that lie inside one text
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], counts) + np.repeat(starts, counts)
    return _mix(h[pos]), offsets


def perm_params(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The multiply-shift hash family: ``num_perm`` odd multipliers and offsets, from a seeded RNG."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, num_perm, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    b = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64)
    return a, b


EMPTY = np.uint32(0xFFFFFFFF)


def minhash_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 64, seed: int = 1) -> np.ndarray:
    """``[n_texts, num_perm]`` uint32 MinHash signatures.

    One 1-D pass per hash function over a chunk of texts' shingles and a ``minimum.reduceat``
    (measured: 12k RT snippets, 1.6M shingles, 0.7 s for 64 functions; a 2-D [shingles x 64]
    formulation took 8.5 s). Texts without shingles keep all-ones rows (``EMPTY``; callers skip them).
    """
    a, b = perm_params(num_perm, seed)
    n = len(offsets) - 1
    sig = np.full((n, num_perm), EMPTY, dtype=np.uint32)
    counts = np.diff(offsets)
    shift = np.uint64(32)
    i = 0
    while i < n:
        # the largest run of texts from i whose shingles fit in one chunk (at least one text)
        j = max(i + 1, int(np.searchsorted(offsets, offsets[i] + _CHUNK_WINDOWS, side="right")) - 1)
        j = min(j, n)
        lo, hi = offsets[i], offsets[j]
        nonempty = np.nonzero(counts[i:j])[0]
        if hi > lo:
            chunk = hashes[lo:hi]
            starts = (offsets[i:j] - lo)[nonempty]
            for k in range(num_perm):
                sig[i + nonempty, k] = np.minimum.reduceat((chunk * a[k] + b[k]) >> shift, starts)
        i = j
    return sig


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two arrays of unique shingle hashes (1.0 for two empty sets)."""
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


def unique_per_text(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted unique shingles of every text (for exact Jaccard), as ``(hashes, offsets)``."""
    n = len(offsets) - 1
    text = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    order = np.lexsort((hashes, text))
    h, t = hashes[order], text[order]
    keep = np.ones(h.size, dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (t[1:] != t[:-1])
    h, t = h[keep], t[keep]
    out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=n), out=out[1:])
    return h, out


# --- LSH: bands x rows ------------------------------------------------------------------------------

# Every LSH candidate is checked afterwards (estimated Jaccard from the whole signature, or the
# exact Jaccard with verify), so a false-positive candidate costs one comparison while a false
# negative is a duplicate lost for good: the false-negative area weighs 9x the false-positive one.
FP_WEIGHT = 0.1
FN_WEIGHT = 0.9


def s_curve(s: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Probability that a pair of Jaccard ``s`` shares at least one band: ``1 - (1 - s^r)^b``."""
    return 1.0 - (1.0 - s ** rows) ** bands


def lsh_errors(threshold: float, bands: int, rows: int) -> tuple[float, float]:
    """(false-positive area, false-negative area) of the S-curve around ``threshold``.

    FP area = integral over [0, t] of P(candidate | s); FN area = integral over [t, 1] of
    1 - P(candidate | s) (trapezoid rule on a 1,001-point grid).
    """
    lo = np.linspace(0.0, threshold, 1001)
    hi = np.linspace(threshold, 1.0, 1001)
    return _trapezoid(s_curve(lo, bands, rows), lo), _trapezoid(1.0 - s_curve(hi, bands, rows), hi)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = FP_WEIGHT,
                  fn_weight: float = FN_WEIGHT) -> tuple[int, int]:
    """(bands, rows) with ``bands * rows <= num_perm`` minimising ``fp_weight*FP + fn_weight*FN``.

    The criterion of datasketch's ``MinHashLSH``, with weights 0.1 (FP) / 0.9 (FN) by default
    since candidates are checked afterwards (see ``FP_WEIGHT``); for threshold 0.7 and 128
    permutations: 21 bands x 6 rows (0.93 of the pairs at Jaccard 0.7 become candidates, 0.28 at
    0.5). Ties go to fewer rows.
    """
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        fp, fn = lsh_errors(threshold, bands, rows)
        err = fp_weight * fp + fn_weight * fn
        if best is None or err < best[0] - 1e-12:
            best = (err, bands, rows)
    assert best is not None
    return best[1], best[2]


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``[n, bands]`` uint64: one hash per band of each signature row (rows ``b*r .. b*r+r-1``)."""
    n = sig.shape[0]
    out = np.zeros((n, bands), dtype=np.uint64)
    for b in range(bands):
        h = np.full(n, np.uint64((b * 0xBF58476D1CE4E5B9) % 2**64), dtype=np.uint64)
        for c in range(b * rows, (b + 1) * rows):
            h = _mix(h * _BASE + sig[:, c].astype(np.uint64))
        out[:, b] = h
    return out
