"""Label scoring and greedy generation with a causal LM (or an encoder classification run).

Inputs are processed in length-sorted batches padded to a multiple of ``PAD_MULTIPLE`` tokens:
little compute is spent on padding and the set of tensor shapes stays small, which keeps the
CPU allocator from fragmenting (see tuneprep.models.runtime). Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tuneprep.datasets import SENTIMENT_LABELS
from tuneprep.models.chat import answer_ids, fit_text, prompt_ids
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.models.registry import LoadedModel, load_model
from tuneprep.models.runtime import release_memory

PAD_MULTIPLE = 16


def _round_up(n: int, m: int = PAD_MULTIPLE) -> int:
    return -(-n // m) * m


def _is_seq_classifier(model: Any) -> bool:
    return type(model).__name__.endswith("ForSequenceClassification")


def _backbone_and_head(model: Any) -> tuple[Any, Any] | None:
    """(decoder stack returning hidden states, output projection) when the model exposes them."""
    if hasattr(model, "get_base_model"):  # a PeftModel: LoRA layers live inside the base model
        model = model.get_base_model()
    prefix = getattr(model, "base_model_prefix", None)
    backbone = getattr(model, prefix, None) if prefix else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if backbone is None or head is None or backbone is model:
        return None
    return backbone, head


def last_token_logits(model: Any, input_ids: Any, attention_mask: Any, last: Any) -> Any:
    """Logits at position ``last[i]`` of each row (right-padded batch): ``[batch, vocab]``.

    The vocabulary projection is applied to those positions only, not to the whole sequence
    (for a 49k vocabulary that is most of the memory of a scoring pass).
    """
    import torch

    parts = _backbone_and_head(model)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    if parts is None:
        out = model(input_ids=input_ids, attention_mask=attention_mask)
        return out.logits[rows, last]
    backbone, head = parts
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return head(hidden[rows, last])


def _right_pad(seqs: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    import torch

    width = _round_up(max(len(s) for s in seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


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


def score_labels(model: Any, tokenizer: Any, template: ClassifyTemplate, texts: Sequence[str],
                 batch_size: int = 16, max_length: int | None = None) -> np.ndarray:
    """Label probabilities for each text: a float64 array ``[len(texts), len(template.labels)]``.

    Column ``j`` is ``template.labels[j]``; each row sums to 1. For a causal LM, each text is
    rendered with the template's messages and the tokenizer's chat template (exactly as in
    training) and a label's score is the log-likelihood of its verbalizer as the assistant's
    answer; the softmax over labels of those scores is returned. When every verbalizer is a
    single token, all labels are read from one forward pass of the prompt; otherwise prompt +
    verbalizer sequences are batched. ``max_length`` (e.g. the run's) shortens long texts
    inside the template as training did. For an encoder classification model
    (``*ForSequenceClassification``), the classifier head's softmax, same shape.
    """
    import torch


    texts = list(texts)
    if not texts:
        return np.zeros((0, len(template.labels)))
    if _is_seq_classifier(model):
        return _encoder_scores(model, tokenizer, template, texts, batch_size, max_length)

    verbs = [answer_ids(tokenizer, template, lab) for lab in template.labels]
    reserve = max(len(v) for v in verbs) + 1
    prompts = [prompt_ids(tokenizer, template.messages(fit_text(tokenizer, template, t, max_length,
                                                                  reserve=reserve)[0]))
               for t in texts]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    dev = _model_device(model)
    order = np.argsort([len(p) for p in prompts], kind="stable")
    scores = np.zeros((len(texts), len(template.labels)), dtype=np.float64)
    single = all(len(v) == 1 for v in verbs) and len({v[0] for v in verbs}) == len(verbs)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if single:
                first = torch.tensor([v[0] for v in verbs], device=dev)
                for b in range(0, len(texts), batch_size):
                    idx = order[b : b + batch_size]
                    seqs = [prompts[i] for i in idx]
                    ids, mask = _right_pad(seqs, pad_id, dev)
                    last = torch.tensor([len(s) - 1 for s in seqs], device=dev)
                    logp = torch.log_softmax(last_token_logits(model, ids, mask, last).float(), dim=-1)
                    scores[idx] = logp[:, first].cpu().double().numpy()
            else:
                # one sequence per (text, label); the loss of the verbalizer tokens
                per = max(1, batch_size // len(verbs))
                for b in range(0, len(texts), per):
                    idx = order[b : b + per]
                    seqs, spans = [], []
                    for i in idx:
                        for v in verbs:
                            spans.append((len(prompts[i]), len(prompts[i]) + len(v)))
                            seqs.append(prompts[i] + v)
                    ids, mask = _right_pad(seqs, pad_id, dev)
                    logits = model(input_ids=ids, attention_mask=mask).logits.float()
                    logp = torch.log_softmax(logits[:, :-1], dim=-1)
                    tgt = ids[:, 1:]
                    tok_lp = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
                    row = []
                    for r, (s, e) in enumerate(spans):
                        row.append(float(tok_lp[r, s - 1 : e - 1].sum()))
                    scores[idx] = np.array(row).reshape(len(idx), len(verbs))
                    del logits, logp
    finally:
        if was_training:
            model.train()
        release_memory()
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    return probs / probs.sum(axis=1, keepdims=True)


def generate(model: Any, tokenizer: Any, messages_list: Sequence[list[dict[str, str]]],
             max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
    """Greedy completions, one string per conversation in ``messages_list`` (input order).

    Each conversation is rendered with the tokenizer's chat template plus the assistant
    generation prompt; batches are left-padded; the returned text is the new tokens only,
    decoded without special tokens and stripped of surrounding whitespace.
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
    finally:
        release_memory()
    return out


def predict_labels(run_or_model: Any, texts: Sequence[str], batch_size: int = 16) -> list[dict[str, Any]]:
    """Predicted label per text: a list of ``{"label": str, "probs": {label: float}}`` in input order.

    ``run_or_model``: a LoadedModel (``tuneprep.models.registry.load_model``), a run directory
    path, or a registry name / model path of a causal LM (scored zero-shot with the default
    template over ``tuneprep.datasets.SENTIMENT_LABELS``, the label set of the bundled demo data).
    """
    run = run_or_model if isinstance(run_or_model, LoadedModel) else load_model(str(run_or_model))
    if not run.is_run:
        template = ClassifyTemplate(labels=list(SENTIMENT_LABELS))
        probs = score_labels(run.model, run.tokenizer, template, texts, batch_size=batch_size)
        return _to_predictions(template.labels, probs)
    if run.template is None:
        raise ValueError(f"{run.path}: an SFT run has no label set; use generate() instead")
    probs = score_labels(run.model, run.tokenizer, run.template, texts, batch_size=batch_size,
                         max_length=run.config.get("max_length"))
    return _to_predictions(run.template.labels, probs)


def _to_predictions(labels: list[str], probs: np.ndarray) -> list[dict[str, Any]]:
    return [{"label": labels[int(np.argmax(p))], "probs": {lab: float(x) for lab, x in zip(labels, p)}}
            for p in probs]
