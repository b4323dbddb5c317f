"""Typo correction on real misspellings in real sentences: tuneprep clean.typos vs symspellpy
``lookup_compound`` and pyspellchecker, on the same input in one run.

Input (real data only):
* misspellings: the ``wrong->right`` list shipped in the ``codespell`` package
  (codespell_lib/data/dictionary.txt, collected from real documents); entries with one correction
  whose wrong form is not itself an English word (real-word errors are out of scope for any
  dictionary corrector) and whose right form is a plain lowercase word;
* sentences: SST-2 train (tokenised, lowercased), MRPC train (news), Alpaca-cleaned outputs —
  from ../shared/data. A sentence that contains a listed right word gets that one word replaced
  by its misspelling; other sentences stay untouched as the clean-text control.

Figures:
(a) share of inserted misspellings turned back into the right word;
(b) share of word tokens changed in the untouched clean sentences (damage).
Targets from the issue: (a) >= 0.75, (b) <= 0.3 %.

Every corrector gets the same sentences (pyspellchecker word by word, unknown words only, each
distinct word corrected once). tuneprep learns the corpus vocabulary from the whole
benchmark input first (as the global op does in a run). Words are compared lowercased and aligned
with difflib, since lookup_compound lowercases and drops punctuation.

    python benchmarks/typos.py [--n-typos 1000] [--n-clean 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import difflib
import functools
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resultfile import Measurement  # noqa: E402

WORDS = re.compile(r"[a-z]+|\d+")


def shared_data() -> Path:
    from tuneprep.datasets import shared_data_dir

    d = shared_data_dir()
    if d is None:
        sys.exit("shared data absent: ../shared/data is not beside the repository")
    return d


def sentences(root: Path) -> list[str]:
    out: list[str] = []
    with open(root / "sst2" / "train_sample_5000.tsv", encoding="utf-8") as fh:
        out += [row.split("\t")[0].strip() for row in fh.read().splitlines()[1:]]
    with open(root / "mrpc" / "train.txt", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
        out += [r[3].replace("<QUOTE>", '"') for r in rows if len(r) >= 5]
    alpaca = json.loads((root / "alpaca_cleaned_1000.json").read_text(encoding="utf-8"))
    for r in alpaca:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", r["output"]) if s.strip()]
    return [s for s in out if 20 <= len(s) <= 400]


def misspellings(english: dict[str, int]) -> dict[str, list[str]]:
    """right word -> real misspellings of it (codespell's list, filtered as the module doc says)."""
    import importlib.resources

    path = importlib.resources.files("codespell_lib") / "data" / "dictionary.txt"
    by_right: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        wrong, _, right = line.partition("->")
        right = right.strip().rstrip(",")
        if "," in right or not wrong.isalpha() or not right.isalpha() or not right.islower():
            continue
        if wrong in english or right not in english:
            continue
        by_right.setdefault(right, []).append(wrong)
    return by_right


def build(n_typos: int, n_clean: int, seed: int, english: dict[str, int]) -> tuple[list[tuple[str, str, int]], list[str]]:
    rng = random.Random(seed)
    sents = sentences(shared_data())
    rng.shuffle(sents)
    by_right = misspellings(english)
    typo_cases: list[tuple[str, str, int]] = []  # (clean sentence, misspelled sentence, word index)
    used_wrong: set[str] = set()
    clean: list[str] = []
    for s in sents:
        toks = list(re.finditer(r"[A-Za-z]+", s))
        options = [(i, m) for i, m in enumerate(toks) if m.group() in by_right]
        fresh = [(i, m, w) for i, m in options for w in by_right[m.group()] if w not in used_wrong]
        if fresh and len(typo_cases) < n_typos:
            i, m, wrong = rng.choice(fresh)
            used_wrong.add(wrong)
            bad = s[:m.start()] + wrong + s[m.end():]
            idx = len(WORDS.findall(s[:m.start()].lower()))
            typo_cases.append((s, bad, idx))
        elif len(clean) < n_clean:
            clean.append(s)
        if len(typo_cases) >= n_typos and len(clean) >= n_clean:
            break
    return typo_cases, clean


def score(cases: list[tuple[str, str, int]], clean: list[str], fixed_typo: list[str], fixed_clean: list[str]) -> dict:
    right = 0
    for (orig, _bad, idx), out in zip(cases, fixed_typo):
        a, b = WORDS.findall(orig.lower()), WORDS.findall(out.lower())
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        right += any(i1 <= idx < i2 for tag, i1, i2, _, _ in sm.get_opcodes() if tag == "equal")
    changed = total = 0
    for orig, out in zip(clean, fixed_clean):
        a, b = WORDS.findall(orig.lower()), WORDS.findall(out.lower())
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        total += len(a)
        changed += len(a) - sum(bl.size for bl in sm.get_matching_blocks())
    return {"corrected_share": round(right / max(1, len(cases)), 4), "corrected": right,
            "clean_tokens_changed_share": round(changed / max(1, total), 5), "clean_tokens_changed": changed,
            "clean_tokens": total}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-typos", type=int, default=1000)
    ap.add_argument("--n-clean", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--name", default="typos", help="Result file name (benchmarks/results/NAME.json).")
    args = ap.parse_args()
    m = Measurement(args.name, libraries=["symspellpy", "pyspellchecker", "codespell"])

    from tuneprep.correct.dictionary import english_frequencies
    from tuneprep.correct.edits import apply_edits
    from tuneprep.correct.typos import TypoConfig, TypoCorrector

    english = english_frequencies() or {}
    cases, clean = build(args.n_typos, args.n_clean, args.seed, english)
    bad = [c[1] for c in cases]
    print(f"{len(cases)} misspelled sentences, {len(clean)} clean sentences", flush=True)
    results: dict[str, dict] = {}

    t0 = time.perf_counter()
    tc = TypoCorrector(TypoConfig())
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    tc.learn(bad + clean)
    ours = [apply_edits(s, tc.propose(s)) for s in bad + clean]
    results["tuneprep clean.typos"] = {**score(cases, clean, ours[:len(bad)], ours[len(bad):]),
                                       "seconds": round(time.perf_counter() - t0, 2), "load_seconds": round(t_load, 2)}

    from symspellpy import SymSpell

    t0 = time.perf_counter()
    sym = SymSpell(max_dictionary_edit_distance=2)
    uni, bi = __import__("tuneprep.correct.dictionary", fromlist=["x"]).dictionary_files("en")
    sym.load_dictionary(str(uni), 0, 1)
    sym.load_bigram_dictionary(str(bi), 0, 2)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    comp = [sym.lookup_compound(s, max_edit_distance=2)[0].term for s in bad + clean]
    results["symspellpy lookup_compound"] = {**score(cases, clean, comp[:len(bad)], comp[len(bad):]),
                                             "seconds": round(time.perf_counter() - t0, 2),
                                             "load_seconds": round(t_load, 2)}

    from spellchecker import SpellChecker

    t0 = time.perf_counter()
    sc = SpellChecker(language="en")
    t_load = time.perf_counter() - t0

    @functools.cache  # the same unknown word is corrected once (it is slow)
    def pysc_word(low: str) -> str | None:
        return None if low in sc else sc.correction(low)

    def pysc(s: str) -> str:
        def fix(mt: re.Match) -> str:
            w = mt.group()
            c = pysc_word(w.lower())
            return w if not c or c == w.lower() else (c.capitalize() if w[0].isupper() else c)
        return re.sub(r"[A-Za-z]+", fix, s)

    t0 = time.perf_counter()
    ps = [pysc(s) for s in bad + clean]
    results["pyspellchecker"] = {**score(cases, clean, ps[:len(bad)], ps[len(bad):]),
                                 "seconds": round(time.perf_counter() - t0, 2), "load_seconds": round(t_load, 2)}

    for name, r in results.items():
        print(f"{name:28s} (a) corrected {r['corrected_share']:.3f} ({r['corrected']}/{len(cases)})  "
              f"(b) clean tokens changed {100 * r['clean_tokens_changed_share']:.3f} % "
              f"({r['clean_tokens_changed']}/{r['clean_tokens']})  {r['seconds']:.1f} s")
    figures = {"n_misspelled_sentences": len(cases), "n_clean_sentences": len(clean), "seed": args.seed,
               "targets": {"corrected_share_min": 0.75, "clean_tokens_changed_share_max": 0.003},
               "results": results}
    if not args.no_write:
        m.write(figures)


if __name__ == "__main__":
    main()
