"""Training data: resolve ``--data`` (a recipe run dir or a file), read and validate records.

Structural problems (no text, empty or malformed messages, a role outside system/user/assistant,
a missing or unknown label) stop training with one error that lists every bad record by file,
line and id: a model silently trained on part of its data is worse than no model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.errors import TuneprepError
from tuneprep.io.chat import convert_row, detect_style
from tuneprep.io.fingerprint import sha256_file
from tuneprep.io.layout import MANIFEST
from tuneprep.io.readers import read_rows
from tuneprep.records import RecordError, derive_id, validate_messages

MAX_LISTED = 20  # problems listed in one error message


class TrainDataError(TuneprepError, ValueError):
    """Training data that cannot be used; ``problems`` holds one line per bad record."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        lines = self.problems[:MAX_LISTED]
        more = len(self.problems) - len(lines)
        text = message + ("\n  " + "\n  ".join(lines) if lines else "")
        if more > 0:
            text += f"\n  ... and {more} more"
        super().__init__(text)


@dataclass
class DataSource:
    """Where training (and optional validation) records come from, with fingerprints."""

    train_files: list[Path]
    val_files: list[Path] = field(default_factory=list)
    run_dir: Path | None = None

    def fingerprint(self) -> dict[str, Any]:
        """sha256 of every data file used, and of the recipe run's manifest.json when there is one."""
        fp: dict[str, Any] = {
            "train": {str(p): sha256_file(p) for p in self.train_files},
            "val": {str(p): sha256_file(p) for p in self.val_files},
        }
        if self.run_dir is not None:
            man = self.run_dir / MANIFEST
            fp["run_dir"] = str(self.run_dir)
            fp["manifest_sha256"] = sha256_file(man) if man.exists() else None
        return fp




def _data_files(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix in (".jsonl", ".json", ".gz", ".zst", ".parquet", ".csv", ".tsv"))


def resolve_data(data: str | Path) -> DataSource:
    """``data`` is a recipe run dir (its train/ split, and val/ when present), or one data file."""
    p = Path(data).expanduser()
    if p.is_file():
        return DataSource([p])
    if p.is_dir():
        train = p / "train"
        if train.is_dir():
            files = _data_files(train)
            if not files:
                raise TrainDataError(f"{train}: no data files in the run's train split")
            val = _data_files(p / "val") if (p / "val").is_dir() else []
            return DataSource(files, val, p)
        if (p / "data").is_dir() and _data_files(p / "data"):
            return DataSource(_data_files(p / "data"), [], p)
        raise TrainDataError(f"{p}: a directory without train/ or data/ (is it a `tuneprep run` output?)")
    raise TrainDataError(f"{p}: no such file or directory")


@dataclass
class Example:
    """One validated training record: where it came from and what it says."""

    id: str
    source: str  # path:line
    text: str | None = None
    label: str | None = None
    messages: list[dict[str, str]] | None = None


def _read_file(path: Path) -> list[tuple[int, Any, str | None]]:
    return [(r.line, r.obj, r.error) for r in read_rows(path)]


def _as_messages(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    """The record's chat messages: ``messages``, or another chat style via tuneprep.io.chat."""
    if "messages" in obj:
        msgs = obj["messages"]
    else:
        style = detect_style(obj)
        if style is None:
            raise RecordError("missing_field", "no 'messages' field (nor alpaca/sharegpt/prompt-completion "
                              "fields)", "messages")
        msgs = convert_row(dict(obj), style)["messages"]
    validate_messages(msgs)  # the one message validator of the record contract
    if not any(m["role"] == "assistant" for m in msgs):
        raise RecordError("no_assistant", "no assistant message: nothing to train on", "messages")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def read_examples(files: list[Path], task: str, labels: list[str] | None = None,
                  rejects: list[dict[str, Any]] | None = None) -> list[Example]:
    """Read and validate every record of ``files`` for ``task`` (``classify`` or ``sft``).

    A classification record whose text is an empty/blank string holds nothing to learn from:
    it is appended to ``rejects`` (reason ``empty_text``) when a list is given, else an error.
    Raises TrainDataError listing every bad record (``path:line id=...: problem``).
    """
    out: list[Example] = []
    problems: list[str] = []
    known = set(labels) if labels else None
    for path in files:
        for line, obj, err in _read_file(path):
            where = f"{path}:{line}"
            if err:
                problems.append(f"{where}: {err}")
                continue
            if not isinstance(obj, Mapping):
                problems.append(f"{where}: row is a {type(obj).__name__}, not an object")
                continue
            rid = str(obj["id"]) if obj.get("id") is not None else derive_id(str(path), line)
            at = f"{where} id={rid}"
            if task == "classify":
                text, label = obj.get("text"), obj.get("label")
                if not isinstance(text, str):
                    problems.append(f"{at}: field 'text' is missing or not a string")
                    continue
                if not text.strip():
                    if rejects is None:
                        problems.append(f"{at}: field 'text' is empty")
                    else:
                        rejects.append({"id": rid, "source": where, "reason": "empty_text",
                                        "detail": "field 'text' is empty"})
                    continue
                if label is None or (isinstance(label, str) and not label.strip()):
                    problems.append(f"{at}: field 'label' is missing")
                    continue
                if isinstance(label, list):
                    problems.append(f"{at}: field 'label' is a list (multi-label is not supported by "
                                    "--task classify)")
                    continue
                label = str(label)
                if known is not None and label not in known:
                    problems.append(f"{at}: unknown label {label!r} (labels: {', '.join(labels or [])})")
                    continue
                out.append(Example(rid, where, text=text, label=label))
            else:
                try:
                    msgs = _as_messages(obj)
                except RecordError as e:
                    problems.append(f"{at}: {e}")
                    continue
                out.append(Example(rid, where, messages=msgs))
    if problems:
        raise TrainDataError(f"{len(problems)} bad training record(s) for --task {task}", problems)
    if not out:
        raise TrainDataError(f"no training records in {', '.join(map(str, files))}")
    return out


def infer_labels(examples: list[Example]) -> list[str]:
    """The label set of classification examples, sorted."""
    return sorted({e.label for e in examples if e.label is not None})


def subsample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded random subset of ``limit`` examples in their original order (all when None)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def example_json(e: Example) -> str:
    return json.dumps({"id": e.id, "source": e.source}, ensure_ascii=False)
