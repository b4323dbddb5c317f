"""bf16 label scoring with fp32 re-scoring of close calls: how often predictions move, what it saves.

For N real records of each dataset (Rotten Tomatoes snippets, 3 labels, seeded sample — the demo's
data; and the first N SST-2 test sentences, 2 labels — the lm-eval benchmark's), the default model
``smollm2-135m`` zero-shot scores every record twice in one process: with the fp32 model and with
the bf16 copy ``tuneprep eval --bf16`` uses (``tuneprep.models.precision.bf16_copy``: bf16
weights, fp32 output head). Both passes are timed (wall and process CPU, same threads, fp32 first
then bf16, then the pair again, median of the pairs). Because both score sets are kept, the
checked path at any margin m follows without re-running it: records whose bf16 margin is under m
take fp32's scores, the rest bf16's. For each m the benchmark reports the share re-scored, how
many predictions differ from fp32's (and which), and the modelled time
``bf16 time + share x fp32 time``.

Where the speed comes from: bf16 matrix instructions (AMX / AVX512-BF16) on this CPU; without them
bf16 is emulated and slower (the result file records which the CPU has).

    .venv/bin/python benchmarks/eval_bf16.py --n 1000
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)


def _rt(n: int) -> list[dict]:
    from tuneprep.datasets import rotten_tomatoes

    rows = [json.loads(x) for x in rotten_tomatoes().read_text(encoding="utf-8").split("\n") if x.strip()]
    return random.Random(0).sample(rows, n)


def _sst2(n: int) -> list[dict]:
    path = REPO.parent / "shared" / "data" / "sst2" / "test.tsv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    return [{"id": f"sst2-{i}", "text": r["sentence"].strip(), "label": "positive" if r["label"] == "1" else "negative"}
            for i, r in enumerate(rows)]


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def measure(name: str, rows: list[dict], pred, pairs: int) -> dict:
    from tuneprep.models.precision import close_calls
    from tuneprep.models.prompt import ClassifyTemplate

    labels = sorted({r["label"] for r in rows})
    tpl = ClassifyTemplate(labels=labels)
    texts = [r["text"] for r in rows]
    gold = np.array([labels.index(r["label"]) for r in rows])
    times: dict[str, list[tuple[float, float]]] = {"fp32": [], "bf16": []}
    for _ in range(pairs):
        fp, w, c = _timed(lambda: pred._score(pred.model, tpl, texts, None).probs)
        times["fp32"].append((w, c))
        bf, w, c = _timed(lambda: pred._score(pred.model_bf16, tpl, texts, None).probs)
        times["bf16"].append((w, c))
    med = {k: {"wall_s": round(statistics.median(w for w, _ in v), 2), "cpu_s": round(statistics.median(c for _, c in v), 2),
               "wall_range": [round(min(w for w, _ in v), 2), round(max(w for w, _ in v), 2)]} for k, v in times.items()}
    fp_pred, n = fp.argmax(1), len(texts)
    err = np.abs(np.log(bf) - np.log(fp))
    by_margin = {}
    for m in MARGINS:
        close = close_calls(bf, m)
        checked = bf.copy()
        checked[close] = fp[close]
        diff = np.flatnonzero(checked.argmax(1) != fp_pred)
        share = close.size / n
        by_margin[str(m)] = {
            "rescored": int(close.size), "rescored_share": round(share, 4),
            "predictions_differing_from_fp32": int(diff.size), "agreement": round(1 - diff.size / n, 4),
            "differing": [{"id": rows[i]["id"], "fp32": labels[fp_pred[i]], "checked": labels[int(checked[i].argmax())]}
                          for i in diff[:10]],
            "modelled_wall_s": round(med["bf16"]["wall_s"] + share * med["fp32"]["wall_s"], 2),
            "speedup_vs_fp32": round(med["fp32"]["wall_s"] / (med["bf16"]["wall_s"] + share * med["fp32"]["wall_s"]), 2),
        }
    out = {
        "records": n, "labels": labels, "pairs": pairs, "time": med,
        "bf16_only_speedup_wall": round(med["fp32"]["wall_s"] / med["bf16"]["wall_s"], 2),
        "accuracy": {"fp32": round(float((fp_pred == gold).mean()), 4),
                     "bf16_only": round(float((bf.argmax(1) == gold).mean()), 4)},
        "abs_logprob_error_quantiles": {q: round(float(np.quantile(err.max(1), float(q))), 4)
                                        for q in ("0.5", "0.9", "0.99", "1.0")},
        "by_margin": by_margin,
    }
    d = by_margin["0.2"]
    print(f"{name}: {n} records, fp32 {med['fp32']['wall_s']} s, bf16 {med['bf16']['wall_s']} s "
          f"({out['bf16_only_speedup_wall']}x); margin 0.2: {d['rescored_share']:.1%} re-scored, "
          f"{d['predictions_differing_from_fp32']} predictions differ, modelled {d['speedup_vs_fp32']}x", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=1, help="fp32/bf16 timing pairs per dataset")
    ap.add_argument("--result", default="eval_bf16")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    import torch

    from tuneprep.evaluate.predictor import ModelPredictor
    from tuneprep.models.precision import BF16_MARGIN, bf16_supported

    m = Measurement(args.result, libraries=["torch", "transformers"])
    pred = ModelPredictor("smollm2-135m", bf16=True)
    figures = {
        "model": "smollm2-135m", "threads": torch.get_num_threads(), "default_margin": BF16_MARGIN,
        "cpu_bf16_instructions": bf16_supported(),
        "datasets": {"rotten_tomatoes": measure("rotten_tomatoes", _rt(args.n), pred, args.pairs),
                     "sst2_test": measure("sst2_test", _sst2(args.n), pred, args.pairs)},
    }
    m.write(figures)


if __name__ == "__main__":
    main()
