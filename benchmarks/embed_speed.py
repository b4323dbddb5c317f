"""Static embeddings (``minilm-l6-static``, model2vec distilled from minilm-l6) vs ``minilm-l6``
for semantic dedup: speed on the same texts, agreement of the duplicate pairs, and the wall
time of ``dedup.semantic`` on 100k real short texts.

Three parts, in one run:

* **Speed:** the same N distinct real short texts (RT + SST-2 + MRPC, at most 40 words),
  embedded without the cache by each model, torch limited to 2 threads; texts/s, wall and CPU
  seconds (CPU: this process, all threads), and their ratio.
* **Quality:** the pairs that matter are the ones ``minilm-l6`` finds at the default threshold
  (cosine >= 0.9) on a real set: the 872 SST-2 test sentences, the Rotten Tomatoes snippets that
  are the same sentence (SST-2 was built from RT; equal after lower-casing and dropping all but
  letters and digits), and random RT snippets up to ``--quality-n``. The texts are split in two
  halves at random (seeded); on half A the static model's threshold is chosen that maximises F1
  of its pairs against minilm's pairs; precision, recall and F1 are reported on half B at that
  threshold (and at 0.9), and both models' F1 against the RT/SST-2 "same sentence" gold pairs.
  minilm embeddings may come from the on-disk cache here (the speed part measures speed).
* **100k:** ``dedup.semantic`` with ``model: minilm-l6-static`` at the chosen threshold on
  100,000 distinct real texts, run as the engine runs it (one global step; ``index: auto`` uses
  HNSW above 50k), embedding cache off: wall, CPU seconds and peak RSS of this process. The
  shared data holds fewer than 100k distinct short texts, so the set is every distinct short
  sentence of RT, SST-2 (train sample + test), MRPC and the sentences of the Alpaca and
  AlpacaEval answers, topped up with seeded random joins of two such sentences ("A B").

    PYTHONPATH=src python benchmarks/embed_speed.py                      # all three parts
    PYTHONPATH=src python benchmarks/embed_speed.py --speed-n 300 --quality-n 1000 --big 0
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from neardup import _shared, gold_key, mrpc, prf, rt_sst, tuneprep_op  # noqa: E402

STATIC = "minilm-l6-static"
TEACHER = "minilm-l6"
THRESHOLD = 0.9  # dedup.semantic's default, the teacher's pairs


def short_texts() -> list[str]:
    """Distinct real short texts (RT, SST-2 test, MRPC), shuffled (seed 0)."""
    texts = list(dict.fromkeys([r["text"] for r in rt_sst()] + [r["text"] for r in mrpc()[0]]))
    texts = [t for t in texts if len(t.split()) <= 40]
    random.Random(0).shuffle(texts)
    return texts


def quality_texts(n: int, seed: int = 0) -> list[str]:
    """SST-2 test sentences, their RT twins, then random RT snippets up to ``n`` (distinct)."""
    recs = rt_sst()
    sst = [r["text"] for r in recs if r["id"].startswith("sst-")]
    keys = {gold_key(t) for t in sst}
    rt = [r["text"] for r in recs if not r["id"].startswith("sst-")]
    twins = [t for t in rt if gold_key(t) in keys]
    rest = [t for t in rt if gold_key(t) not in keys]
    random.Random(seed).shuffle(rest)
    return list(dict.fromkeys(sst + twins + rest))[: max(n, len(sst) + len(twins))]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if 3 <= len(s.split()) <= 40]


def big_texts(n: int, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """``n`` distinct real short texts: every distinct short sentence in the shared data, then
    seeded joins of two of them (see the module docstring); returns the texts and the counts."""
    d = _shared()
    pool = short_texts()
    for ln in (d / "sst2" / "train_sample_5000.tsv").read_text(encoding="utf-8").split("\n")[1:]:
        if ln.strip():
            pool.append(ln.rsplit("\t", 1)[0].strip())
    for r in json.loads((d / "alpaca_cleaned_1000.json").read_text(encoding="utf-8")):
        pool += _sentences(r["instruction"]) + _sentences(r["input"]) + _sentences(r["output"])
    for f in sorted((d / "alpacaeval").glob("*/model_outputs.json")):
        for r in json.loads(f.read_text(encoding="utf-8")):
            pool += _sentences(r["instruction"]) + _sentences(r["output"])
    pool = [t for t in dict.fromkeys(pool) if len(t.split()) <= 40]
    counts = {"distinct_sentences": len(pool)}
    out = dict.fromkeys(pool[:n])
    rng = random.Random(seed)
    while len(out) < n:
        a, b = rng.sample(pool, 2)
        out[f"{a} {b}"] = None
    counts["joined_pairs"] = len(out) - min(len(pool), n)
    return list(out), counts


def _timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def speed(n: int) -> dict[str, Any]:
    from tuneprep.annotate.embed import encode

    texts = short_texts()[:n]
    res: dict[str, Any] = {"texts": len(texts), "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
                           "torch_threads": 2}
    for model in (STATIC, TEACHER):
        encode(texts[:16], model, cache=False)  # load (and for the static model, distil) outside the timing
        _, wall, cpu = _timed(lambda model=model: encode(texts, model, cache=False))
        res[model] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "texts_per_s": round(len(texts) / wall, 1)}
        print(f"  {model}: {len(texts)} texts in {wall:.1f} s wall, {cpu:.1f} s CPU ({len(texts) / wall:.1f} texts/s)")
    res["speedup_wall"] = round(res[TEACHER]["wall_s"] / res[STATIC]["wall_s"], 1)
    res["speedup_cpu"] = round(res[TEACHER]["cpu_s"] / res[STATIC]["cpu_s"], 1)
    return res


def _pairs(emb: np.ndarray, threshold: float) -> dict[tuple[int, int], float]:
    from tuneprep.neardup.semantic import SemanticConfig, neighbour_pairs

    u, v, s = neighbour_pairs(emb, SemanticConfig(threshold=threshold, index="exact"))
    return {(int(a), int(b)): float(c) for a, b, c in zip(u, v, s)}


def quality(n: int, seed: int = 0) -> dict[str, Any]:
    from tuneprep.annotate.embed import encode

    texts = quality_texts(n, seed)
    ref = set(_pairs(encode(texts, TEACHER), THRESHOLD))
    floor = 0.5
    cand = _pairs(encode(texts, STATIC, cache=False), floor)
    gold_groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        gold_groups.setdefault(gold_key(t), []).append(i)
    gold = {(g[a], g[b]) for g in gold_groups.values() for a in range(len(g)) for b in range(a + 1, len(g))}
    half = np.random.default_rng(seed).random(len(texts)) < 0.5  # True: half A

    def within(pairs: Any, a: bool) -> set[tuple[int, int]]:
        return {p for p in pairs if half[p[0]] == a and half[p[1]] == a}

    def static_at(t: float, a: bool) -> set[tuple[int, int]]:
        return within((p for p, s in cand.items() if s >= t), a)

    ref_a, ref_b = within(ref, True), within(ref, False)
    grid = np.round(np.arange(floor, 1.0, 0.005), 3)
    f1_a = [prf(static_at(t, True), ref_a)["f1"] for t in grid]
    best = float(grid[int(np.argmax(f1_a))])
    res: dict[str, Any] = {
        "texts": len(texts), "half_a_texts": int(half.sum()), "half_b_texts": int((~half).sum()),
        "teacher_threshold": THRESHOLD, "teacher_pairs": len(ref), "static_threshold_chosen_on_a": best,
        "half_a_f1_at_chosen": round(max(f1_a), 4),
        "half_b_vs_teacher_at_chosen": prf(static_at(best, False), ref_b),
        "half_b_vs_teacher_at_0.9": prf(static_at(THRESHOLD, False), ref_b),
        "half_b_gold_pairs": len(within(gold, False)),
        "half_b_teacher_vs_gold": prf(ref_b, within(gold, False)),
        "half_b_static_vs_gold_at_chosen": prf(static_at(best, False), within(gold, False)),
    }
    rng = random.Random(seed)
    missed = sorted(ref_b - static_at(best, False))
    extra = sorted(static_at(best, False) - ref_b)
    res["samples"] = {"teacher_only": [[texts[i], texts[j]] for i, j in rng.sample(missed, min(4, len(missed)))],
                      "static_only": [[texts[i], texts[j]] for i, j in rng.sample(extra, min(4, len(extra)))]}
    b = res["half_b_vs_teacher_at_chosen"]
    print(f"  {len(texts)} texts, minilm pairs >= {THRESHOLD}: {len(ref)}; static threshold chosen on half A: "
          f"{best}; half B: P {b['precision']:.3f} R {b['recall']:.3f} F1 {b['f1']:.3f} against minilm's pairs")
    return res


def big(n: int, threshold: float) -> dict[str, Any]:
    texts, counts = big_texts(n)
    recs = [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]
    params = {"model": STATIC, "threshold": threshold, "cache": False}
    tuneprep_op(recs[:64], "dedup.semantic", params)  # the model loads outside the timing
    (labels, _, stats), wall, cpu = _timed(lambda: tuneprep_op(recs, "dedup.semantic", params))
    res = {"records": len(recs), **counts, "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
           "threshold": threshold, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), **stats}
    print(f"  dedup.semantic ({STATIC}, cosine >= {threshold}) on {len(recs):,} texts: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU, {stats.get('rejected')} rejected, index {stats.get('index')}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed-n", type=int, default=500, help="texts per model in the speed part (0: skip)")
    ap.add_argument("--quality-n", type=int, default=2500, help="texts in the quality part (0: skip)")
    ap.add_argument("--big", type=int, default=100_000, help="records for the dedup.semantic run (0: skip)")
    ap.add_argument("--big-threshold", type=float, default=None,
                    help="static threshold for the big run (default: the one chosen in the quality part)")
    ap.add_argument("--name", default="embed_speed", help="result file name (benchmarks/results/NAME.json)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    from resultfile import Measurement

    m = Measurement(a.name, libraries=["model2vec", "sentence-transformers", "torch", "faiss-cpu"])
    figures: dict[str, Any] = {"static_model": STATIC, "teacher": TEACHER}
    # the result file is rewritten after each part, so a late failure keeps what was measured
    if a.speed_n:
        print("== speed")
        figures["speed"] = speed(a.speed_n)
        m.write(figures)
    if a.quality_n:
        print("== quality")
        figures["quality"] = quality(a.quality_n)
        m.write(figures)
    if a.big:
        thr = a.big_threshold or figures.get("quality", {}).get("static_threshold_chosen_on_a") or THRESHOLD
        print("== 100k")
        figures["big"] = big(a.big, thr)
        m.write(figures)


if __name__ == "__main__":
    main()
