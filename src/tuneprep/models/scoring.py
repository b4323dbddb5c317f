"""Label scoring and greedy generation with a causal LM (or an encoder classification run).

Inputs are processed in length-sorted batches padded to a multiple of ``PAD_MULTIPLE`` tokens:
little compute is spent on padding and the set of tensor shapes stays small, which keeps the
CPU allocator from fragmenting (see tuneprep.models.runtime). Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.models.chat import answer_ids, fit_text, prompt_ids
from tuneprep.models.loglik import PAD_MULTIPLE, backbone_and_head, label_logprobs
from tuneprep.models.longinput import LongInputStats, Side, apply_policy
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import LoadedModel, load_model
from tuneprep.models.runtime import release_memory

_backbone_and_head = backbone_and_head  # train/loop.py reads the backbone/head split from here


def _is_seq_classifier(model: Any) -> bool:
    return type(model).__name__.endswith("ForSequenceClassification")


def _model_device(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover
        import torch

        return torch.device("cpu")


def _encoder_scores(model: Any, tokenizer: Any, template: ClassifyTemplate, texts: Sequence[str],
                    batch_size: int, max_length: int | None) -> np.ndarray:
    import torch

    label2id = {str(k): int(v) for k, v in model.config.label2id.items()}
    missing = [lab for lab in template.labels if lab not in label2id]
    if missing:
        raise ValueError(f"the classifier has no output for labels {missing} (it knows {sorted(label2id)})")
    cols = [label2id[lab] for lab in template.labels]
    dev = _model_device(model)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), len(template.labels)), dtype=np.float64)
    with torch.inference_mode():
        for b in range(0, len(texts), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length or 256, pad_to_multiple_of=PAD_MULTIPLE,
                            return_tensors="pt").to(dev)
            logits = model(**enc).logits.float()[:, cols]
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    return out


@dataclass
class LabelScores:
    """Label scores of a set of texts: probabilities, raw log-likelihoods and what was cut or split."""

    probs: np.ndarray  # [n, labels], rows sum to 1
    logprobs: np.ndarray  # [n, labels]: summed verbalizer log-probability (mean over chunks); NaN for encoders
    long_inputs: LongInputStats


def score_labels(model: Any, tokenizer: Any, template: ClassifyTemplate, texts: Sequence[str],
                 batch_size: int = 16, max_length: int | None = None) -> np.ndarray:
    """Label probabilities for each text: a float64 array ``[len(texts), len(template.labels)]``.

    Column ``j`` is ``template.labels[j]``; each row sums to 1. See :func:`score_texts`.
    """
    return score_texts(model, tokenizer, template, texts, batch_size=batch_size, max_length=max_length).probs


def score_texts(model: Any, tokenizer: Any, template: ClassifyTemplate, texts: Sequence[str],
                batch_size: int = 16, max_length: int | None = None, max_tokens: int | None = None,
                truncate: Side = "end", chunk: bool = False,
                on_batch: Callable[[int], None] | None = None) -> LabelScores:
    """Score every label of ``template`` for each text (input order).

    For a causal LM, each text is rendered with the template's messages and the tokenizer's
    chat template (exactly as in training) and a label's score is the log-likelihood of its
    verbalizer as the assistant's answer (``tuneprep.models.loglik``: shared prompt prefix
    computed once, each record and all its labels in one forward pass, multi-token labels
    included); probabilities are the softmax over labels. ``max_length`` (a run's) shortens
    long texts inside the template as training did (keeps the start). ``max_tokens``,
    ``truncate``, ``chunk``: the long-input policy of ``tuneprep.models.longinput``; chunked
    texts get the mean over chunks of each label's log-probability. For an encoder
    classification model (``*ForSequenceClassification``), the classifier head's softmax.
    ``on_batch(n)`` reports progress in texts.
    """
    import torch

    pieces, owner, stats = apply_policy(tokenizer, list(texts), max_tokens, truncate, chunk)
    k = len(template.labels)
    if not texts:
        return LabelScores(np.zeros((0, k)), np.zeros((0, k)), stats)
    if _is_seq_classifier(model):
        probs = _encoder_scores(model, tokenizer, template, pieces, batch_size, max_length)
        probs = _mean_by_owner(probs, owner, len(texts))
        if on_batch is not None:
            on_batch(len(texts))
        return LabelScores(probs / probs.sum(axis=1, keepdims=True), np.full_like(probs, np.nan), stats)

    verbs = [answer_ids(tokenizer, template, lab) for lab in template.labels]
    reserve = max(len(v) for v in verbs) + 1
    prompts = []
    for t in pieces:
        fitted, cut = fit_text(tokenizer, template, t, max_length, reserve=reserve)
        stats.fit_to_run_max_length += int(cut)
        prompts.append(prompt_ids(tokenizer, template.messages(fitted)))
    # progress counts texts; with chunks, pieces scored are scaled to texts
    note = _texts_progress(on_batch, len(pieces), len(texts))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            lp = label_logprobs(model, prompts, verbs, batch_size=batch_size, on_batch=note)
    finally:
        if was_training:
            model.train()
        release_memory()
    lp = _mean_by_owner(lp, owner, len(texts))
    scores = lp - lp.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    return LabelScores(probs / probs.sum(axis=1, keepdims=True), lp, stats)


def _mean_by_owner(values: np.ndarray, owner: list[int], n: int) -> np.ndarray:
    if len(owner) == n:
        return values
    out = np.zeros((n, values.shape[1]), dtype=np.float64)
    np.add.at(out, np.asarray(owner), values)
    return out / np.bincount(owner, minlength=n)[:, None]


def _texts_progress(on_batch: Callable[[int], None] | None, n_pieces: int,
                    n_texts: int) -> Callable[[int], None] | None:
    """Turn "n pieces scored" into "m texts scored" (pieces scaled by texts / pieces)."""
    if on_batch is None or n_pieces == n_texts:
        return on_batch
    state = {"pieces": 0, "texts": 0}

    def note(n: int) -> None:
        state["pieces"] += n
        now = n_texts * state["pieces"] // n_pieces
        if now > state["texts"]:
            on_batch(now - state["texts"])
            state["texts"] = now

    return note


def generate(model: Any, tokenizer: Any, messages_list: Sequence[list[dict[str, str]]],
             max_new_tokens: int = 64, batch_size: int = 8,
             on_batch: Callable[[int], None] | None = None) -> list[str]:
    """Greedy completions, one string per conversation in ``messages_list`` (input order).

    Each conversation is rendered with the tokenizer's chat template plus the assistant
    generation prompt; batches are left-padded; the returned text is the new tokens only,
    decoded without special tokens and stripped of surrounding whitespace. ``on_batch(n)``
    is called after each batch (progress).
    """
    import torch


    prompts = [prompt_ids(tokenizer, list(m)) for m in messages_list]
    if not prompts:
        return []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    dev = _model_device(model)
    order = np.argsort([len(p) for p in prompts], kind="stable")
    out: list[str] = [""] * len(prompts)
    model.eval()
    try:
        with torch.inference_mode():
            for b in range(0, len(prompts), batch_size):
                idx = order[b : b + batch_size]
                seqs = [prompts[i] for i in idx]
                width = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(seqs), width), dtype=torch.long)
                for r, s in enumerate(seqs):
                    ids[r, width - len(s):] = torch.tensor(s)
                    mask[r, width - len(s):] = 1
                gen = model.generate(input_ids=ids.to(dev), attention_mask=mask.to(dev), do_sample=False,
                                     max_new_tokens=max_new_tokens, pad_token_id=pad_id,
                                     eos_token_id=tokenizer.eos_token_id)
                for r, i in enumerate(idx):
                    out[i] = tokenizer.decode(gen[r, width:], skip_special_tokens=True).strip()
                if on_batch is not None:
                    on_batch(len(idx))
    finally:
        release_memory()
    return out


def predict_labels(run_or_model: Any, texts: Sequence[str], batch_size: int = 16,
                   on_batch: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Predicted label per text: a list of ``{"label": str, "probs": {label: float}}`` in input order.

    ``run_or_model``: a LoadedModel (``tuneprep.models.registry.load_model``), a run directory
    path, or a registry name / model path of a causal LM (scored zero-shot with the default
    template over ``tuneprep.datasets.SENTIMENT_LABELS``, the label set of the bundled demo data).
    ``on_batch(n)``: progress, in texts.
    """
    run = run_or_model if isinstance(run_or_model, LoadedModel) else load_model(str(run_or_model))
    if not run.is_run:
        template = ClassifyTemplate(labels=list(SENTIMENT_LABELS))
        probs = score_texts(run.model, run.tokenizer, template, texts, batch_size=batch_size,
                            on_batch=on_batch).probs
        return _to_predictions(template.labels, probs)
    if run.template is None:
        raise ValueError(f"{run.path}: an SFT run has no label set; use generate() instead")
    probs = score_texts(run.model, run.tokenizer, run.template, texts, batch_size=batch_size,
                        max_length=run.config.get("max_length"), on_batch=on_batch).probs
    return _to_predictions(run.template.labels, probs)


def _to_predictions(labels: list[str], probs: np.ndarray) -> list[dict[str, Any]]:
    return [{"label": labels[int(np.argmax(p))], "probs": {lab: float(x) for lab, x in zip(labels, p)}}
            for p in probs]
