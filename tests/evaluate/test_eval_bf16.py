"""`--bf16`: a bf16 copy scores every record, fp32 re-scores the close calls, predictions stay fp32's
(real SST-2 sentences, real default model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuneprep.evaluate.runner import EvalConfig, ModelPredictor, evaluate
from tuneprep.models.precision import close_calls
from tuneprep.models.prompt import ClassifyTemplate

pytestmark = pytest.mark.slow


def test_close_calls_picks_rows_whose_two_best_labels_are_near():
    p = np.array([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.45, 0.4, 0.15], [1.0, 0.0, 0.0]])
    # log(0.45/0.4) = 0.118 nats: close at margin 0.2, not at 0.1
    assert close_calls(p, 0.2).tolist() == [0, 2]
    assert close_calls(p, 0.1).tolist() == [0]
    assert close_calls(np.ones((3, 1)), 0.1).tolist() == [0, 1, 2]  # one label: nothing to compare
    assert close_calls(np.zeros((0, 2)), 0.1).size == 0


@pytest.fixture(scope="module")
def sst2_40(sst2_jsonl):
    return sst2_jsonl(40)


def test_bf16_keeps_fp32_predictions_and_rescores_only_close_calls(sst2_40, tmp_path):
    import torch

    texts = [json.loads(x)["text"] for x in sst2_40.read_text().splitlines()]
    t = ClassifyTemplate(labels=["negative", "positive"])
    pred = ModelPredictor("smollm2-135m", bf16=True)
    low = pred.model_bf16
    assert next(low.model.parameters()).dtype == torch.bfloat16
    assert low.get_output_embeddings().weight.dtype == torch.float32  # the head stays fp32
    assert next(pred.model.parameters()).dtype == torch.float32  # the fp32 model is untouched

    fp32 = pred._score(pred.model, t, texts, None).probs
    bf16 = pred._score(low, t, texts, None).probs
    assert not np.allclose(fp32, bf16, atol=1e-4)  # really a different computation
    checked = pred.score(t, texts)
    close = set(close_calls(bf16, pred.bf16_margin).tolist())
    assert 0 < len(close) < len(texts)
    assert pred.precision is not None and pred.precision.rescored_fp32 == len(close)
    for i in range(len(texts)):  # close calls carry fp32's scores, the others bf16's
        assert np.allclose(checked[i], fp32[i] if i in close else bf16[i], atol=1e-6)
    assert (checked.argmax(1) == fp32.argmax(1)).all()

    # Through the runner: the same predictions as fp32, and metrics.json says what was re-scored.
    res = {}
    for bf in (False, True):
        cfg = EvalConfig(model="smollm2-135m", data=str(sst2_40), out=str(tmp_path / f"bf{bf}"), bf16=bf,
                         report=False)
        res[bf] = evaluate(cfg, progress=False, log=lambda _m: None)
    assert [p["prediction"] for p in res[True].predictions] == [p["prediction"] for p in res[False].predictions]
    m = json.loads((tmp_path / "bfTrue" / "metrics.json").read_text())
    assert m["precision"]["records"] == 40 and 0 < m["precision"]["rescored_fp32"] < 40
    assert "precision" not in json.loads((tmp_path / "bfFalse" / "metrics.json").read_text())
    assert res[True].info["bf16"] is True


def test_bf16_refuses_int8():
    from tuneprep.evaluate.predictor import EvalError

    with pytest.raises(EvalError, match="--bf16"):
        ModelPredictor("smollm2-135m", bf16=True, quantize="int8")
