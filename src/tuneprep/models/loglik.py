"""Label log-likelihoods of a causal LM: the shared prompt prefix once, each record + all labels in one pass.

For every record the prompt is ``prefix + suffix``, where ``prefix`` is the longest run of
tokens that **every** prompt of the call starts with (system prompt, instruction, few-shot
examples: found on the token ids, so it is exact whatever the tokenizer does at the boundary).
The prefix is run once; its KV cache is expanded to each batch and reused.

Each record's row then holds its suffix followed by every label's verbalizer tokens but the
last (``v[:-1]``: the last token is only predicted, never read). A 4-D attention mask makes
the row a small tree: suffix tokens attend causally to the prefix and to earlier suffix
tokens; the tokens of label ``j`` attend to the prefix, the whole suffix and the earlier
tokens of label ``j`` only, with position ids that restart after the suffix for each label.
So one forward pass gives every token log-probability of every label, multi-token labels
included, exactly as ``len(labels)`` separate ``prompt + verbalizer`` passes would (the
per-record test compares the two on real data). Single-token verbalizers add no tokens at all.

Rows are sorted by length and cut into batches of at most ``batch_size`` rows and
``max_batch_tokens`` padded tokens (padding to a multiple of ``PAD_MULTIPLE``), so long
records go in small batches and memory stays bounded. The vocabulary projection is applied
to the read positions only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PAD_MULTIPLE = 8
MAX_BATCH_TOKENS = 4096


def round_up(n: int, m: int = PAD_MULTIPLE) -> int:
    return -(-n // m) * m


def shared_prefix_len(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix common to every prompt, leaving at least one token of each."""
    if not prompts:
        return 0
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        if n <= 0:
            return 0
        m = 0
        while m < n and p[m] == first[m]:
            m += 1
        n = m
    return max(n, 0)


def backbone_and_head(model: Any) -> tuple[Any, Any] | None:
    """(decoder stack returning hidden states, output projection) when the model exposes them."""
    if hasattr(model, "get_base_model"):  # a PeftModel: LoRA layers live inside the base model
        model = model.get_base_model()
    prefix = getattr(model, "base_model_prefix", None)
    backbone = getattr(model, prefix, None) if prefix else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if backbone is None or head is None or backbone is model:
        return None
    return backbone, head


def _can_reuse_prefix(model: Any) -> bool:
    """A shared-prefix cache is only used with full attention in every layer (no sliding window)."""
    cfg = getattr(model, "config", None)
    types = getattr(cfg, "layer_types", None) or []
    return not getattr(cfg, "sliding_window", None) and all(t == "full_attention" for t in types)


def _cache_kwarg(module: Any) -> str:
    """``cache`` in recent transformers, ``past_key_values`` before (deprecated since 5.2x)."""
    import inspect

    params = inspect.signature(module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class _Rows:
    """The padded tensors of one batch: ids, positions, 4-D mask, and where each label token is read."""

    def __init__(self, bodies: list[list[int]], groups: list[list[int]], prefix_len: int, dtype: Any, dev: Any):
        import torch

        b = len(bodies)
        width = round_up(max(len(s) for s in bodies))
        ids = torch.zeros((b, width), dtype=torch.long)
        pos = torch.zeros((b, width), dtype=torch.long)
        # group of each position: -1 record suffix, j label j's tokens, -2 padding
        grp = torch.full((b, width), -2, dtype=torch.long)
        for r, (body, g) in enumerate(zip(bodies, groups)):
            n = len(body)
            ids[r, :n] = torch.tensor(body, dtype=torch.long)
            gt = torch.tensor(g, dtype=torch.long)
            grp[r, :n] = gt
            # a label's tokens restart right after the suffix: positions as if it were alone
            n_suffix = int((gt == -1).sum())
            p = torch.arange(n, dtype=torch.long)
            for j in gt[gt >= 0].unique().tolist():
                at = (gt == j).nonzero().flatten()
                p[at] = n_suffix + torch.arange(len(at))
            pos[r, :n] = prefix_len + p
            pos[r, n:] = prefix_len + torch.arange(n, width)
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        gq, gk = grp[:, :, None], grp[:, None, :]
        allowed = causal & ((gk == -1) | (gk == gq)) & (gq != -2)
        allowed |= torch.eye(width, dtype=torch.bool)  # padding rows attend to themselves: no NaN
        mask = torch.zeros((b, 1, width, prefix_len + width), dtype=dtype)
        mask[:, 0, :, prefix_len:].masked_fill_(~allowed, torch.finfo(dtype).min)
        self.ids, self.pos, self.mask = ids.to(dev), pos.to(dev), mask.to(dev)


def label_logprobs(model: Any, prompts: Sequence[Sequence[int]], verbs: Sequence[Sequence[int]],
                   batch_size: int = 16, max_batch_tokens: int = MAX_BATCH_TOKENS,
                   reuse_prefix: bool = True,
                   on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Summed log-probability of each verbalizer after each prompt: float64 ``[len(prompts), len(verbs)]``.

    ``prompts``: token ids ending where the answer starts; ``verbs``: each label's answer
    tokens (non-empty). ``on_batch(n)`` is called after each batch with its number of
    prompts (progress). The model must be in eval mode; call inside ``torch.inference_mode``.
    """
    import torch

    n, k = len(prompts), len(verbs)
    out = np.zeros((n, k), dtype=np.float64)
    if n == 0:
        return out
    if any(len(v) == 0 for v in verbs):
        raise ValueError("a label verbalizer renders to no tokens")
    parts = backbone_and_head(model)
    dev = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    if not dtype.is_floating_point:  # pragma: no cover - quantised weights keep a float activation dtype
        dtype = torch.float32
    plen = shared_prefix_len(prompts) if reuse_prefix and _can_reuse_prefix(model) else 0

    # label tail appended to every row, with each token's group and where each label token is read
    tail: list[int] = []
    tail_grp: list[int] = []
    reads: list[tuple[int, int, int]] = []  # (label, offset in tail or -1 for "last suffix token", target)
    for j, v in enumerate(verbs):
        start = len(tail)
        for t, tok in enumerate(v):
            reads.append((j, -1 if t == 0 else start + t - 1, tok))
        tail.extend(v[:-1])
        tail_grp.extend([j] * (len(v) - 1))

    prefix_kv: list[tuple[Any, Any]] = []
    body = parts[0] if parts else model
    cache_kw = _cache_kwarg(body)
    if plen:
        pre = torch.tensor([list(prompts[0][:plen])], dtype=torch.long, device=dev)
        out_pre = body(input_ids=pre, use_cache=True)
        cache = getattr(out_pre, "cache", None) or out_pre.past_key_values
        prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]

    lens = [len(p) - plen + len(tail) for p in prompts]
    order = np.argsort(lens, kind="stable")
    i = 0
    while i < n:
        j = i + 1  # longest batch within both budgets (rows sorted by length: the last is the widest)
        while j < n and j - i < batch_size and (j - i + 1) * round_up(lens[order[j]]) <= max_batch_tokens:
            j += 1
        idx = order[i:j]
        bodies = [list(prompts[r][plen:]) + tail for r in idx]
        groups = [[-1] * (len(prompts[r]) - plen) + tail_grp for r in idx]
        rows = _Rows(bodies, groups, plen, dtype, dev)
        kwargs: dict[str, Any] = {"input_ids": rows.ids, "attention_mask": rows.mask, "position_ids": rows.pos}
        if plen:
            from transformers import DynamicCache

            b = len(idx)
            kwargs[cache_kw] = DynamicCache(
                ddp_cache_data=[(kk.expand(b, -1, -1, -1), vv.expand(b, -1, -1, -1)) for kk, vv in prefix_kv],
                config=model.config)
            kwargs["use_cache"] = True
        else:
            kwargs["use_cache"] = False
        # read positions (row, position) once each, and per label token which one it uses
        at: dict[tuple[int, int], int] = {}
        rr, jj, tt, use = [], [], [], []
        for r, rec in enumerate(idx):
            last = len(prompts[rec]) - plen - 1
            for lab, off, tok in reads:
                key = (r, last if off < 0 else last + 1 + off)
                use.append(at.setdefault(key, len(at)))
                rr.append(r)
                jj.append(lab)
                tt.append(tok)
        rows_t = torch.tensor([key[0] for key in at], device=dev)
        pos_t = torch.tensor([key[1] for key in at], device=dev)
        if parts is not None:
            hidden = parts[0](**kwargs).last_hidden_state
            head = parts[1]
            h = hidden[rows_t, pos_t]
            w = getattr(head, "weight", None)
            if isinstance(w, torch.Tensor) and w.dtype.is_floating_point and w.dtype != h.dtype:
                h = h.to(w.dtype)  # a bf16 model with an fp32 head (models/precision.py)
            logits = head(h)
        else:
            logits = model(**kwargs).logits[rows_t, pos_t]
        logp = torch.log_softmax(logits.float(), dim=-1)
        lp = logp[torch.tensor(use, device=dev), torch.tensor(tt, device=dev)]
        acc = np.zeros((len(idx), k), dtype=np.float64)
        np.add.at(acc, (np.asarray(rr), np.asarray(jj)), lp.double().cpu().numpy())
        out[idx] = acc
        del kwargs, logits, logp, lp
        if on_batch is not None:
            on_batch(len(idx))
        i = j
    return out
