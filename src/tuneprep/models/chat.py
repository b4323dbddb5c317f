"""Chat rendering with the tokenizer's own template, and assistant token spans from message boundaries.

Training and scoring both go through here, so a model is always asked exactly the way it was
trained. The assistant spans are found by rendering the conversation up to each assistant
turn (with the generation prompt) and up to the end of that turn, and mapping those character
boundaries to tokens of the full rendering; never by searching for the response string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneprep.errors import TuneprepError
from tuneprep.models.prompt import ClassifyTemplate


class ChatTemplateError(TuneprepError, ValueError):
    """The tokenizer's chat template cannot be used for span-exact training of these messages."""


@dataclass
class Encoded:
    """A tokenized conversation: ``input_ids`` and ``labels`` (-100 outside assistant spans)."""

    input_ids: list[int]
    labels: list[int]
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) token spans trained

    @property
    def n_trained(self) -> int:
        return sum(e - s for s, e in self.spans)


def render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    """The chat template's text for ``messages`` (no tokenization)."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ChatTemplateError("the tokenizer has no chat template; pick a chat/instruct model")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _tokenize(tokenizer: Any, text: str, offsets: bool = False) -> Any:
    # The rendered template already holds any BOS it wants.
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=offsets)


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of the prompt (messages + the assistant generation prompt)."""
    return _tokenize(tokenizer, render(tokenizer, messages, add_generation_prompt=True))["input_ids"]


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], train_on: str = "all_assistant") -> Encoded:
    """Tokenize a conversation and mark the assistant tokens that carry loss.

    ``train_on``: ``all_assistant`` (every assistant turn) or ``last_assistant``. Each trained
    span runs from the first token of the assistant's content to its end-of-turn token
    (included: the model must learn to stop); template text after that token, e.g. a newline,
    is not trained since generation never produces it.
    """
    full = render(tokenizer, messages)
    enc = _tokenize(tokenizer, full, offsets=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    eos = tokenizer.eos_token_id
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if train_on == "last_assistant":
        turns = turns[-1:]
    spans: list[tuple[int, int]] = []
    for i in turns:
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1])
        if not full.startswith(before) or not full.startswith(upto):
            raise ChatTemplateError(
                f"the chat template renders turn {i} differently in a prefix than in the whole "
                "conversation, so assistant spans cannot be found from message boundaries"
            )
        c0, c1 = len(before), len(upto)
        tok = [t for t, (s, e) in enumerate(offsets) if s >= c0 and e <= c1 and e > s]
        if not tok:
            continue
        start, end = tok[0], tok[-1] + 1
        if eos is not None and eos in ids[start:end]:
            end = start + ids[start:end].index(eos) + 1
        spans.append((start, end))
    if spans:
        # Tokens after the last trained span carry no loss and, in a causal model, affect
        # nothing before them: they are not kept.
        ids = ids[: spans[-1][1]]
    labels = [-100] * len(ids)
    for s, e in spans:
        labels[s:e] = ids[s:e]
    return Encoded(ids, labels, spans)


def classify_messages(template: ClassifyTemplate, text: str, label: str | None = None) -> list[dict[str, str]]:
    """Template messages for a text, plus the assistant verbalizer when ``label`` is given."""
    msgs = template.messages(text)
    if label is not None:
        msgs.append({"role": "assistant", "content": template.answer(label)})
    return msgs


def fit_text(tokenizer: Any, template: ClassifyTemplate, text: str, max_length: int | None,
             reserve: int = 0) -> tuple[str, bool]:
    """Shorten ``text`` (at token boundaries, keeping its start) so the prompt fits ``max_length``.

    ``reserve`` tokens are kept free for the answer. Returns ``(text, truncated)``. The
    instruction and answer are never cut; raises ValueError when they alone do not fit.
    """
    if not max_length:
        return text, False
    n = len(prompt_ids(tokenizer, template.messages(text))) + reserve
    if n <= max_length:
        return text, False
    text_ids = _tokenize(tokenizer, text)["input_ids"]
    overhead = n - len(text_ids)
    budget = max_length - overhead
    for _ in range(4):  # re-tokenizing a cut text can shift a token or two
        if budget <= 0:
            raise ValueError(f"max_length {max_length} leaves no room for the text: the template and "
                             f"answer alone take {overhead} tokens")
        cut = tokenizer.decode(text_ids[:budget]).rstrip()
        n = len(prompt_ids(tokenizer, template.messages(cut))) + reserve
        if n <= max_length:
            return cut, True
        budget -= n - max_length
    raise ValueError(f"could not fit the text into max_length {max_length}")


def encode_classification(tokenizer: Any, template: ClassifyTemplate, text: str, label: str,
                          max_length: int | None = None) -> tuple[Encoded, bool]:
    """Encode one classification example (prompt + verbalizer answer), text truncated to fit.

    Returns ``(encoded, truncated)``; only the verbalizer and end-of-turn tokens carry loss.
    """
    answer_len = len(answer_ids(tokenizer, template, label)) + 1
    text, truncated = fit_text(tokenizer, template, text, max_length, reserve=answer_len)
    enc = encode_chat(tokenizer, classify_messages(template, text, label))
    return enc, truncated


def answer_ids(tokenizer: Any, template: ClassifyTemplate, label: str) -> list[int]:
    """Token ids of a label's verbalizer as the assistant's answer (without end-of-turn).

    Found from message boundaries on a rendered example, so it matches training exactly.
    """
    enc = encode_chat(tokenizer, classify_messages(template, "x", label))
    if not enc.spans:
        raise ChatTemplateError(f"the verbalizer of label {label!r} renders to no tokens")
    s, e = enc.spans[-1]
    ids = enc.input_ids[s:e]
    if tokenizer.eos_token_id is not None and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids
