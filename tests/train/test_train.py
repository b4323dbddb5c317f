"""Few-step training runs on real Rotten Tomatoes snippets: save, reload, predict, resume, encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.train.config import TrainConfig

pytestmark = pytest.mark.slow


def _cfg(data, out, **kw):
    base = dict(data=str(data), out=str(out), max_steps=3, batch_size=4, max_length=80, save_steps=1, seed=1)
    return TrainConfig(**{**base, **kw})


def _log(run):
    return [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]


class _Kill:
    """A TrainerCallback that simulates a crash after a given step."""

    def __init__(self, step):
        from transformers import TrainerCallback

        class K(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == step:
                    raise KeyboardInterrupt("simulated kill")

        self.cb = K()


@pytest.fixture(scope="module")
def lora_run(rt_small, tmp_path_factory):
    from tuneprep.train.trainer import train

    out = tmp_path_factory.mktemp("runs") / "lora"
    res = train(_cfg(rt_small, out), quiet=True)
    return res


def test_lora_run_layout_and_log(lora_run, rt_small):
    run = lora_run.run_dir
    for f in ("config.json", "template.json", "train_log.jsonl", "preflight.json", "metrics.json",
              "model/adapter_config.json", "model/adapter_model.safetensors", "model/tokenizer.json"):
        assert (run / f).exists(), f
    assert not (run / "checkpoints").exists()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["status"] == "complete" and cfg["method"] == "lora" and cfg["labels"] == sorted(SENTIMENT_LABELS)
    assert cfg["data"]["manifest_sha256"] and all(len(h) == 64 for h in cfg["data"]["train"].values())
    assert json.loads((run / "template.json").read_text())["labels"] == sorted(SENTIMENT_LABELS)
    steps = [r for r in _log(run) if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(r["tokens_per_s"] > 0 and r["trained_tokens"] == 8 for r in steps)  # 4 records x 2 tokens
    m = lora_run.metrics
    assert m["steps"] == 3 and m["eval_loss"] is not None and m["peak_rss_mb"] > 0
    pre = json.loads((run / "preflight.json").read_text())
    assert pre["kept"] == 24 and pre["val_records"] == 6 and "[[" in pre["example"]["rendered"]


def test_lora_run_reloads_and_predicts(lora_run, rt_small):
    from tuneprep.models.registry import load_run
    from tuneprep.models.scoring import predict_labels, score_labels

    run = load_run(lora_run.run_dir)
    assert run.kind == "lora" and run.task == "classify" and run.labels == sorted(SENTIMENT_LABELS)
    texts = [json.loads(x)["text"] for x in (rt_small / "val" / "part-0.jsonl").read_text().splitlines()]
    preds = predict_labels(run, texts)
    assert [set(p["probs"]) for p in preds] == [set(SENTIMENT_LABELS)] * len(texts)
    probs = score_labels(run.model, run.tokenizer, run.template, texts)
    assert [run.labels[i] for i in probs.argmax(1)] == [p["label"] for p in preds]
    # the adapter changed the model: trained predictions differ from the base model's
    from tuneprep.models.registry import load_causal_lm

    base, tok = load_causal_lm("smollm2-135m")
    assert not np.allclose(score_labels(base, tok, run.template, texts), probs, atol=1e-3)


def test_predict_cli(lora_run):
    r = run_cli("predict", str(lora_run.run_dir), "--text", "A wonderful, moving film.", "--text", "Dull.")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["text"] for x in rows] == ["A wonderful, moving film.", "Dull."]
    assert all(x["label"] in SENTIMENT_LABELS for x in rows)


def test_resume_after_a_kill_matches_an_uninterrupted_run(lora_run, rt_small, tmp_path):
    from tuneprep.train.trainer import RunDirError, train

    out = tmp_path / "resumed"
    cfg = _cfg(rt_small, out)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, quiet=True, callbacks=[_Kill(2).cb])
    assert (out / "checkpoints" / "checkpoint-1").is_dir() and not (out / "model").exists()
    with pytest.raises(RunDirError, match="--resume"):
        train(cfg, quiet=True)
    res = train(cfg, quiet=True, resume=True)
    got = [r for r in _log(out) if "loss" in r]
    ref = [r for r in _log(lora_run.run_dir) if "loss" in r]
    assert [r["step"] for r in got] == [1, 2, 3]
    assert np.allclose([r["loss"] for r in got], [r["loss"] for r in ref], atol=1e-4)
    assert res.metrics["steps"] == 3


def test_encoder_fast_path_trains_and_predicts(rt_small, tmp_path):
    from tuneprep.models.registry import load_run
    from tuneprep.models.scoring import predict_labels
    from tuneprep.train.trainer import train

    res = train(_cfg(rt_small, tmp_path / "enc", model="minilm-l6", batch_size=8, max_steps=2), quiet=True)
    cfg = json.loads((res.run_dir / "config.json").read_text())
    assert cfg["kind"] == "encoder" and cfg["labels"] == sorted(SENTIMENT_LABELS)
    run = load_run(res.run_dir)
    assert run.kind == "encoder" and run.model.config.id2label[0] == "negative"
    preds = predict_labels(run, ["An utterly charming film.", "A waste of two hours."])
    assert len(preds) == 2 and all(abs(sum(p["probs"].values()) - 1) < 1e-6 for p in preds)


def test_check_cli_and_bad_data_cli(rt_small, tmp_path):
    r = run_cli("train", "--data", str(rt_small), "--out", str(tmp_path / "x"), "--check")
    assert r.returncode == 0, r.stderr
    assert "records read 24" in r.stdout and "preflight" in r.stdout
    assert "<|im_start|>assistant\n[[" in r.stdout and "<|im_end|>]]" in r.stdout
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "r1", "text": "fine", "label": "positive"}) + "\n"
                   + json.dumps({"id": "r2", "text": "meh", "label": "so-so"}) + "\n")
    r = run_cli("train", "--data", str(bad), "--out", str(tmp_path / "y"), "--labels", "positive,negative")
    assert r.returncode == 2
    assert f"{bad}:2 id=r2: unknown label 'so-so'" in r.stderr
