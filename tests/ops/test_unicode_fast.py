"""clean.unicode's fast path (ops/unicode_fast.py) gives byte-identical output to ftfy.fix_text.

Equality is the contract: every BMP code point in several contexts, a sweep of the astral planes,
ftfy's own test cases (real mojibake), real text in many scripts (ChatterBot's 28 languages,
Chinese novels, reviews, tweets, news, instructions, model answers, web pages) and, when it has
been built, a sample of the mixed benchmark corpus.
"""

from __future__ import annotations

import itertools
import json
import unicodedata

import ftfy
import pytest
from ftfy import badness

from tuneprep.datasets import shared_data_dir
from tuneprep.ops import unicode_fast
from tuneprep.ops.unicode_fast import UnicodeFixer, badness_needs, fixer_characters
from tuneprep.textsamples import all_texts, ftfy_test_cases

# clean.unicode's configuration (its defaults), and the other settings its parameters allow.
OP_CONFIG = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False)
CONFIGS = [
    OP_CONFIG,
    ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=True, normalization="NFKC"),
    ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, fix_encoding=False, normalization=None),
]
# Contexts around one character: alone; inside a word, after mojibake-prone Latin-1 letters and
# before "Â " (ftfy's badness patterns), before a combining accent (normalisation), at a line start.
CONTEXTS = ["{c}", "ab{c}cd \u00c3{c} caf\u00e9 x{c}\u00c2 \u201c {c}\u0301\n{c}x"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """The non-ASCII texts and every 10th ASCII one (test_clean_fastpath covers ASCII on real text)."""
    everything = [t for _, t in all_texts(shared_data_dir())]
    return [t for i, t in enumerate(everything) if not t.isascii() or i % 10 == 0]


def _assert_same(fixer: UnicodeFixer, inputs: list[str]) -> int:
    """Assert equality on every input; returns how many ftfy changed (so the check is not vacuous)."""
    changed = 0
    for t in inputs:
        expected = ftfy.fix_text(t, fixer.config)
        assert fixer.fix(t) == expected, repr(t[:300])
        changed += expected != t
    return changed


@pytest.mark.slow
def test_every_bmp_code_point_in_context() -> None:
    fixer = UnicodeFixer(OP_CONFIG)
    inputs = [ctx.format(c=chr(cp)) for cp in range(0x10000) for ctx in CONTEXTS]
    # ftfy changes thousands of them: C1 controls, ligatures, full-width forms, decomposed accents...
    assert _assert_same(fixer, inputs) > 5000


def test_astral_planes_sampled_in_context() -> None:
    fixer = UnicodeFixer(OP_CONFIG)
    emoji = list(range(0x1F300, 0x1F6FF)) + list(range(0xE0000, 0xE0080))  # emoji, tag characters
    sweep = list(range(0x10000, 0x110000, 97))
    inputs = [ctx.format(c=chr(cp)) for cp in emoji + sweep for ctx in CONTEXTS]
    inputs.append("flag: \U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F")
    _assert_same(fixer, inputs)


@pytest.mark.parametrize("config", CONFIGS, ids=["op-default", "nfkc-uncurl", "no-encoding-fix"])
def test_real_multilingual_text(texts: list[str], config: ftfy.TextFixerConfig) -> None:
    non_ascii = [t for t in texts if not t.isascii()]
    assert len(non_ascii) > 10_000  # ChatterBot's languages and the Chinese novels alone give more
    assert _assert_same(UnicodeFixer(config), texts) > 1000


def test_ftfy_own_test_cases() -> None:
    cases = [t for _, t in ftfy_test_cases()]
    for config in CONFIGS:  # most cases are mojibake: without fix_encoding, ftfy changes few
        assert _assert_same(UnicodeFixer(config), cases) > (50 if config.fix_encoding else 10)


def test_fast_is_bad_equals_ftfy_is_bad(texts: list[str]) -> None:
    segments = [s for t in texts + [t for _, t in ftfy_test_cases()] for s in t.splitlines(True)]
    bad = 0
    for s in segments:
        assert unicode_fast.is_bad(s) == badness.is_bad(s), repr(s[:200])
        bad += badness.is_bad(s)
    assert bad > 100


def test_segments_longer_than_max_decode_length() -> None:
    fixer = UnicodeFixer(OP_CONFIG._replace(max_decode_length=7))
    _assert_same(fixer, ["abcdefghijklmnop\n\u00e2\u20ac\u0153qrstuvwxyz\u00e2\u20ac\u009d and more\n" * 3,
                         "x" * 30 + "\u00e9" + "y" * 30, "\uff21\uff22\uff23\uff24" * 5, "e\u0301" * 9])


def test_derived_sets_hold_what_each_fix_acts_on() -> None:
    chars = fixer_characters(OP_CONFIG)
    # a ligature, a full-width letter, the ideographic space, C1 controls, line/paragraph separators,
    # CR, ESC, a lone surrogate, BOM
    for c in "\ufb01\uff21\u3000\x80\x85\x9f\u2028\u2029\r\x1b\ud800\ufeff":
        assert ord(c) in chars, hex(ord(c))
    assert not {ord(c) for c in "\t\n aZ\u00e9\u4e2d\u2019\u201c"} & chars  # uncurl_quotes is off
    assert {0x2018, 0x201C} <= fixer_characters(OP_CONFIG._replace(uncurl_quotes=True))
    needs, width = badness_needs()
    assert 2 <= width <= 16
    assert all(c >= 128 for c in needs)  # ASCII is never what the cheap search looks for


def test_derivation_fails_closed_on_an_unbounded_pattern() -> None:
    import re

    # An alternative without an explicit character set, or unbounded width: no shortcut.
    assert badness_needs(re.compile(r"[\u00c3]x|\w+\u00a0")) is None
    assert badness_needs(re.compile(r"\w\s|\u00c3")) is None
    assert badness_needs(re.compile(r"(?<=a)\u00c3")) is None
    needs, width = badness_needs(re.compile(r"[a-z]\u00c3[ ]|\u00a6[\u00a6\u00a4]"))
    assert needs == {0xC3, 0xA6} and width == 3


def test_mixed_benchmark_corpus_sample() -> None:
    # The pipeline benchmark's corpus, built once (about 20 s from the registry packages it names;
    # cached under the tuneprep cache) rather than skipped when absent: equality on it is the contract.
    from benchmarks.corpus import build_mixed

    parts = sorted(build_mixed())
    fixer = UnicodeFixer(OP_CONFIG)
    with open(parts[0], "rb") as fh:
        sample = [json.loads(line)["text"] for line in itertools.islice(fh, 0, None, 5)]
    assert sum(not t.isascii() for t in sample) > 0.25 * len(sample)
    assert _assert_same(fixer, sample) > 0


def test_clean_unicode_op_uses_the_fast_path() -> None:
    from tuneprep.ops.clean import CleanUnicode

    op = CleanUnicode()
    op.setup()
    text = "\u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d \uff26\uff55\uff4c\uff4c and e\u0301\n\u4e2d\u6587\uff0c\u597d"
    assert op.fix(text) == ftfy.fix_text(text, op._config) == unicodedata.normalize("NFC", op.fix(text))
    assert op.fix(text) != text


def test_a_fixer_without_a_character_set_is_refused(monkeypatch) -> None:
    # If ftfy ran a fixer this module knows nothing about, no segment could be vouched for.
    monkeypatch.setattr(unicode_fast, "_FIXER_SOURCES",
                        [s for s in unicode_fast._FIXER_SOURCES if s[0] != "fix_character_width"])
    with pytest.raises(unicode_fast.DerivationError, match="fix_character_width"):
        fixer_characters(OP_CONFIG)
