"""The one-pass label scorer (shared-prefix KV cache, all labels in one row) against the plain way:
one full forward pass per (record, label), no batching, no cache, on real SST-2 sentences."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tuneprep.models.prompt import ClassifyTemplate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sst2(shared_data):
    with open(shared_data / "sst2" / "test.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    # every 40th sentence: 22 real sentences of varied length (3 to 50+ words)
    return [r["sentence"].strip() for r in rows[::40]]


def plain_logprobs(model, tok, template, texts):
    """Reference: for each text and label, a full forward of prompt + verbalizer, summed log-probs."""
    import torch

    from tuneprep.models.chat import answer_ids, prompt_ids

    verbs = [answer_ids(tok, template, lab) for lab in template.labels]
    out = np.zeros((len(texts), len(verbs)))
    with torch.inference_mode():
        for i, t in enumerate(texts):
            p = prompt_ids(tok, template.messages(t))
            for j, v in enumerate(verbs):
                ids = torch.tensor([p + v])
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
                out[i, j] = sum(float(logp[len(p) - 1 + t, tok_id]) for t, tok_id in enumerate(v))
    return out


def one_pass(model, tok, template, texts, **kw):
    import torch

    from tuneprep.models.chat import answer_ids, prompt_ids
    from tuneprep.models.loglik import label_logprobs

    verbs = [answer_ids(tok, template, lab) for lab in template.labels]
    prompts = [prompt_ids(tok, template.messages(t)) for t in texts]
    with torch.inference_mode():
        return label_logprobs(model, prompts, verbs, **kw), prompts


def test_single_token_labels_match_full_forward_per_record_and_label(lm, sst2):
    from tuneprep.models.loglik import shared_prefix_len

    model, tok = lm
    t = ClassifyTemplate(labels=["negative", "positive"])
    got, prompts = one_pass(model, tok, t, sst2, batch_size=8)
    assert shared_prefix_len(prompts) >= 20  # the system prompt + instruction really are shared
    ref = plain_logprobs(model, tok, t, sst2)
    assert np.abs(got - ref).max() < 2e-3, np.abs(got - ref).max()
    assert (got.argmax(1) == ref.argmax(1)).all()


def test_multi_token_labels_of_different_lengths_match_full_forward(lm, sst2):
    model, tok = lm
    # 3 labels, verbalizers of 3, 4 and 1+ tokens sharing their first tokens: the tree mask must
    # keep each label's tokens from seeing the others'
    t = ClassifyTemplate(labels=["good", "bad", "mixed"],
                         verbalizers={"good": "a good review", "bad": "a really bad review", "mixed": "mixed"})
    texts = sst2[:10]
    got, _ = one_pass(model, tok, t, texts, batch_size=4)
    ref = plain_logprobs(model, tok, t, texts)
    assert np.abs(got - ref).max() < 2e-3, np.abs(got - ref).max()


def test_without_prefix_reuse_and_with_tiny_token_budget_scores_are_the_same(lm, sst2):
    model, tok = lm
    t = ClassifyTemplate(labels=["negative", "positive"])
    a, _ = one_pass(model, tok, t, sst2, batch_size=16)
    b, _ = one_pass(model, tok, t, sst2, batch_size=16, reuse_prefix=False, max_batch_tokens=64)
    assert np.abs(a - b).max() < 2e-3


def test_score_texts_probabilities_follow_the_log_likelihoods(lm, sst2):
    from tuneprep.models.scoring import score_texts

    model, tok = lm
    t = ClassifyTemplate(labels=["negative", "positive"])
    seen = []
    res = score_texts(model, tok, t, sst2[:6], batch_size=4, on_batch=seen.append)
    assert sum(seen) == 6
    assert np.allclose(res.probs.sum(1), 1.0)
    ref = plain_logprobs(model, tok, t, sst2[:6])
    assert (res.probs.argmax(1) == ref.argmax(1)).all()
    assert res.long_inputs.truncated == 0 and res.long_inputs.records == 6
