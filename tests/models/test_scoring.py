"""score_labels / generate on the real default model and real RT snippets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.models.prompt import ClassifyTemplate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts(rt_path):
    out = []
    with open(rt_path) as fh:
        for line in fh:
            r = json.loads(line)
            if r["text"].strip() and r["label"] != "neutral":
                out.append(r["text"])
            if len(out) == 6:
                break
    return out


def test_single_token_scores_equal_a_plain_full_forward(lm, texts):
    import torch

    from tuneprep.models.chat import answer_ids, prompt_ids
    from tuneprep.models.scoring import score_labels

    model, tok = lm
    t = ClassifyTemplate(labels=SENTIMENT_LABELS)
    probs = score_labels(model, tok, t, texts, batch_size=4)
    assert probs.shape == (len(texts), 3)
    assert np.allclose(probs.sum(axis=1), 1.0)
    verb = [answer_ids(tok, t, lab)[0] for lab in t.labels]
    for i in (0, len(texts) - 1):  # unbatched reference, no padding
        ids = torch.tensor([prompt_ids(tok, t.messages(texts[i]))])
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), -1)[verb]
        ref = torch.softmax(logp, -1).numpy()
        assert np.allclose(probs[i], ref, atol=2e-3), (probs[i], ref)


def test_multi_token_verbalizers_are_scored_and_normalised(lm, texts):
    from tuneprep.models.scoring import score_labels

    model, tok = lm
    t = ClassifyTemplate(labels=["good", "bad"], verbalizers={"good": "a good review", "bad": "a bad review"})
    probs = score_labels(model, tok, t, texts[:3], batch_size=4)
    assert probs.shape == (3, 2) and np.allclose(probs.sum(axis=1), 1.0)


def test_generate_is_greedy_batched_and_in_input_order(lm, texts):
    from tuneprep.models.scoring import generate

    model, tok = lm
    msgs = [[{"role": "user", "content": "Say the word 'yes'."}],
            [{"role": "user", "content": f"Summarise in three words: {texts[0]}"}]]
    a = generate(model, tok, msgs, max_new_tokens=6, batch_size=2)
    b = generate(model, tok, msgs[::-1], max_new_tokens=6, batch_size=1)
    assert len(a) == 2 and all(isinstance(x, str) and x for x in a)
    assert a == b[::-1]
