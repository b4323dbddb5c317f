"""The YAML recipe (docs/architecture.md): a pydantic model, validated with precise errors.

Errors name the offending key, its line in the YAML file, and the allowed values or a
did-you-mean. ``load_recipe`` raises ``RecipeError``; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from tuneprep.errors import EXIT_USAGE, TuneprepError
from tuneprep.io.dialect import ReadOptions
from tuneprep.io.readers import FORMATS, RecordSource
from tuneprep.ops.base import UnknownOpError, get_op
from tuneprep.ray_cluster import Engine
from tuneprep.records import FieldMapping


class RecipeError(TuneprepError, ValueError):
    """A recipe that cannot run; the message names file, line and key."""

    exit_code = EXIT_USAGE


class InputConfig(ReadOptions):
    """Where the data comes from and how its fields map into the record contract; how the files
    are written (encoding, delimiter, header, pattern… see ``io.dialect.ReadOptions``)."""

    model_config = ConfigDict(extra="forbid")

    path: str | list[str]  # paths or globs, dataset:NAME, or URLs (s3://bucket/raw/*.jsonl)
    format: Literal[FORMATS] | None = None  # type: ignore[valid-type]  # the reader registry's formats
    text_field: str | None = "text"
    id_field: str | None = None
    label_field: str | None = None
    messages_field: str | None = None
    # Convert chat/instruction data into `messages` on read (auto-detects per row when "auto").
    convert_from: Literal["auto", "openai", "sharegpt", "alpaca", "prompt_completion"] | None = None
    # Rename raw label values, e.g. {"0": negative, "1": positive}; unmapped values are kept.
    label_map: dict[str, str] | None = None
    # Keep records whose label is missing/empty (they go to train only); otherwise missing_label rejects.
    allow_unlabeled: bool = False

    @model_validator(mode="after")
    def _lines_need_pattern(self) -> InputConfig:
        if self.format == "lines" and not self.pattern:
            raise ValueError("format: lines needs pattern, a regular expression with named groups, "
                             "e.g. '^(?P<text>.+)@(?P<label>\\w+)$'")
        return self

    @field_validator("label_map", mode="before")
    @classmethod
    def _str_keys(cls, v: Any) -> Any:
        return {str(k): str(val) for k, val in v.items()} if isinstance(v, dict) else v

    def record_source(self) -> RecordSource:
        """What ``tuneprep.io.readers.iter_records`` needs to turn this input's rows into records."""
        return RecordSource(self.mapping(), self.label_map, self.convert_from)

    def mapping(self) -> FieldMapping:
        return FieldMapping(text_field=None if self.convert_from else self.text_field, id_field=self.id_field,
                            label_field=self.label_field,
                            messages_field="messages" if self.convert_from else self.messages_field)


class StepResources(BaseModel):
    """What one step asks of a Ray cluster (``engine: ray``); the local engine ignores it."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float | None = Field(None, gt=0, description="CPUs per task or actor.")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per task or actor (a model op on a GPU).")
    memory: int | None = Field(None, gt=0, description="Bytes of memory per task or actor (for scheduling).")
    concurrency: int | None = Field(None, gt=0, description="Actors of a model step (default: up to one per CPU).")


class StepConfig(BaseModel):
    """One operator application: ``op`` plus that operator's parameters."""

    model_config = ConfigDict(extra="allow")

    op: str
    # Stop the run when this step drops more than this fraction of its input (overrides the recipe's).
    max_reject_fraction: float | None = Field(None, ge=0, le=1)
    # Where a step runs does not change what it does: left out of the dump, so of the recipe hash
    # and of the manifest, which stay the same for both engines.
    resources: StepResources | None = Field(None, exclude=True)

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# What ``method: hash`` cannot honour, and what to do instead (SplitConfig._needs_exact).
_NEEDS_EXACT = {
    # A hash ignores strata: each one gets the fractions in expectation only, as the whole set
    # does, so accepting the key would promise class ratios the split does not keep.
    "stratify_by": "method: hash cannot stratify (a record's split depends on its hash alone, so each class "
                   "gets the fractions only in expectation, as the whole set does); remove stratify_by, or use "
                   "method: exact for exact class ratios",
    # Clusters are found over all records at once, on the driver: the global pass a hash split
    # exists to avoid (and a cluster's label would depend on input order).
    "dedup": "method: hash cannot keep duplicate clusters whole (they are found over all records at once, on "
             "the driver); remove near-duplicates with a dedup.minhash step before the split, or use "
             "method: exact with dedup",
}


class SplitConfig(BaseModel):
    """Train/val/test fractions; ``stratify_by`` keeps class ratios, ``group_by`` keeps groups whole,
    ``dedup`` keeps duplicate clusters whole (``tuneprep.engine.dedup_split``).

    ``method: exact`` (default) shuffles every record's keys on the driver and cuts exact counts;
    ``method: hash`` gives each record the split its seeded hash (of its ``group_by`` value, else
    its id) falls in: streaming, no key list, fractions in expectation (``engine/split.py``)."""

    model_config = ConfigDict(extra="forbid")

    train: float = Field(ge=0, le=1)
    val: float = Field(0.0, ge=0, le=1)
    test: float = Field(0.0, ge=0, le=1)
    # Declared before the keys it constrains, so their validators see it.
    method: Literal["exact", "hash"] = "exact"
    stratify_by: str | None = None
    group_by: str | None = None
    seed: int = 0
    # Duplicate clusters as groups: no test/val record has a (near-)duplicate in train.
    dedup: Literal["exact", "minhash", "semantic"] | None = None
    # minhash: char 5-gram Jaccard (default 0.8, as the eval leakage check); semantic: cosine (default 0.9)
    dedup_threshold: float | None = Field(None, gt=0, le=1)

    @field_validator("stratify_by", "dedup")
    @classmethod
    def _needs_exact(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("method") == "hash":
            raise ValueError(_NEEDS_EXACT[info.field_name or ""])
        return v

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The default method is left out of the dump, so the recipe hash and the manifest of every
        # recipe written before ``method`` existed stay the same.
        out = handler(self)
        if out.get("method") == "exact":
            del out["method"]
        return out

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self

    def fractions(self) -> dict[str, float]:
        return {k: v for k, v in (("train", self.train), ("val", self.val), ("test", self.test)) if v > 0}


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A directory, or a URL (s3://bucket/runs/x): the run works locally and uploads (engine/outputs.py).
    path: str
    # Records per output part file; parts keep output files a manageable size.
    part_size: int = Field(1_000_000, gt=0)


class Recipe(BaseModel):
    """A whole recipe: input, steps, optional split, output."""

    model_config = ConfigDict(extra="forbid")

    input: InputConfig
    steps: list[StepConfig] = []
    split: SplitConfig | None = None
    output: OutputConfig
    # Where the recipe runs: this machine, or a Ray cluster (``tuneprep.engine.ray``); same results.
    engine: Engine = "local"
    # Stop the run when a step drops more than this fraction of its input (1.0: never stop).
    max_reject_fraction: float = Field(0.5, ge=0, le=1)

    def hash(self) -> str:
        """A stable hash of the resolved recipe (order of keys does not matter)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# --- error reporting -------------------------------------------------------------------------


def _node_at(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The YAML node at a pydantic error location (the deepest one that exists)."""
    cur = node
    for part in loc:
        if isinstance(cur, yaml.MappingNode):
            nxt = None
            for k, v in cur.value:
                if k.value == part:
                    nxt = k if part == loc[-1] else v
                    break
            if nxt is None:
                return cur
            cur = nxt
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
        else:
            return cur
    return cur


def _loc_str(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    cur: type[BaseModel] | None = Recipe
    for part in loc[:-1]:
        if cur is None or isinstance(part, int):
            continue
        field = cur.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        cur = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)),
                   ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None)
    return cur


def _format_error(path: str, root: yaml.Node | None, loc: tuple[Any, ...], msg: str,
                  allowed: list[str] | None = None) -> str:
    node = _node_at(root, loc)
    line = f":{node.start_mark.line + 1}" if node is not None else ""
    text = f"{path}{line}: {_loc_str(loc)}: {msg}"
    key = loc[-1] if loc else None
    if allowed and isinstance(key, str):
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            text += f"; did you mean '{close[0]}'?"
        text += f" (allowed: {', '.join(allowed)})"
    return text


def _pydantic_errors(path: str, root: yaml.Node | None, err: ValidationError,
                     prefix: tuple[Any, ...] = (), model: type[BaseModel] | None = None) -> list[str]:
    lines = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        allowed = None
        if e["type"] == "extra_forbidden":
            m = model if model is not None else _model_for(loc)
            allowed = _allowed_keys(m) if m else None
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"]
        lines.append(_format_error(path, root, loc, msg, allowed))
    return lines


def parse_recipe(data: Any, path: str = "<recipe>", root: yaml.Node | None = None) -> Recipe:
    """Validate a recipe dict, including every step's operator and parameters."""

    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping with keys input, steps, split, output")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError("\n".join(_pydantic_errors(path, root, e))) from None
    problems: list[str] = []
    for i, step in enumerate(recipe.steps):
        try:
            cls = get_op(step.op)
        except UnknownOpError as e:
            problems.append(_format_error(path, root, ("steps", i, "op"), str(e)))
            continue
        try:
            cls.Params(**step.params())
        except ValidationError as e:
            problems.extend(_pydantic_errors(path, root, e, ("steps", i), model=cls.Params))
    if problems:
        raise RecipeError("\n".join(problems))
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file. Relative input/output paths resolve against the CWD; a
    URL (``s3://``, ``gs://``, ``file://`` ...) is read and written through fsspec (``io/fs.py``)."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: no such recipe file")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RecipeError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    return parse_recipe(data, str(path), root)
