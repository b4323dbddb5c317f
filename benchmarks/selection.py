"""Which data decision helped, measured: the ablation example on real data, and the cost of select.diverse.

* default: runs ``examples/ablate/experiment.yaml`` (Rotten Tomatoes; random vs balance vs
  balance + diverse vs relevance vs label-issue filtering vs an over-aggressive length filter;
  MiniLM-L6 encoder; 3 seeds) through ``tuneprep ablate`` (cached cells: a rerun resumes) and
  writes ``benchmarks/results/selection.json``: per variant and budget macro-F1 mean [95 % CI over
  seeds], neutral F1, the paired difference against random (bootstrap CI, McNemar p), wall time.
  The peer is the baseline every practitioner starts from: a seeded random sample of the same size.
  ``--experiment FILE`` runs another experiment file (e.g. the LoRA one) into ``--name``.
* ``--speed``: ``select.diverse`` on 100,000 records' worth of vectors: the RT MiniLM embeddings
  (real, cached) repeated with small Gaussian jitter and renormalised — the selection step given
  embeddings — k-center greedy (n=1,000) and the cluster step with MiniBatchKMeans against
  scikit-learn's full-batch KMeans (the peer) at the same k, side by side; plus the encoder's
  measured texts/s on uncached real RT texts, from which the encoding time of 100k texts follows.
  Writes ``benchmarks/results/selection_speed.json``.

Usage: ``python benchmarks/selection.py [--experiment FILE --out DIR --name NAME] [--speed]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]


def ablation(experiment: Path, out: Path, name: str) -> None:
    from tuneprep.ablate.report import verdict
    from tuneprep.ablate.runner import run_experiment

    m = Measurement(name, libraries=["torch", "transformers", "sentence-transformers", "scikit-learn", "cleanlab"])
    res = run_experiment(experiment, out, workers=1)
    cells = res["cell_results"]
    rows = {}
    for r in res["table"]:
        key = f"{r['variant']}@{r['budget']}"
        rows[key] = {"f1_macro": round(r["f1_macro"]["mean"], 4),
                     "f1_macro_ci95": [round(x, 4) for x in r["f1_macro"]["ci95"] or []],
                     "accuracy": round(r["accuracy"]["mean"], 4),
                     "per_class_f1": {k: round(v["mean"], 4) for k, v in r["per_class_f1"].items()},
                     "seeds": r["seeds"], "trained_on": r["trained_on"]}
    diffs = {}
    for d in res["differences"]:
        diffs[f"{d['variant']}@{d['budget']}"] = {
            "f1_macro_diff": round(d["f1_macro"]["diff"], 4), "ci95": [round(x, 4) for x in d["f1_macro"]["ci95"]],
            "mcnemar_p": d["mcnemar"]["pvalue"], "verdict": verdict(d),
            "per_seed_f1_diff": [round(s["f1_macro"], 4) for s in d["per_seed"]]}
    figures = {
        "experiment": str(experiment.relative_to(REPO)) if experiment.is_relative_to(REPO) else str(experiment),
        "model": res["model"], "method": res["method"], "baseline": res["baseline"],
        "test_set": {k: res["test_set"][k] for k in ("n", "labels", "sha256")}, "pool": res["test_set"]["pool"],
        "table": rows, "differences_vs_baseline": diffs,
        "cells": res["cells"], "cells_cached_this_run": res["cells_cached"],
        "wall_s_this_run": res["seconds"],
        "cell_seconds_total": round(sum(c["seconds"]["total"] for c in cells), 1),
        "note": "wall times depend on the machine's load (machine.load_avg_before/after)",
    }
    m.write(figures)
    # The plots the README shows, from the same results (SVG, no scripts).
    from tuneprep.ablate.report import curves_svg, forest_svg

    svg_dir = Path(__file__).resolve().parent / "results"
    (svg_dir / f"{name}_forest.svg").write_text(forest_svg(res) + "\n")
    if len({r["budget"] for r in res["table"]}) > 1:
        (svg_dir / f"{name}_curves.svg").write_text(curves_svg(res) + "\n")


def speed(n: int, picks: int) -> None:
    import numpy as np
    from sklearn.cluster import KMeans

    from tuneprep.annotate.embed import encode, load_encoder
    from tuneprep.datasets import rotten_tomatoes
    from tuneprep.ops.selection.diverse import kcenter, kmeans

    m = Measurement("selection_speed", libraries=["numpy", "scikit-learn", "sentence-transformers", "torch"])
    from tuneprep.ops.selection.common import priority

    rows = [json.loads(line) for line in open(rotten_tomatoes())]
    texts = [r["text"] for r in sorted(rows, key=lambda r: priority(0, r))]
    base = encode(texts[:1200])  # the example's sample: cached by its run
    rng = np.random.default_rng(0)
    x = np.repeat(base, -(-n // len(base)), axis=0)[:n]
    x = x + rng.normal(0, 0.02, x.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t = time.perf_counter()
    kcenter(x, picks, 0)
    kc_s = time.perf_counter() - t
    k = round(n ** 0.5)
    t = time.perf_counter()
    kmeans(x, k, 0)
    mb_s = time.perf_counter() - t
    t = time.perf_counter()
    KMeans(n_clusters=k, random_state=0, n_init=1, max_iter=10).fit(x)  # 10 Lloyd passes: a floor for the peer
    full_s = time.perf_counter() - t
    load_encoder()  # loaded apart (it may not be yet: the 1,200 above came from the cache)
    sample = [t_ + " ." for t_ in texts[5000:6000]]  # changed text: not in the cache
    t = time.perf_counter()
    encode(sample, cache=False)
    enc_rate = len(sample) / (time.perf_counter() - t)
    m.write({"records": n, "dim": int(x.shape[1]),
             "vectors": "RT MiniLM embeddings (1,200 real) repeated with N(0, 0.02) jitter, renormalised",
             "kcenter_picks": picks, "kcenter_s": round(kc_s, 2),
             "clusters_k": k, "sklearn_full_kmeans_max_iter": 10, "minibatch_kmeans_s": round(mb_s, 2), "sklearn_full_kmeans_s": round(full_s, 2),
             "full_over_minibatch": round(full_s / mb_s, 2),
             "encode_texts_per_s": round(enc_rate, 1), "encode_100k_min_estimate": round(100_000 / enc_rate / 60, 1),
             "note": "encoding rate: 1,000 new texts, model loaded apart; embeddings are cached per text"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--experiment", type=Path, default=REPO / "examples" / "ablate" / "experiment.yaml")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "ablate" / "rt-selection")
    ap.add_argument("--name", default="selection")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--picks", type=int, default=1000)
    a = ap.parse_args()
    if a.speed:
        speed(a.n, a.picks)
    else:
        ablation(a.experiment.resolve(), a.out, a.name)


if __name__ == "__main__":
    main()
