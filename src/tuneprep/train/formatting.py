"""Examples → token ids + loss labels, under a length policy, with rejects counted by reason.

Classification records become template messages + the label's verbalizer as the assistant's
answer (tuneprep.models.prompt.ClassifyTemplate); chat records use their own messages. Both are
rendered by the tokenizer's chat template, and only assistant tokens carry loss (spans from
message boundaries, see tuneprep.models.chat).

Length policies, for sequences longer than ``max_length``:
- ``truncate``: classification shortens the text inside the template's ``{text}`` (the
  instruction and answer are kept whole); chat cuts the sequence at ``max_length``.
- ``drop``: the record is rejected (reason ``too_long``).
- ``error``: training stops, naming the records.
A record left with no trained token is rejected (reason ``no_trainable_tokens``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from tuneprep.models.chat import ChatTemplateError, Encoded, encode_chat, encode_classification
from tuneprep.models.prompt import ClassifyTemplate
from tuneprep.train.data import Example, TrainDataError

LengthPolicy = Literal["drop", "truncate", "error"]


@dataclass
class Formatted:
    """Tokenized examples ready for training, plus what happened to the others."""

    ids: list[str] = field(default_factory=list)
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)  # {"id", "source", "reason", "detail"}
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.input_ids)

    def counts(self) -> dict[str, Any]:
        return {"kept": len(self), "truncated": self.truncated,
                "rejected": dict(Counter(r["reason"] for r in self.rejects))}


def format_examples(examples: list[Example], tokenizer: Any, *, task: str,
                    template: ClassifyTemplate | None, max_length: int,
                    length_policy: LengthPolicy = "truncate") -> Formatted:
    """Tokenize ``examples`` for causal-LM training; returns a Formatted (kept + rejects).

    Raises TrainDataError under ``length_policy="error"`` listing every over-long record.
    """
    out = Formatted()
    too_long: list[str] = []
    for ex in examples:
        try:
            if task == "classify":
                assert template is not None and ex.text is not None and ex.label is not None
                if length_policy == "truncate":
                    enc, cut = encode_classification(tokenizer, template, ex.text, ex.label, max_length)
                else:
                    enc, cut = encode_classification(tokenizer, template, ex.text, ex.label, None)
            else:
                assert ex.messages is not None
                enc, cut = encode_chat(tokenizer, ex.messages), False
        except ChatTemplateError as e:
            raise TrainDataError(f"{ex.source} id={ex.id}: {e}") from None
        except ValueError as e:  # the template alone does not fit max_length
            out.rejects.append({"id": ex.id, "source": ex.source, "reason": "too_long", "detail": str(e)})
            continue
        n = len(enc.input_ids)
        if n > max_length:
            if length_policy == "error":
                too_long.append(f"{ex.source} id={ex.id}: {n} tokens > max_length {max_length}")
                continue
            if length_policy == "drop":
                out.rejects.append({"id": ex.id, "source": ex.source, "reason": "too_long",
                                    "detail": f"{n} tokens > max_length {max_length}"})
                continue
            enc = _cut(enc, max_length)
            cut = True
        if enc.n_trained == 0:
            out.rejects.append({"id": ex.id, "source": ex.source, "reason": "no_trainable_tokens",
                                "detail": "no assistant token " + ("left after truncation" if cut else
                                                                    "in the rendered conversation")})
            continue
        out.truncated += int(cut)
        out.ids.append(ex.id)
        out.input_ids.append(enc.input_ids)
        out.labels.append(enc.labels)
    if too_long:
        raise TrainDataError(f"{len(too_long)} record(s) longer than max_length {max_length} "
                             "(--length-policy error; use truncate or drop, or raise --max-length)", too_long)
    return out


def _cut(enc: Encoded, n: int) -> Encoded:
    spans = [(s, min(e, n)) for s, e in enc.spans if s < n]
    return Encoded(enc.input_ids[:n], enc.labels[:n], spans)


def length_histogram(lengths: list[int], max_length: int, bins: int = 8) -> list[dict[str, Any]]:
    """Counts of token lengths in equal-width bins up to ``max_length`` (plus one bin above)."""
    width = max(1, -(-max_length // bins))
    edges = [(i * width, (i + 1) * width) for i in range(bins)]
    rows = [{"from": a, "to": b, "count": sum(a < x <= b for x in lengths)} for a, b in edges]
    over = sum(x > edges[-1][1] for x in lengths)
    if over:
        rows.append({"from": edges[-1][1], "to": None, "count": over})
    return rows


def mark_trained(tokenizer: Any, input_ids: list[int], labels: list[int]) -> str:
    """The decoded sequence with trained tokens wrapped in ``[[`` ``]]`` (for the preflight)."""
    parts: list[str] = []
    run: list[int] = []
    trained = False
    for tid, lab in zip(input_ids, labels):
        is_t = lab != -100
        if is_t != trained and run:
            text = tokenizer.decode(run)
            parts.append(f"[[{text}]]" if trained else text)
            run = []
        trained = is_t
        run.append(tid)
    if run:
        text = tokenizer.decode(run)
        parts.append(f"[[{text}]]" if trained else text)
    return "".join(parts)
