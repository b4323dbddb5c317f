"""`tuneprep eval` with a long-input policy on real SST-2 sentences and the real default model:
what was cut is in metrics.json and in the log; chunked scores are the mean of per-piece scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuneprep.evaluate.runner import EvalConfig, EvalError, ModelPredictor, evaluate
from tuneprep.models.prompt import ClassifyTemplate

pytestmark = pytest.mark.slow

MAX = 8  # SST-2 sentences run 2 to 50+ tokens: a budget of 8 cuts most, not all


@pytest.fixture(scope="module")
def sst2_file(sst2_jsonl):
    return sst2_jsonl(12)


def _tokens(pred, text):
    return len(pred.tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("truncate", ["end", "start"])
def test_truncation_is_reported_in_metrics_and_log(sst2_file, tmp_path, truncate):
    pred = ModelPredictor("smollm2-135m", batch_size=8, max_tokens=MAX, truncate=truncate)
    texts = [json.loads(x)["text"] for x in sst2_file.read_text().splitlines()]
    n_tok = [_tokens(pred, t) for t in texts]
    logs: list[str] = []
    cfg = EvalConfig(model="smollm2-135m", data=str(sst2_file), out=str(tmp_path), max_tokens=MAX,
                     truncate=truncate, report=False)
    evaluate(cfg, predictor=pred, progress=False, log=logs.append)
    li = json.loads((tmp_path / "metrics.json").read_text())["long_inputs"]
    long = [k for k in n_tok if k > MAX]
    assert 0 < len(long) < len(texts)
    assert li["truncated"] == len(long) and li["tokens_cut"] == sum(k - MAX for k in long)
    assert li["truncate"] == truncate and li["max_tokens"] == MAX and li["records"] == len(texts)
    kept = "first" if truncate == "end" else "last"
    assert any(f"{len(long)} of {len(texts)} records cut to their {kept} {MAX} tokens" in m for m in logs)


def test_chunked_scores_are_the_mean_of_piece_log_probs(sst2_file, tmp_path):
    from tuneprep.models.longinput import apply_policy
    from tuneprep.models.scoring import score_texts

    pred = ModelPredictor("smollm2-135m", batch_size=8, max_tokens=MAX, chunk=True)
    texts = [json.loads(x)["text"] for x in sst2_file.read_text().splitlines()]
    cfg = EvalConfig(model="smollm2-135m", data=str(sst2_file), out=str(tmp_path), max_tokens=MAX, chunk=True,
                     report=False)
    res = evaluate(cfg, predictor=pred, progress=False, log=lambda _m: None)
    li = res.metrics["long_inputs"]
    assert li["truncated"] == 0 and li["chunked"] > 0 and li["chunks"] > li["chunked"]
    # one chunked record, scored piece by piece without the policy: the mean of the pieces' log-probs
    t = ClassifyTemplate(labels=["negative", "positive"])
    i = max(range(len(texts)), key=lambda k: _tokens(pred, texts[k]))
    pieces, _, _ = apply_policy(pred.tokenizer, [texts[i]], MAX, chunk=True)
    per_piece = score_texts(pred.model, pred.tokenizer, t, pieces).logprobs
    lp = per_piece.mean(axis=0)
    want = np.exp(lp - lp.max()) / np.exp(lp - lp.max()).sum()
    got = next(p for p in res.predictions if p["id"] == f"sst2-{i}")["probs"]
    assert np.allclose([got["negative"], got["positive"]], want, atol=2e-3)


def test_chunk_without_max_tokens_and_policy_with_generate_are_refused(sst2_file, tmp_path):
    with pytest.raises(EvalError, match="--chunk needs --max-tokens"):
        evaluate(EvalConfig(model="smollm2-135m", data=str(sst2_file), out=str(tmp_path), chunk=True),
                 predictor=_NoModel(), progress=False, log=lambda _m: None)
    with pytest.raises(EvalError, match="apply to --method loglik"):
        evaluate(EvalConfig(model="smollm2-135m", data=str(sst2_file), out=str(tmp_path), max_tokens=5,
                            method="generate"), predictor=_NoModel(), progress=False, log=lambda _m: None)


class _NoModel:
    template = None
    run_dir = None

    def score(self, template, texts):  # pragma: no cover - refused before scoring
        raise AssertionError("not reached")

    def generate(self, messages_list, max_new_tokens):  # pragma: no cover
        raise AssertionError("not reached")
