"""``tuneprep inspect``: a profile of any supported data file, in one streaming pass.

What it reports: rows and records, parse errors (count, first few with line numbers), rows
that are not usable records (not objects, broken conversations), the length distribution of
the text (characters and words: min/p50/p90/p99/max/mean), the exact-duplicate rate of the
normalised text (NFKC, casefold, whitespace collapsed), the label distribution, each field's
presence and fill rate, and for chat records (OpenAI, ShareGPT, Alpaca, prompt/completion rows)
the number of turns per conversation, the text being all message contents joined.

Memory is bounded by the number of distinct values, not by the data: lengths are kept as
histograms, texts as 8-byte hashes (8 bytes per record for the duplicate count), labels and
field names up to a cap.
"""

from __future__ import annotations

import math
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import xxhash

from tuneprep.io.converters import convert_row, detect_style
from tuneprep.io.readers import InputError, detect_format, expand_inputs, read_rows
from tuneprep.records import RecordError, get_path
from tuneprep.ui.console import make_console, protect_identifiers

TEXT_CANDIDATES = ("text", "sentence", "content", "document", "body", "review", "question", "prompt")
MAX_LABELS = 1000  # more distinct values than this is not a label column
MAX_FIELDS = 500
MAX_EXAMPLES = 5
OTHER = "(other)"


def normalize_for_dedup(text: str) -> str:
    """NFKC, casefold, whitespace runs collapsed to one space, ends trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def summarize_hist(hist: Counter[int]) -> dict[str, float | int | None]:
    """min/p50/p90/p99/max/mean of values held as a histogram {value: count} (nearest-rank)."""
    n = sum(hist.values())
    if n == 0:
        return {"min": None, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    values = sorted(hist)
    out: dict[str, float | int | None] = {"min": values[0]}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        rank, cum = max(1, math.ceil(q * n)), 0
        for v in values:
            cum += hist[v]
            if cum >= rank:
                out[name] = v
                break
    out["max"] = values[-1]
    out["mean"] = round(sum(v * c for v, c in hist.items()) / n, 2)
    return out


def _filled(v: Any) -> bool:
    return v is not None and v != "" and v != [] and v != {}


def _pick_text_field(obj: dict[str, Any]) -> str | None:
    """A text field for rows without ``text``: a usual name, else the longest string value."""
    for name in TEXT_CANDIDATES:
        if isinstance(obj.get(name), str):
            return name
    strings = [(len(v), k) for k, v in obj.items() if isinstance(v, str)]
    return max(strings)[1] if strings else None


class _Profiler:
    def __init__(self, text_field: str, label_field: str | None):
        self.text_field = text_field
        self.auto_text = text_field == "text"
        self.chosen_text: str | None = None
        self.label_field = label_field
        self.auto_label = label_field is None
        self.rows = self.records = self.texts = self.missing_text = self.missing_label = 0
        self.field_texts = 0  # texts taken from the text field (the rest are chat contents)
        self.chars: Counter[int] = Counter()
        self.words: Counter[int] = Counter()
        self.turns: Counter[int] = Counter()
        self.styles: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()
        self.labels_truncated = False
        self.fields: dict[str, list[int]] = {}
        self.fields_truncated = False
        self.hashes = array("Q")
        self.parse_errors = 0
        self.parse_examples: list[dict[str, Any]] = []
        self.invalid: Counter[str] = Counter()
        self.invalid_examples: list[dict[str, Any]] = []

    def parse_error(self, source: str, line: int, error: str, raw: str | None) -> None:
        self.rows += 1
        self.parse_errors += 1
        if len(self.parse_examples) < MAX_EXAMPLES:
            snippet = raw if raw is None or len(raw) <= 200 else raw[:200] + "…"
            self.parse_examples.append({"source": f"{source}:{line}", "line": line, "error": error, "raw": snippet})

    def _invalid(self, source: str, line: int, reason: str, message: str) -> None:
        self.invalid[reason] += 1
        if len(self.invalid_examples) < MAX_EXAMPLES:
            self.invalid_examples.append({"source": f"{source}:{line}", "line": line, "reason": reason,
                                          "error": message})

    def add(self, source: str, line: int, obj: Any) -> None:
        self.rows += 1
        if not isinstance(obj, dict):
            self._invalid(source, line, "not_an_object", f"row is a {type(obj).__name__}, not an object")
            return
        self.records += 1
        for k, v in obj.items():
            slot = self.fields.get(k)
            if slot is None:
                if len(self.fields) >= MAX_FIELDS:
                    self.fields_truncated = True
                    continue
                slot = self.fields[k] = [0, 0]
            slot[0] += 1
            slot[1] += _filled(v)

        text = self._text_of(obj)
        if text is None:
            style = detect_style(obj)
            if style is not None:
                try:
                    msgs = convert_row(obj, style)["messages"]
                except RecordError as e:
                    self._invalid(source, line, e.reason, f"{style} row: {e}")
                    msgs = None
                if msgs is not None:
                    self.styles[style] += 1
                    self.turns[sum(m["role"] != "system" for m in msgs)] += 1
                    text = "\n".join(m["content"] for m in msgs)
        if text is None:
            self.missing_text += 1
        else:
            self.texts += 1
            self.chars[len(text)] += 1
            self.words[len(text.split())] += 1
            self.hashes.append(xxhash.xxh3_64_intdigest(normalize_for_dedup(text).encode("utf-8", "surrogatepass")))
        self._label(obj)

    def _text_of(self, obj: dict[str, Any]) -> str | None:
        if self.auto_text and self.chosen_text is None and "text" not in obj and detect_style(obj) is None:
            self.chosen_text = _pick_text_field(obj)
        value = obj.get(self.chosen_text or self.text_field)
        if isinstance(value, str):
            self.field_texts += 1
            return value
        return None

    def _label(self, obj: dict[str, Any]) -> None:
        if self.auto_label and self.label_field is None and "label" in obj:
            self.label_field = "label"
        if self.label_field is None:
            return
        if self.label_field in obj:
            value = obj[self.label_field]
        else:
            try:
                value = get_path(obj, self.label_field)
            except KeyError:
                value = None
        if value is None or value == "":
            self.missing_label += 1
            return
        for v in value if isinstance(value, list) else [value]:
            key = v if isinstance(v, str) else str(v)
            if key not in self.labels and len(self.labels) >= MAX_LABELS:
                self.labels_truncated = True
                key = OTHER
            self.labels[key] += 1

    def result(self) -> dict[str, Any]:
        import numpy as np

        distinct = int(np.unique(np.frombuffer(self.hashes, dtype=np.uint64)).size) if self.hashes else 0
        dup = self.texts - distinct
        out: dict[str, Any] = {
            "rows": self.rows,
            "records": self.records,
            "parse_errors": {"count": self.parse_errors, "first": self.parse_examples},
            "invalid_rows": {"count": sum(self.invalid.values()), "by_reason": dict(self.invalid),
                             "first": self.invalid_examples},
            "text_field": (self.chosen_text or self.text_field) if self.field_texts or not self.styles else "messages",
            "texts": self.texts,
            "empty_texts": self.chars.get(0, 0),
            "missing_text": self.missing_text,
            "length": {"chars": summarize_hist(self.chars), "words": summarize_hist(self.words)},
            "duplicates": {"distinct": distinct, "duplicates": dup,
                           "rate": round(dup / self.texts, 4) if self.texts else 0.0},
            "labels": None,
            "fields": {k: {"present": p, "filled": f, "fill_rate": round(f / self.records, 4) if self.records else 0.0}
                       for k, (p, f) in self.fields.items()},
            "fields_truncated": self.fields_truncated,
        }
        if self.label_field is not None:
            out["labels"] = {"field": self.label_field, "counts": dict(self.labels.most_common()),
                             "distinct": len(self.labels), "missing": self.missing_label,
                             "truncated": self.labels_truncated}
        if self.styles:
            out["chat"] = {"styles": dict(self.styles), "turns": summarize_hist(self.turns),
                           "turns_hist": {str(k): v for k, v in sorted(self.turns.items())}}
        return out


def profile(paths: str | Path | Iterable[str | Path], fmt: str | None = None, text_field: str = "text",
            label_field: str | None = None) -> dict[str, Any]:
    """Profile one or more files (globs allowed) in one streaming pass; returns a JSON-able dict.

    ``text_field="text"`` (the default) falls back, for rows without ``text``, to chat content
    when the row is in a chat style, else to a usual text field name (``sentence``,
    ``content``, ...) or the longest string field of the first such row; the field used is
    reported as ``text_field``. ``label_field=None`` uses ``label`` when rows have one.
    Raises InputError when a path matches nothing or cannot be read.
    """

    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = expand_inputs([str(p) for p in paths])
    prof = _Profiler(text_field, label_field)
    per_file = []
    for path in files:
        f = fmt or detect_format(path)
        rows_before, errors_before = prof.rows, prof.parse_errors
        for row in read_rows(path, f):
            if row.error is not None:
                prof.parse_error(path, row.line, row.error, row.raw)
            else:
                prof.add(path, row.line, row.obj)
        per_file.append({"path": path, "format": f, "rows": prof.rows - rows_before,
                         "parse_errors": prof.parse_errors - errors_before})
    return {"files": per_file, **prof.result()}


def _fmt_num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render(p: dict[str, Any]) -> Any:
    """The profile as Rich renderables (a Group of tables)."""
    from rich.console import Group
    from rich.table import Table


    parts: list[Any] = []
    summary = Table(title="tuneprep inspect", show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    for f in p["files"]:
        summary.add_row("file", f"{f['path']} ({f['format']}): {f['rows']:,} rows, {f['parse_errors']:,} parse errors")
    summary.add_row("rows", _fmt_num(p["rows"]))
    summary.add_row("records", _fmt_num(p["records"]))
    summary.add_row("parse errors", _fmt_num(p["parse_errors"]["count"]))
    if p["invalid_rows"]["count"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in p["invalid_rows"]["by_reason"].items())
        summary.add_row("invalid rows", f"{p['invalid_rows']['count']:,} ({reasons})")
    summary.add_row("text field", p["text_field"])
    summary.add_row("texts", f"{p['texts']:,} ({p['empty_texts']:,} empty; {p['missing_text']:,} records without text)")
    d = p["duplicates"]
    summary.add_row("exact duplicates", f"{d['duplicates']:,} of {p['texts']:,} ({d['rate']:.2%}); "
                                        f"{d['distinct']:,} distinct (normalised text)")
    parts.append(summary)

    lengths = Table(title="length", title_justify="left")
    lengths.add_column("")
    for col in ("min", "p50", "p90", "p99", "max", "mean"):
        lengths.add_column(col, justify="right")
    rows = [("chars", p["length"]["chars"]), ("words", p["length"]["words"])]
    if p.get("chat"):
        rows.append(("turns", p["chat"]["turns"]))
    for name, s in rows:
        lengths.add_row(name, *(_fmt_num(s[c]) for c in ("min", "p50", "p90", "p99", "max", "mean")))
    parts.append(lengths)

    if p.get("chat"):
        chat = Table(title="chat", title_justify="left", show_header=False)
        chat.add_row("styles", ", ".join(f"{k} {v:,}" for k, v in p["chat"]["styles"].items()))
        chat.add_row("turns per conversation", ", ".join(f"{k}: {v:,}" for k, v in p["chat"]["turns_hist"].items()))
        parts.append(chat)

    if p["labels"]:
        lab = p["labels"]
        t = Table(title=f"labels ({lab['field']}; {lab['missing']:,} missing)", title_justify="left")
        t.add_column("label")
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        total = sum(lab["counts"].values()) or 1
        for k, v in list(lab["counts"].items())[:30]:
            t.add_row(k, f"{v:,}", f"{v / total:.1%}")
        if lab["distinct"] > 30:
            t.add_row(f"… {lab['distinct'] - 30:,} more", "", "")
        parts.append(protect_identifiers(t, ["label"]))

    fields = Table(title="fields", title_justify="left")
    fields.add_column("field")
    fields.add_column("present", justify="right")
    fields.add_column("filled", justify="right")
    for k, s in list(p["fields"].items())[:50]:
        fields.add_row(k, f"{s['present']:,}", f"{s['fill_rate']:.1%}")
    parts.append(protect_identifiers(fields, ["field"]))

    examples = p["parse_errors"]["first"] + p["invalid_rows"]["first"]
    if examples:
        t = Table(title="first errors", title_justify="left")
        t.add_column("source")
        t.add_column("error")
        for e in examples:
            t.add_row(e["source"], e["error"])
        parts.append(protect_identifiers(t, ["source"]))
    return Group(*parts)


def inspect_cli(path: Path | str, format: str | None, text_field: str, label_field: str | None,
                json_out: bool, near_dups: Callable[[Path | str, str | None, str], dict[str, Any]] | None = None,
                render_near: Callable[[dict[str, Any]], Any] | None = None) -> int:
    """``tuneprep inspect``: print the profile (Rich tables, or JSON); returns the exit code
    (0, or 2 when the input cannot be read). ``near_dups(path, format, text_field)`` (from
    ``tuneprep.neardup.report``, passed in by the CLI: io does not import the layers above it)
    adds the near-duplicate rate and largest clusters, shown with ``render_near``."""
    import orjson

    try:
        p = profile(path, format, text_field, label_field)
    except InputError as e:
        make_console(stderr=True).print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    if near_dups is not None:  # rate and largest clusters, on the text field chosen above
        p["near_duplicates"] = near_dups(path, format, p["text_field"])
    if json_out:
        print(orjson.dumps(p, option=orjson.OPT_INDENT_2).decode())
    else:
        make_console().print(render(p))
        if near_dups is not None and render_near is not None:
            make_console().print(render_near(p["near_duplicates"]))
    return 0
