"""Would a model-serving library or int8 weights score labels faster than tuneprep's path? Measured.

Issue 18 asks to try the serving libraries the registries offer that run offline on CPU, and to
adopt one only if it measurably wins. PyPI holds CTranslate2 4.8.5 (manylinux wheel), ONNX Runtime,
OpenVINO and llama-cpp-python (an sdist that compiles llama.cpp). CTranslate2 is the one that
scores given token sequences (``Generator.score_batch``: the log-probability of every token), which
is what label scoring needs, so it is the one measured here; its int8 mode is its speed claim.

Same work on both sides: the shared SST-2 records (the loader of eval_vs_lmeval.py), tuneprep's
``ClassifyTemplate`` prompts rendered by the tokenizer's chat template, the labels' answer tokens,
the same model (smollm2-135m as the registry's HF directory, converted once with CTranslate2's own
``TransformersConverter``), the same thread count, scoring only (model load timed apart).

* tuneprep: ``models.loglik.label_logprobs`` — the shared prompt prefix once, each record and all
  its labels in one forward pass (what ``tuneprep eval`` runs).
* CTranslate2: one ``score_batch`` sequence per (record, label) = prompt + answer tokens; a label's
  score is the sum of its answer tokens' log-probabilities. CTranslate2 has no prefix reuse or
  label tree for scoring, so it does ``len(labels)`` times the sequence work; its kernels are its
  answer to that. ``--compute-types`` float32 (the same arithmetic) and int8 (weights quantised).

CTranslate2 lives in its own virtualenv (it is not a tuneprep dependency)::

    python3 -m venv /work/ct2-venv
    /work/ct2-venv/bin/pip install torch==2.13.0 transformers==5.24.0 ctranslate2==4.8.5
    .venv/bin/python benchmarks/eval_backends.py --n 300 --threads 1 --rounds 2   # or $CT2_PYTHON

* tuneprep-int8: the same path on the model ``tuneprep eval --quantize int8`` uses (PyTorch dynamic
  int8 quantisation of every Linear layer, ``models/quantize.py``): its speed and how many
  predictions it changes (``--no-int8`` leaves it out).

Runs alternate tuneprep and CTranslate2 (A-B-B-A over ``--rounds``); reported: records/s per side
(median), the ratio against tuneprep, prediction agreement with tuneprep (argmax over labels),
and the largest log-probability difference. Result file: ``benchmarks/results/eval_backends.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
from eval_vs_lmeval import LABELS, load_records
from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]

# Runs in the CTranslate2 virtualenv: convert once, then score every (record, label) sequence.
CT2_SIDE = textwrap.dedent('''
    import json, sys, time
    import ctranslate2
    from pathlib import Path
    job = json.loads(Path(sys.argv[1]).read_text())
    ct2_dir = Path(job["ct2_dir"])
    if not (ct2_dir / "model.bin").exists():
        ctranslate2.converters.TransformersConverter(job["model_dir"]).convert(str(ct2_dir), force=True)
    t0 = time.perf_counter()
    gen = ctranslate2.Generator(str(ct2_dir), device="cpu", compute_type=job["compute_type"],
                                intra_threads=job["threads"], inter_threads=1)
    load_s = time.perf_counter() - t0
    seqs, spans = [], []
    for prompt in job["prompts"]:
        for verb in job["verbs"]:
            seqs.append(prompt + verb)
            spans.append(len(verb))
    t0 = time.perf_counter()
    results = gen.score_batch(seqs, max_batch_size=job["batch_size"])
    score_s = time.perf_counter() - t0
    # log_probs[i] is the log-probability of token i + 1 given the tokens before it
    lp = [sum(r.log_probs[-n:]) for r, n in zip(results, spans)]
    k = len(job["verbs"])
    out = [lp[i * k:(i + 1) * k] for i in range(len(job["prompts"]))]
    Path(sys.argv[2]).write_text(json.dumps({"load_s": load_s, "score_s": score_s, "logprobs": out,
                                             "version": ctranslate2.__version__}))
''')


def prepare(records: list[dict[str, Any]]) -> tuple[Any, Any, list[list[int]], list[list[int]], str]:
    from tuneprep.models.chat import answer_ids, prompt_ids
    from tuneprep.models.prompt import ClassifyTemplate
    from tuneprep.models.registry import load_model, resolve_model

    m = load_model("smollm2-135m")
    t = ClassifyTemplate(labels=LABELS)
    prompts = [prompt_ids(m.tokenizer, t.messages(r["text"])) for r in records]
    verbs = [answer_ids(m.tokenizer, t, lab) for lab in LABELS]
    return m.model, m.tokenizer, prompts, verbs, resolve_model("smollm2-135m").path


def score_tuneprep(model: Any, prompts: list[list[int]], verbs: list[list[int]], batch_size: int) -> tuple[float, np.ndarray]:
    import torch

    from tuneprep.models.loglik import label_logprobs

    model.eval()
    t0 = time.perf_counter()
    with torch.inference_mode():
        lp = label_logprobs(model, prompts, verbs, batch_size=batch_size)
    return time.perf_counter() - t0, lp


def score_ct2(py: str, job: dict[str, Any], work: Path) -> dict[str, Any]:
    script, job_path, out = work / "ct2_side.py", work / "ct2_job.json", work / "ct2_out.json"
    script.write_text(CT2_SIDE)
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "OMP_NUM_THREADS": str(job["threads"])}
    subprocess.run([py, str(script), str(job_path), str(out)], check=True, env=env)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="A-B-B-A rounds (each round: every side once)")
    ap.add_argument("--compute-types", default="float32,int8")
    ap.add_argument("--ct2-python", default=os.environ.get("CT2_PYTHON", "/work/ct2-venv/bin/python"))
    ap.add_argument("--no-int8", action="store_true", help="leave out tuneprep's --quantize int8 model")
    ap.add_argument("--result", default="eval_backends")
    a = ap.parse_args()

    import torch

    from tuneprep.datasets import cache_dir, shared_data_dir

    torch.set_num_threads(a.threads)
    m = Measurement(a.result, libraries=["torch", "transformers"])
    records = load_records(shared_data_dir(), a.n)
    model, tok, prompts, verbs, model_dir = prepare(records)
    ct2_dir = cache_dir() / "bench" / "ct2-smollm2-135m"
    job = {"model_dir": model_dir, "ct2_dir": str(ct2_dir), "threads": a.threads, "batch_size": a.batch_size,
           "prompts": [tok.convert_ids_to_tokens(p) for p in prompts],
           "verbs": [tok.convert_ids_to_tokens(v) for v in verbs]}
    types = a.compute_types.split(",")
    local = {"tuneprep": model}
    if not a.no_int8:
        import copy

        from tuneprep.models.quantize import quantize_model

        local["tuneprep-int8"] = quantize_model(copy.deepcopy(model), "int8")
    times: dict[str, list[float]] = {**{k: [] for k in local}, **{f"ct2-{c}": [] for c in types}}
    lps: dict[str, np.ndarray] = {}
    version = None
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(a.rounds):
            order = [*local, *types] if rnd % 2 == 0 else [*reversed(types), *reversed(local)]
            for side in order:
                if side in local:
                    s, lp = score_tuneprep(local[side], prompts, verbs, a.batch_size)
                    times[side].append(s)
                    lps[side] = lp
                else:
                    r = score_ct2(a.ct2_python, {**job, "compute_type": side}, Path(tmp))
                    times[f"ct2-{side}"].append(r["score_s"])
                    lps[f"ct2-{side}"] = np.asarray(r["logprobs"])
                    version = r["version"]
                print(f"round {rnd + 1} {side}: {times[side if side in local else f'ct2-{side}'][-1]:.1f} s")
    ref = lps["tuneprep"].argmax(axis=1)
    sides = {}
    for side, ts in times.items():
        med = statistics.median(ts)
        pred = lps[side].argmax(axis=1)
        sides[side] = {"score_s": [round(x, 2) for x in ts], "score_s_median": round(med, 2),
                       "records_per_s": round(len(records) / med, 2),
                       "agreement_with_tuneprep": round(float((pred == ref).mean()), 4),
                       "max_abs_logprob_diff": round(float(np.abs(lps[side] - lps["tuneprep"]).max()), 4),
                       "accuracy": round(float(np.mean([LABELS[p] == r["label"] for p, r in zip(pred, records)])), 4)}
    base = sides["tuneprep"]["score_s_median"]
    for side in sides:
        sides[side]["speed_vs_tuneprep"] = round(base / sides[side]["score_s_median"], 3)
    figures = {"records": len(records), "labels": LABELS, "threads": a.threads, "batch_size": a.batch_size,
               "rounds": a.rounds, "ctranslate2_version": version, "sequences_per_record": {"tuneprep": 1, "ct2": len(LABELS)},
               "sides": sides}
    for side, f in sides.items():
        print(f"{side:14s} {f['records_per_s']:7.2f} records/s  x{f['speed_vs_tuneprep']:.2f} vs tuneprep  "
              f"agreement {f['agreement_with_tuneprep']:.3f}  max |dlogp| {f['max_abs_logprob_diff']}  acc {f['accuracy']}")
    m.write(figures)


if __name__ == "__main__":
    main()
