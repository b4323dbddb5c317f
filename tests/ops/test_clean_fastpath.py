"""The fast paths of clean.unicode, clean.whitespace and the dedup normal form change no output.

clean.unicode skips ftfy for lines it provably leaves alone (tests/ops/test_unicode_fast.py has the
exhaustive and multilingual checks); clean.whitespace and normalize_for_dedup
use str.split/join instead of regexes and skip NFKC/casefold work on ASCII. Every output is compared
with plain ftfy / the regex reference on real text (Rotten Tomatoes, and the shared web, chat,
instruction and paraphrase data when present) and on edge cases.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import unicodedata

import ftfy
import pytest

from tuneprep.datasets import rotten_tomatoes, shared_data_dir
from tuneprep.ops.clean import CleanUnicode, CleanWhitespace
from tuneprep.ops.text import normalize_for_dedup
from tuneprep.ops.unicode_fast import UnicodeFixer

# The per-line whitespace normalisation as first written: the reference for the faster version.
_SPACES = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")
_ALL_WS = re.compile(r"\s+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def reference_whitespace(text: str, keep_newlines: bool = True) -> str:
    text = _ZERO_WIDTH.sub("", text)
    if not keep_newlines:
        return _ALL_WS.sub(" ", text).strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


def _unicode_op(**params) -> CleanUnicode:
    op = CleanUnicode(**params)
    op.setup()
    return op


def _real_texts() -> list[str]:
    texts = []
    with open(rotten_tomatoes(), "rb") as fh:
        texts += [json.loads(line)["text"] for line in fh]
    shared = shared_data_dir()
    if shared is not None:
        with open(shared / "dolma_cc" / "cc_en_head-0091.jsonl", "rb") as fh:
            texts += [json.loads(line)["text"] for line in fh]
        with gzip.open(shared / "dolma_cc" / "000.json.gz", "rb") as fh:
            texts += [json.loads(line)["text"] for line in fh]
        # MRPC starts with a mojibake BOM and has Windows-1252 leftovers: real work for ftfy.
        for name in ("train.txt", "test.txt"):
            raw = (shared / "mrpc" / name).read_text(encoding="utf-8")
            texts.append(raw[:200_000])
            texts += raw.splitlines()
        for conv in json.loads((shared / "sharegpt_500.json").read_text(encoding="utf-8")):
            texts += [turn["value"] for turn in conv["conversations"]]
        for row in json.loads((shared / "alpaca_cleaned_1000.json").read_text(encoding="utf-8")):
            texts += [row["instruction"], row["input"], row["output"]]
    return texts


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    return _real_texts()


@pytest.mark.parametrize("params", [{}, {"normalization": "NFKC", "uncurl_quotes": True},
                                    {"normalization": None, "fix_encoding": False}])
def test_unicode_fast_path_equals_ftfy_on_real_text(real_texts: list[str], params: dict) -> None:
    op = _unicode_op(**params)
    non_ascii = changed = 0
    for t in real_texts:
        expected = ftfy.fix_text(t, op._config)
        assert op.fix(t) == expected, t[:200]
        non_ascii += not t.isascii()
        changed += expected != t
    # The corpus exercises both paths: texts ftfy rewrites and texts it leaves alone (Rotten Tomatoes
    # alone has 880 non-ASCII snippets, one of which ftfy changes with the default config).
    assert non_ascii > 10 and changed >= 1


def test_unicode_fast_path_every_ascii_character() -> None:
    op = _unicode_op()
    for c in map(chr, range(128)):
        for t in (c, f"ab{c}cd", f"x\n{c}\ny", f"{c}\r\n{c}", f"caf\u00e9 {c}\nplain {c} line\n"):
            assert op.fix(t) == ftfy.fix_text(t, op._config), repr(t)


@pytest.mark.parametrize("text", [
    "plain line\nâ€œmojibakeâ€\u009d line\nplain again\n",
    "\x1b[31mred\x1b[0m and \x1b[1mbold\x1b[0m\r\nnext",
    "tab\tand\x0bvertical\x0cform\x7fdel\x00nul",
    "ﬁ ligature and ＦＵＬＬＷＩＤＴＨ\u2028line sep\u0085nel",
    "\ufeffBOM first\nthen â€™ and a lone \ud800 surrogate",
    "no newline at the end âœ”",
    "\n\n\nleading newlines and trailing ones\n\n",
])
def test_unicode_fast_path_edge_cases(text: str) -> None:
    op = _unicode_op()
    assert op.fix(text) == ftfy.fix_text(text, op._config)


def test_unicode_segments_longer_than_max_decode_length() -> None:
    op = _unicode_op()
    op._config = op._config._replace(max_decode_length=7)  # split inside lines, as ftfy does
    op._fixer = UnicodeFixer(op._config)
    for t in ("abcdefghijklmnop\nâ€œqrstuvwxyzâ€\u009d and more\n" * 3, "x" * 30 + "é" + "y" * 30):
        assert op.fix(t) == ftfy.fix_text(t, op._config)


@pytest.mark.parametrize("keep_newlines", [True, False])
def test_whitespace_equals_per_line_reference_on_real_text(real_texts: list[str], keep_newlines: bool) -> None:
    op = CleanWhitespace(keep_newlines=keep_newlines, keep_indent=False)
    rng = random.Random(0)
    odd = [" ", "  ", "\t", "\n", "\n\n\n", "\r\n", "\r", "\u00a0", "\u200b", "\u2028", "\x0b", " \n \n", "\u3000"]
    for t in real_texts:
        assert op._clean(t) == reference_whitespace(t, keep_newlines), t[:200]
        # The same real text with extra whitespace of every kind inserted at word boundaries.
        words = t.split(" ")
        messy = "".join(w + rng.choice(odd) for w in words)
        assert op._clean(messy) == reference_whitespace(messy, keep_newlines), messy[:200]


def test_dedup_normal_form_equals_nfkc_casefold_reference(real_texts: list[str]) -> None:
    def reference(t: str) -> str:
        return _ALL_WS.sub(" ", unicodedata.normalize("NFKC", t).casefold()).strip()

    rng = random.Random(1)
    for t in real_texts:
        assert normalize_for_dedup(t) == reference(t), t[:200]
        messy = "".join(w + rng.choice([" ", "\t\n", "\u00a0", "\u3000 "]) for w in t.split(" "))
        assert normalize_for_dedup(messy) == reference(messy)
    # Compatibility forms and case that only NFKC + casefold bring together.
    assert normalize_for_dedup("\ufb01ne  STRASSE\u2003x") == normalize_for_dedup("fine stra\u00dfe x")
    # Every ASCII character where the already-collapsed shortcut's checks decide.
    for c in map(chr, range(128)):
        for t in (c, f"{c}Ab", f"aB{c}", f"a{c}b", f"a {c} b", f"a{c}{c}b", f"A\n{c}b", ""):
            assert normalize_for_dedup(t) == reference(t), repr(t)


@pytest.mark.parametrize("keep_newlines", [True, False])
@pytest.mark.parametrize("keep_indent", [True, False])
def test_whitespace_unchanged_text_shortcut_equals_full_path(real_texts: list[str], keep_newlines: bool,
                                                             keep_indent: bool) -> None:
    """``_clean`` returns clean ASCII text as is after a scan; ``_clean_slow`` always splits and joins."""
    op = CleanWhitespace(keep_newlines=keep_newlines, keep_indent=keep_indent)
    rng = random.Random(2)
    shortcut = 0
    for t in real_texts:
        assert op._clean(t) == op._clean_slow(t), t[:200]
        shortcut += op._clean_slow(t) == t and t.isascii()
        words = t.split(" ")
        messy = "".join(w + rng.choice([" ", "  ", "\n", "\n ", " \n", "\n\n\n", "\t", "\x1f"]) for w in words)
        assert op._clean(messy) == op._clean_slow(messy), messy[:200]
    assert shortcut > 1000  # the real texts do take the shortcut
    # Every ASCII character, alone and at each place where whitespace rules differ.
    for c in map(chr, range(128)):
        for t in (c, f"{c}ab", f"ab{c}", f"a{c}b", f"a\n{c}b", f"a{c}\nb", f"a\n\n{c}\nb", f"{c}\n{c}"):
            assert op._clean(t) == op._clean_slow(t), repr(t)


@pytest.mark.parametrize(("op_name", "params"), [
    ("clean.unicode", {}), ("clean.unicode", {"normalization": "NFKC", "uncurl_quotes": True}),
    ("clean.whitespace", {}), ("clean.whitespace", {"keep_newlines": False, "keep_indent": False}),
    ("filter.length", {"min_words": 5}), ("filter.length", {"min_chars": 40, "max_words": 30}),
    ("filter.length", {"max_chars": 60}),
])
def test_apply_many_equals_apply_record_by_record(real_texts: list[str], op_name: str, params: dict) -> None:
    """The chunk method the engines call gives apply's results (clean.unicode's apply returns an
    unchanged record early): real texts as plain records, as chat messages, beside records with
    meta and scores already, a missing text and a non-string one."""
    import copy

    from tuneprep.ops.base import Drop, build_op

    op = build_op(op_name, params)
    op.setup()
    records: list[dict] = []
    for i, t in enumerate(real_texts[::3]):
        if i % 11 == 0:
            records.append({"id": str(i), "messages": [{"role": "user", "content": t},
                                                       {"role": "assistant", "content": t[::-1]}]})
        elif i % 7 == 0:
            records.append({"id": str(i), "text": t, "meta": {"source": f"f:{i}", "scores": {"x": 1}}})
        else:
            records.append({"id": str(i), "text": t, **({"meta": {"source": f"f:{i}"}} if i % 2 else {})})
    records += [{"id": "none", "text": None}, {"id": "int", "text": 42}, {"id": "empty", "text": ""}]
    one_by_one = [op.apply(r) for r in copy.deepcopy(records)]
    many = []
    chunked = copy.deepcopy(records)
    for b in range(0, len(chunked), 512):
        many += op.apply_many(chunked[b: b + 512])
    assert len(many) == len(one_by_one)
    for a, b in zip(many, one_by_one, strict=True):
        if isinstance(b, Drop):
            assert isinstance(a, Drop) and (a.reason, a.detail) == (b.reason, b.detail)
        else:
            assert a == b
    assert any(not isinstance(x, Drop) for x in many)
    if op_name == "clean.unicode":  # the early return for unchanged texts gives plain ftfy's output
        fixed = 0
        for before, after in zip(records, many, strict=True):
            if isinstance(before.get("text"), str):
                assert after["text"] == ftfy.fix_text(before["text"], op._config), before["text"][:200]
                fixed += after["text"] != before["text"]
        assert fixed >= 1
