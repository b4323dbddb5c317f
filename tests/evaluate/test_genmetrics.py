"""Generation metrics (exact match, token F1, ROUGE-L) and `eval --method generate` on chat records,
with real model outputs: AlpacaEval's answers of Alpaca-7B and Pythia-12B against GPT-4 Turbo's."""

from __future__ import annotations

import json

import orjson
import pytest

from tuneprep.evaluate.genmetrics import exact_match, generation_metrics, rouge_l, token_f1


def test_hand_checked_values():
    assert exact_match("The Eiffel Tower.", "eiffel tower") == 1.0
    assert exact_match("Paris", "Paris, France") == 0.0
    # SQuAD token F1: common {paris}, p = 1/1, r = 1/2
    assert token_f1("Paris", "Paris, France") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0
    # LCS("the cat sat on the mat", "the cat is on the mat") = 5 of 6 tokens each
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("a b c", "c b a") == pytest.approx(1 / 3)
    assert rouge_l("", "anything") == 0.0


def test_rouge_l_equals_rouge_score_package_when_installed(shared_data):
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rs.RougeScorer(["rougeL"], use_stemmer=False)
    a = json.loads((shared_data / "alpacaeval/alpaca-7b/model_outputs.json").read_text())[:40]
    g = json.loads((shared_data / "alpacaeval/gpt4_1106_preview/model_outputs.json").read_text())[:40]
    for x, y in zip(a, g):
        assert rouge_l(x["output"], y["output"]) == pytest.approx(scorer.score(y["output"], x["output"])["rougeL"].fmeasure,
                                                                   abs=1e-9)


def _chat_records(shared_data, n):
    ref = json.loads((shared_data / "alpacaeval/gpt4_1106_preview/model_outputs.json").read_text())[:n]
    return [{"id": f"ae-{i}", "messages": [{"role": "user", "content": r["instruction"]},
                                           {"role": "assistant", "content": r["output"]}]} for i, r in enumerate(ref)]


class ReplayPredictor:
    """A model's recorded answers (AlpacaEval outputs), replayed by instruction."""

    template = None
    run_dir = None

    def __init__(self, path):
        self.by_instruction = {r["instruction"]: r["output"] for r in json.loads(path.read_text())}

    def score(self, template, texts):  # pragma: no cover - chat eval never scores labels
        raise AssertionError("not a classifier")

    def generate(self, messages_list, max_new_tokens):
        return [self.by_instruction[m[-1]["content"]] for m in messages_list]


def test_chat_eval_and_generation_compare_on_real_outputs(shared_data, tmp_path):
    from tuneprep.evaluate.compare import compare_runs
    from tuneprep.evaluate.runner import EvalConfig, evaluate

    recs = _chat_records(shared_data, 120)
    (tmp_path / "chat.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    dirs = []
    for name in ("alpaca-7b", "oasst-sft-pythia-12b"):
        cfg = EvalConfig(model=name, data=str(tmp_path / "chat.jsonl"), out=str(tmp_path / name), name=name)
        res = evaluate(cfg, predictor=ReplayPredictor(shared_data / f"alpacaeval/{name}/model_outputs.json"),
                       progress=False, log=lambda _m: None)
        assert res.info["method"] == "generate" and res.info["task"] == "chat"
        m = res.metrics
        preds = [orjson.loads(x) for x in (tmp_path / name / "predictions.jsonl").read_bytes().splitlines()]
        assert m["n"] == 120 and len(preds) == 120
        assert m["rouge_l"] == pytest.approx(sum(p["rouge_l"] for p in preds) / 120, abs=1e-12)
        direct = generation_metrics([p["prediction"] for p in preds], [r["messages"][-1]["content"] for r in recs])
        assert direct["token_f1"] == pytest.approx(m["token_f1"], abs=1e-12)
        # long free-form answers never match GPT-4's verbatim, but overlap partly
        assert m["exact_match"] == 0.0 and 0.05 < m["rouge_l"] < 0.6
        assert m["ci95"]["rouge_l"][0] <= m["rouge_l"] <= m["ci95"]["rouge_l"][1]
        review = [orjson.loads(x) for x in (tmp_path / name / "review.jsonl").read_bytes().splitlines()]
        assert len(review) == 120 and review[0]["meta"]["review"]["rouge_l"] == min(p["rouge_l"] for p in preds)
        dirs.append(tmp_path / name)
    cmp = compare_runs(dirs)
    assert cmp["kind"] == "generation" and cmp["n"] == 120
    d = cmp["differences"][0]
    assert d["rouge_l"]["ci95"][0] <= d["rouge_l"]["diff"] <= d["rouge_l"]["ci95"][1]


def test_bit_parallel_lcs_equals_the_dynamic_programme():
    import random

    from tuneprep.evaluate.genmetrics import _lcs

    def dp(a, b):
        t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a, 1):
            for j, y in enumerate(b, 1):
                t[i][j] = t[i - 1][j - 1] + 1 if x == y else max(t[i - 1][j], t[i][j - 1])
        return t[-1][-1]

    rng = random.Random(0)
    for _ in range(500):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 40))]
        assert _lcs(a, b) == dp(a, b)
