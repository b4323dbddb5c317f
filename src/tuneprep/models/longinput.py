"""Long-input policy for label scoring: cut to a token budget (which side is stated), or split and aggregate.

Texts are measured in tokens of the text alone (``tokenizer(text, add_special_tokens=False)``),
without the prompt template around it. With ``max_tokens = N``:

* ``truncate="end"`` (default) keeps the **first** N tokens (the end is cut);
* ``truncate="start"`` keeps the **last** N tokens (the start is cut);
* ``chunk=True`` cuts nothing: the text is split into consecutive pieces of N tokens, each
  piece is scored as its own prompt, and a label's score for the record is the **mean over
  pieces of that label's log-probability** (then normalised over labels as usual).

Nothing is cut silently: :class:`LongInputStats` counts the records truncated and the tokens
cut (total and largest), or the records chunked and the pieces, and evaluation writes it to
``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Side = Literal["start", "end"]


@dataclass
class LongInputStats:
    """What the long-input policy did to a set of texts (all counts in text tokens)."""

    max_tokens: int | None = None
    truncate: str | None = None
    chunk: bool = False
    records: int = 0
    max_text_tokens: int = 0
    truncated: int = 0
    tokens_cut: int = 0
    tokens_cut_max: int = 0
    chunked: int = 0
    chunks: int = 0
    # shortened to fit a training run's max_length (kept start), as the run was trained
    fit_to_run_max_length: int = 0

    def add(self, other: LongInputStats) -> None:
        for k in ("records", "truncated", "tokens_cut", "chunked", "chunks", "fit_to_run_max_length"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.max_text_tokens = max(self.max_text_tokens, other.max_text_tokens)
        self.tokens_cut_max = max(self.tokens_cut_max, other.tokens_cut_max)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_policy(tokenizer: Any, texts: Sequence[str], max_tokens: int | None, truncate: Side = "end",
                 chunk: bool = False) -> tuple[list[str], list[int], LongInputStats]:
    """The pieces to score, the index of the text each piece belongs to, and the stats.

    Without ``max_tokens`` texts pass unchanged (one piece each).
    """
    if truncate not in ("start", "end"):
        raise ValueError(f"truncate must be 'start' or 'end', not {truncate!r}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, not {max_tokens}")
    stats = LongInputStats(max_tokens=max_tokens, truncate=None if chunk or not max_tokens else truncate,
                           chunk=chunk and bool(max_tokens), records=len(texts))
    if not max_tokens:
        return list(texts), list(range(len(texts))), stats
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    pieces: list[str] = []
    owner: list[int] = []
    for i, (text, tid) in enumerate(zip(texts, ids)):
        n = len(tid)
        stats.max_text_tokens = max(stats.max_text_tokens, n)
        if n <= max_tokens:
            pieces.append(text)
            owner.append(i)
            continue
        if chunk:
            parts = [tid[a:a + max_tokens] for a in range(0, n, max_tokens)]
            pieces.extend(tokenizer.decode(p) for p in parts)
            owner.extend([i] * len(parts))
            stats.chunked += 1
            stats.chunks += len(parts)
            continue
        kept = tid[:max_tokens] if truncate == "end" else tid[-max_tokens:]
        pieces.append(tokenizer.decode(kept))
        owner.append(i)
        stats.truncated += 1
        stats.tokens_cut += n - max_tokens
        stats.tokens_cut_max = max(stats.tokens_cut_max, n - max_tokens)
    return pieces, owner, stats
