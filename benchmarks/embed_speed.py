"""Static embeddings (``minilm-l6-static``, model2vec distilled from minilm-l6) vs ``minilm-l6``
for semantic dedup: speed on the same texts, agreement of the duplicate pairs, and the wall
time of ``dedup.semantic`` on 100k real short texts.

Three parts, in one run:

* **Speed:** the same N distinct real short texts (RT + SST-2 + MRPC, at most 40 words),
  embedded without the cache by each model, torch limited to 2 threads; texts/s, wall and CPU
  seconds (CPU: this process, all threads), and their ratio.
* **Quality:** the pairs that matter are the ones ``minilm-l6`` finds at the default threshold
  (cosine >= 0.9), on two real sets: (1) RT × SST-2: the 872 SST-2 test sentences, the Rotten
  Tomatoes snippets that are the same sentence (SST-2 was built from RT; equal after lower-casing
  and dropping all but letters and digits: the gold pairs) and random RT snippets up to
  ``--quality-n``; (2) the sentences of the first ``--mrpc-pairs`` MRPC pairs (gold: the pairs
  labelled paraphrase). Each set's texts are split in two halves at random (seeded); one static
  threshold is chosen on the A halves pooled (the F1 of its pairs against minilm's pairs), and
  precision, recall and F1 are reported per set on the B halves at that threshold (and at 0.9),
  with both models' scores against the gold pairs. minilm embeddings may come from the on-disk
  cache here (the speed part measures speed).
* **100k:** ``dedup.semantic`` with ``model: minilm-l6-static`` at the chosen threshold on
  100,000 distinct real texts, run as the engine runs it (one global step; ``index: auto`` uses
  HNSW above 50k), embedding cache off: wall, CPU seconds and peak RSS of this process. The
  shared data holds fewer than 100k distinct short texts, so the set is every distinct short
  sentence of RT, SST-2 (train sample + test), MRPC and the sentences of the Alpaca and
  AlpacaEval answers, topped up with seeded random joins of two such sentences ("A B").
  minilm cannot embed 100k texts here in minutes, so the run's recall against minilm is not
  measured; its precision is, on 300 random rejected records (minilm cosine to their survivor).

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
from neardup import _mrpc_first_pairs, _shared, gold_key, mrpc, prf, rt_sst, tuneprep_op  # noqa: E402

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


def int8_speed(texts: list[str], fp32: np.ndarray) -> dict[str, Any]:
    """minilm-l6 with its Linear layers dynamically quantised to int8 (models/quantize.py), on the
    same texts: speed, and how close its embeddings are to the fp32 ones."""
    import copy

    from tuneprep.annotate.embed import load_encoder
    from tuneprep.models.quantize import quantize_model

    enc = quantize_model(copy.deepcopy(load_encoder(TEACHER)), "int8")
    kw = {"batch_size": 64, "normalize_embeddings": True, "convert_to_numpy": True, "show_progress_bar": False}
    enc.encode(texts[:16], **kw)
    emb, wall, cpu = _timed(lambda: enc.encode(texts, **kw))
    cos = np.einsum("ij,ij->i", emb, fp32)
    ref, got = set(_pairs(fp32, THRESHOLD)), set(_pairs(emb.astype(np.float32), THRESHOLD))
    out = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "texts_per_s": round(len(texts) / wall, 1),
           "cosine_to_fp32_mean": round(float(cos.mean()), 4), "cosine_to_fp32_min": round(float(cos.min()), 4),
           "pairs_at_0.9_vs_fp32": prf(got, ref)}
    print(f"  minilm-l6 int8: {len(texts)} texts in {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({out['texts_per_s']} texts/s); cosine to fp32: mean {out['cosine_to_fp32_mean']}, min {out['cosine_to_fp32_min']}")
    return out


def speed(n: int, static_n: int, int8: bool = True) -> dict[str, Any]:
    """Both models on the same ``n`` texts (cache off); the static model also on ``static_n``
    texts, since ``n`` texts take it well under a second."""
    from tuneprep.annotate.embed import encode

    pool = short_texts()
    texts = pool[:n]
    res: dict[str, Any] = {"texts": len(texts), "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
                           "torch_threads": 2}
    embs = {}
    for model in (STATIC, TEACHER):
        encode(texts[:16], model, cache=False)  # load (and for the static model, distil) outside the timing
        embs[model], wall, cpu = _timed(lambda model=model: encode(texts, model, cache=False))
        res[model] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "texts_per_s": round(len(texts) / wall, 1)}
        print(f"  {model}: {len(texts)} texts in {wall:.1f} s wall, {cpu:.1f} s CPU ({len(texts) / wall:.1f} texts/s)")
    res["speedup_wall"] = round(res[TEACHER]["wall_s"] / res[STATIC]["wall_s"], 1)
    res["speedup_cpu"] = round(res[TEACHER]["cpu_s"] / res[STATIC]["cpu_s"], 1)
    if int8:
        res["minilm-l6-int8"] = int8_speed(texts, embs[TEACHER])
    many = pool[:static_n]
    _, wall, cpu = _timed(lambda: encode(many, STATIC, cache=False))
    res[f"{STATIC}_large"] = {"texts": len(many), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                              "texts_per_s": round(len(many) / wall, 1)}
    print(f"  {STATIC}: {len(many)} texts in {wall:.1f} s wall, {cpu:.1f} s CPU ({len(many) / wall:.1f} texts/s)")
    return res


def _pairs(emb: np.ndarray, threshold: float) -> dict[tuple[int, int], float]:
    from tuneprep.neardup.semantic import SemanticConfig, neighbour_pairs

    u, v, s = neighbour_pairs(emb, SemanticConfig(threshold=threshold, index="exact"))
    return {(int(a), int(b)): float(c) for a, b, c in zip(u, v, s)}


def quality_sets(n: int, mrpc_pairs: int, seed: int = 0) -> dict[str, tuple[list[str], set[tuple[int, int]]]]:
    """Each set's texts and its gold pairs: RT × SST-2 (same sentence), MRPC (paraphrase label)."""
    texts = quality_texts(n, seed)
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(gold_key(t), []).append(i)
    out = {"rt_sst2": (texts, {(g[a], g[b]) for g in groups.values() for a in range(len(g))
                               for b in range(a + 1, len(g))})}
    if mrpc_pairs:
        recs, gold = mrpc()
        keep = sorted({i for p in _mrpc_first_pairs(mrpc_pairs) for i in p})
        pos = {i: k for k, i in enumerate(keep)}
        out["mrpc"] = ([recs[i]["text"] for i in keep], {(pos[i], pos[j]) for i, j in gold if i in pos and j in pos})
    return out


FLOOR = 0.5  # lowest static threshold tried


def quality(n: int, mrpc_pairs: int, seed: int = 0) -> dict[str, Any]:
    """Per set: minilm's pairs at 0.9 (the reference) and the static model's pairs with scores.
    One static threshold is chosen on half A of every set pooled, and reported on half B."""
    from tuneprep.annotate.embed import encode

    data: dict[str, Any] = {}
    for name, (texts, gold) in quality_sets(n, mrpc_pairs, seed).items():
        ref = set(_pairs(encode(texts, TEACHER), THRESHOLD))  # minilm may come from the cache
        cand = _pairs(encode(texts, STATIC, cache=False), FLOOR)
        half = np.random.default_rng(seed).random(len(texts)) < 0.5  # True: half A
        data[name] = (texts, gold, ref, cand, half)

    def within(pairs: Any, half: np.ndarray, a: bool) -> set[tuple[int, int]]:
        return {p for p in pairs if half[p[0]] == a and half[p[1]] == a}

    def static_at(cand: dict, t: float, half: np.ndarray, a: bool) -> set[tuple[int, int]]:
        return within((p for p, s in cand.items() if s >= t), half, a)

    grid = np.round(np.arange(FLOOR, 1.0, 0.005), 3)
    f1_a = []
    for t in grid:  # pooled over the sets: (set, i, j) pairs
        pred = {(k, *p) for k, (_, _, _, cand, half) in data.items() for p in static_at(cand, t, half, True)}
        ref_a = {(k, *p) for k, (_, _, ref, _, half) in data.items() for p in within(ref, half, True)}
        f1_a.append(prf(pred, ref_a)["f1"])
    best = float(grid[int(np.argmax(f1_a))])
    res: dict[str, Any] = {"teacher_threshold": THRESHOLD, "static_threshold_chosen_on_a": best,
                           "half_a_f1_at_chosen": round(max(f1_a), 4), "sets": {}}
    rng = random.Random(seed)
    for name, (texts, gold, ref, cand, half) in data.items():
        ref_b, gold_b, pred_b = within(ref, half, False), within(gold, half, False), static_at(cand, best, half, False)
        missed, extra = sorted(ref_b - pred_b), sorted(pred_b - ref_b)
        res["sets"][name] = {
            "texts": len(texts), "half_b_texts": int((~half).sum()), "teacher_pairs": len(ref),
            "half_b_vs_teacher_at_chosen": prf(pred_b, ref_b),
            "half_b_vs_teacher_at_0.9": prf(static_at(cand, THRESHOLD, half, False), ref_b),
            "half_b_gold_pairs": len(gold_b),
            "half_b_teacher_vs_gold": prf(ref_b, gold_b),
            "half_b_static_vs_gold_at_chosen": prf(pred_b, gold_b),
            "samples": {"teacher_only": [[texts[i], texts[j]] for i, j in rng.sample(missed, min(4, len(missed)))],
                        "static_only": [[texts[i], texts[j]] for i, j in rng.sample(extra, min(4, len(extra)))]},
        }
        b, tg, sg = (res["sets"][name][k] for k in ("half_b_vs_teacher_at_chosen", "half_b_teacher_vs_gold",
                                                    "half_b_static_vs_gold_at_chosen"))
        print(f"  {name}: {len(texts)} texts, minilm pairs >= {THRESHOLD}: {len(ref)}; half B at static >= {best}: "
              f"P {b['precision']:.3f} R {b['recall']:.3f} F1 {b['f1']:.3f} against minilm's pairs; against gold: "
              f"minilm F1 {tg['f1']:.3f}, static F1 {sg['f1']:.3f}")
    return res


def big(n: int, threshold: float, judge_n: int = 300) -> dict[str, Any]:
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
    res["rejects_judged_by_minilm"] = judge(texts, labels, counts["distinct_sentences"], judge_n)
    return res


def judge(texts: list[str], labels: list[Any], n_real: int, n: int, seed: int = 0) -> dict[str, Any]:
    """minilm-l6 cannot embed 100k texts here in minutes, so the static run's recall against it is
    not measured on the 100k; its precision is: ``n`` random rejected records and the survivors
    they were merged into (through the clusters, as the op does), scored by minilm at 0.9."""
    from tuneprep.annotate.embed import encode

    rej = [i for i, lab in enumerate(labels) if lab != i]
    pick = random.Random(seed).sample(rej, min(n, len(rej)))
    a, b = encode([texts[i] for i in pick], TEACHER), encode([texts[labels[i]] for i in pick], TEACHER)
    cos = np.einsum("ij,ij->i", a, b)
    real = np.array([i < n_real and labels[i] < n_real for i in pick])
    out = {"sampled": len(pick), "minilm_agrees": round(float((cos >= THRESHOLD).mean()), 3),
           "minilm_cosine_median": round(float(np.median(cos)), 3),
           "both_real_sentences": int(real.sum()),
           "minilm_agrees_both_real": round(float((cos[real] >= THRESHOLD).mean()), 3) if real.any() else None,
           "samples_minilm_disagrees": [[texts[i], texts[labels[i]], round(float(c), 3)]
                                        for i, c in zip(pick, cos) if c < THRESHOLD][:6]}
    print(f"  {len(pick)} rejected records vs their survivors: minilm cosine >= {THRESHOLD} for "
          f"{out['minilm_agrees']:.1%} (median {out['minilm_cosine_median']})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed-n", type=int, default=500, help="texts per model in the speed part (0: skip)")
    ap.add_argument("--quality-n", type=int, default=2500, help="RT × SST-2 texts in the quality part (0: skip)")
    ap.add_argument("--mrpc-pairs", type=int, default=1000, help="sentences of the first N MRPC pairs too (0: none)")
    ap.add_argument("--static-n", type=int, default=20_000, help="texts for the static model's own speed figure")
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
        figures["speed"] = speed(a.speed_n, a.static_n)
        m.write(figures)
    if a.quality_n:
        print("== quality")
        figures["quality"] = quality(a.quality_n, a.mrpc_pairs)
        m.write(figures)
    if a.big:
        thr = a.big_threshold or figures.get("quality", {}).get("static_threshold_chosen_on_a") or THRESHOLD
        print("== 100k")
        figures["big"] = big(a.big, thr)
        m.write(figures)


if __name__ == "__main__":
    main()
