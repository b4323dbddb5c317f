"""Chat/SFT format converters: OpenAI ``messages`` ⇄ ShareGPT, Alpaca, prompt/completion.

The record contract holds chat data as OpenAI-style ``messages`` (docs/architecture.md); every other
style converts to it (``convert_row``) and back (``from_messages``). Keys that belong to no
style are kept as they are; the source style's keys are removed.

Styles and how they map:

* ``openai`` — ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``.
* ``sharegpt`` — ``{"conversations": [{"from": "human"|"gpt"|"system", "value": str}, ...]}``;
  ``from`` may also be ``user``/``assistant`` (and ``chatgpt``/``bing``/``bard``/``model`` for
  the assistant); items may use ``role``/``content`` instead of ``from``/``value``; a top-level
  string ``system`` becomes the first message. Written back as ``human``/``gpt``/``system``.
* ``alpaca`` — ``{"instruction", "input" (optional, may be empty), "output", "system" (optional)}``.
  The user turn is ``instruction``, or ``instruction + "\\n\\n" + input`` when ``input`` is set,
  as the Alpaca training prompt joins them. The join is not undone: converting back gives the
  whole user turn as ``instruction`` and ``input: ""``.
* ``prompt_completion`` — ``{"prompt": str, "completion": str}``, or TRL's conversational form
  where both are message lists. Written back as strings for a plain user/assistant pair and
  as message lists otherwise (a system message, several turns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuneprep.io.chat import (
    SHAREGPT_FROM,
    STYLES,
    _check_style,
    convert_row,
    detect_style,
)
from tuneprep.io.readers import InputError, read_rows
from tuneprep.io.writers import atomic_open, dumps_line, write_records
from tuneprep.records import RecordError, validate_messages

__all__ = ["STYLES", "convert_row", "detect_style", "from_messages", "convert", "convert_file", "ConvertResult"]

def from_messages(rec: dict[str, Any], style: str) -> dict[str, Any]:
    """The reverse of ``convert_row``: a record with ``messages`` written in ``style``.

    Raises RecordError (reason ``not_expressible``, field ``messages``) when the conversation
    cannot be written in that style: Alpaca holds one optional system message, then one user
    and one assistant turn; prompt/completion needs a conversation that ends with the assistant.
    """
    _check_style(style)
    if "messages" not in rec:
        raise RecordError("missing_field", "missing field 'messages'", "messages")
    msgs = validate_messages(rec["messages"])
    rest = {k: v for k, v in rec.items() if k != "messages"}
    if style == "openai":
        return {**rest, "messages": [dict(m) for m in msgs]}
    if style == "sharegpt":
        return {**rest, "conversations": [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in msgs]}
    if style == "alpaca":
        roles = [m["role"] for m in msgs]
        if roles not in (["user", "assistant"], ["system", "user", "assistant"]):
            raise RecordError(
                "not_expressible",
                f"Alpaca holds one user and one assistant turn (after an optional system message); "
                f"this conversation is {'/'.join(roles)}",
                "messages",
            )
        out = {**rest, "instruction": msgs[-2]["content"], "input": "", "output": msgs[-1]["content"]}
        if roles[0] == "system":
            out["system"] = msgs[0]["content"]
        return out
    if msgs[-1]["role"] != "assistant" or len(msgs) < 2:
        raise RecordError("not_expressible",
                          "prompt/completion needs a conversation that ends with an assistant turn", "messages")
    if [m["role"] for m in msgs] == ["user", "assistant"]:
        return {**rest, "prompt": msgs[0]["content"], "completion": msgs[1]["content"]}
    return {**rest, "prompt": [dict(m) for m in msgs[:-1]], "completion": [dict(msgs[-1])]}


def convert(obj: dict[str, Any], from_style: str, to_style: str) -> dict[str, Any]:
    """One row from ``from_style`` to ``to_style`` (through ``messages``)."""
    return from_messages(convert_row(obj, from_style), to_style)


@dataclass
class ConvertResult:
    """Counts of one ``convert_file`` run; ``read == written + rejected`` always holds."""

    src: str
    dst: str
    from_style: str
    to_style: str
    read: int
    written: int
    rejected: int
    rejects_path: str | None
    rejected_by_reason: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rejects_path_for(dst: str | Path) -> Path:
    """Where ``convert_file`` writes rejected rows: ``<dst name>.rejects.jsonl`` beside ``dst``."""
    dst = Path(dst)
    return dst.with_name(dst.name + ".rejects.jsonl")


def convert_file(src: str | Path, dst: str | Path, from_style: str | None = None, to_style: str = "openai",
                 fmt: str | None = None) -> ConvertResult:
    """Convert every row of ``src`` (any readable format) and write ``dst`` (format by extension).

    ``from_style=None`` detects the style from the first row that has one. A row that cannot be
    parsed or converted is written to ``rejects_path_for(dst)`` as ``{"step": "convert",
    "reason", "message", "field", "source": "path:line", "record" | "raw"}`` and the rest goes
    on; the rejects file is written only when there are rejects (a stale one is removed).
    Raises InputError when the file cannot be read or no style can be detected.
    """
    from contextlib import ExitStack

    if to_style not in STYLES:
        raise ValueError(f"unknown style '{to_style}'; allowed: {', '.join(STYLES)}")
    if from_style is not None and from_style not in STYLES:
        raise ValueError(f"unknown style '{from_style}'; allowed: {', '.join(STYLES)}")
    if from_style is None:
        for row in read_rows(src, fmt):
            from_style = detect_style(row.obj) if row.error is None else None
            if from_style:
                break
        else:
            raise InputError(f"{src}: no row looks like any of {', '.join(STYLES)}; pass the style explicitly")
    counts = {"read": 0, "rejected": 0}
    by_reason: dict[str, int] = {}
    rpath = rejects_path_for(dst)
    with ExitStack() as stack:
        rejects_fh: list[Any] = []

        def reject(line: int, reason: str, message: str, field: str | None, **payload: Any) -> None:
            if not rejects_fh:
                rejects_fh.append(stack.enter_context(atomic_open(rpath)))
            rejects_fh[0].write(dumps_line({"step": "convert", "reason": reason, "message": message,
                                            "field": field, "source": f"{src}:{line}", **payload}))
            counts["rejected"] += 1
            by_reason[reason] = by_reason.get(reason, 0) + 1

        def good_rows():
            for row in read_rows(src, fmt):
                counts["read"] += 1
                if row.error is not None:
                    reject(row.line, row.reason, row.error, None, raw=row.raw)
                    continue
                try:
                    yield convert(row.obj, from_style, to_style)
                except RecordError as e:
                    reject(row.line, e.reason, str(e), e.field, record=row.obj)

        written = write_records(dst, good_rows())
    if not counts["rejected"] and rpath.exists():
        rpath.unlink()
    return ConvertResult(str(src), str(dst), from_style, to_style, counts["read"], written, counts["rejected"],
                         str(rpath) if counts["rejected"] else None, by_reason)
