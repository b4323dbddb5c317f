"""Operator base classes and the one registry of operators (``family.name``).

Three shapes (docs/architecture.md, "How to add an operator"):

* ``RecordOp`` — a pure function of one record: returns the (possibly changed) record, or a
  ``Drop`` saying why it is rejected. Runs in any worker, streaming. The engines hand it a chunk
  through ``apply_many``, which an op may override to vectorise (same result as ``apply``).
* ``BatchOp`` — the same over a list of records, for model calls.
* ``GlobalOp`` — needs the whole dataset (dedup, selection); the engine runs it as a barrier.
  ``apply_global(open_items)`` gets a function that opens a fresh stream of ``Item`` (so an op
  may take several passes in bounded memory) and must yield exactly one outcome per input
  item, in input order. ``prepare(record)`` is computed in the parallel workers beforehand
  (e.g. a dedup hash) and handed over as ``Item.key``.

Heavy dependencies are imported inside ``setup()``, never at module import, so that
``tuneprep --help`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tuneprep.errors import EXIT_USAGE, TuneprepError

# Modules whose import registers operators. Each must import only light dependencies at top level.
OP_MODULES = (
    "tuneprep.ops.clean",
    "tuneprep.ops.filter",
    "tuneprep.ops.dedup",
    "tuneprep.ops.neardup",
    "tuneprep.ops.select",
    "tuneprep.ops.selection",
    "tuneprep.ops.annotate",
    "tuneprep.ops.quality",
    "tuneprep.ops.language",
    "tuneprep.ops.pii",
    "tuneprep.ops.correct",
    "tuneprep.ops.ambiguity",
)


class OpParams(BaseModel):
    """Base for operator parameters: unknown keys are an error; attribute docstrings document them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


@dataclass
class Drop:
    """Why a record is rejected: a short reason tag plus measured values (``detail``)."""

    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Item:
    """A record in flight, with where it came from (``path:line``) for the rejects file."""

    source: str
    record: dict[str, Any]
    key: Any = None


class Op:
    """Common part of every operator."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "record"
    Params: ClassVar[type[OpParams]] = OpParams
    description: ClassVar[str] = ""

    def __init__(self, params: OpParams | None = None, **kwargs: Any):
        self.params = params if params is not None else self.Params(**kwargs)

    def setup(self) -> None:
        """Load heavy resources; called once per worker before the first record."""


class RecordOp(Op):
    kind: ClassVar[str] = "record"

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | Drop:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any] | Drop]:
        """``apply`` over a chunk of records, one result per record in order; the engines call this.

        Override only to do the same work faster over many records at once (``clean.terminology``
        scans a chunk as one string); the result must equal ``apply`` record by record.
        """
        return [self.apply(r) for r in records]


class BatchOp(Op):
    kind: ClassVar[str] = "batch"
    batch_size: ClassVar[int] = 64

    def apply_batch(self, records: list[dict[str, Any]]) -> list[dict[str, Any] | Drop]:  # pragma: no cover
        raise NotImplementedError


class NotRanked(Exception):
    """A ranked op's input that ranks cannot decide (e.g. multi-label records for ``select.balance``)."""


class GlobalOp(Op):
    kind: ClassVar[str] = "global"
    keys_only: ClassVar[bool] = False
    """True when ``apply_global`` looks at nothing but ``Item.key`` and ``record["id"]`` (one
    pass) and answers each record from the earlier records with an equal key alone: the local
    engine may then decide from those alone, each group of keys in its own process, and move the
    records in parallel (``engine/keyed.py``)."""

    ranked: ClassVar[bool] = False
    """True when ``apply_global`` decides each record from its prepared key alone, except for a
    budget: of the records with a rank (``rank_of``) in a group (``rank_group``: one group, or one
    per label), the group's budget (``rank_budgets``) best by (rank, input position) are kept —
    ``select.sample``, ``select.top``, single-label ``select.balance``. The verdicts come from
    ``rank_verdict`` in both paths; the local engine may then rank each shard in its own process and
    keep on the driver only each budget's boundary (``engine/ranked.py``)."""

    def prepare(self, record: dict[str, Any]) -> Any:
        """Per-record work done in parallel before the barrier; the result arrives as ``Item.key``."""
        return None

    def rank_of(self, key: Any) -> Any:
        """A ranked op's sortable rank of a prepared key (smaller is kept first); None: not ranked."""
        return None

    def rank_group(self, key: Any) -> Any:
        """A ranked record's group, each with a budget of its own (default: one group, None). Raises
        ``NotRanked`` when this input cannot be decided by ranks (the serial path then runs)."""
        return None

    def rank_budget(self, ranked: int) -> int | None:
        """A ranked op's number of records to keep out of ``ranked`` ranked ones (None: no budget)."""
        return None

    def rank_budgets(self, counts: dict[Any, int]) -> dict[Any, int | None]:
        """The budget of each group from the ranked records per group (default: ``rank_budget`` of
        each). Called once, on the driver, before the verdicts: an op may keep what its verdicts'
        details need (the op is handed to the verdict tasks after this call)."""
        return {g: self.rank_budget(n) for g, n in counts.items()}

    def rank_verdict(self, key: Any, kept: bool | None, last_kept: Any) -> Drop | None:
        """A ranked op's verdict on a record with prepared ``key``: ``kept`` says whether its rank is
        within the budget (None: unranked, or no budget); ``last_kept`` is the budget's last rank
        (None when the budget keeps every ranked record, or none)."""
        raise NotImplementedError

    def prepare_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        """``prepare`` over a chunk of records (override to vectorise, e.g. MinHash signatures)."""
        return [self.prepare(r) for r in records]

    def decide_keys(self, rows: Iterable[tuple[Any, Any]]) -> Iterator[Drop | None]:
        """A ``keys_only`` op's outcome for each ``(prepared key, id)`` row, in order: what
        ``apply_global`` answers for records with those keys and ids. Phase B runs it over the keys
        files (``engine/keyed.py``); an op may override it to skip building the items."""
        def items() -> Iterator[Item]:
            for key, rid in rows:
                yield Item("", {"id": rid}, key)

        for _, drop in self.apply_global(items):
            yield drop

    def apply_global(
        self, open_items: Callable[[], Iterator[Item]]
    ) -> Iterator[tuple[Item, Drop | None]]:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, type[Op]] = {}
_loaded = False


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an operator to the registry under ``cls.name``."""
    if not cls.name or "." not in cls.name:
        raise ValueError(f"operator name must be 'family.name', got {cls.name!r}")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"operator {cls.name} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in OP_MODULES:
            importlib.import_module(mod)
        _loaded = True


def _find(name: str) -> type[Op] | None:
    """``name``'s class, importing the operator modules in order only until it is registered.

    A recipe run needs a few operators; importing every module (the annotation family pulls in
    numpy, urllib/ssl and the model registry) cost about 0.9 s of each ``tuneprep run``'s start.
    Names are unique across modules (``register`` refuses a second class), so the first module
    that registers ``name`` gives the same class as loading them all.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if not _loaded:
        for mod in OP_MODULES:
            importlib.import_module(mod)
            if name in _REGISTRY:
                return _REGISTRY[name]
    return None


def all_ops() -> dict[str, type[Op]]:
    """Every registered operator, by name."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


class UnknownOpError(TuneprepError, KeyError):
    exit_code = EXIT_USAGE

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown operator '{name}'{hint}")

    def __str__(self) -> str:
        return self.args[0]


def get_op(name: str) -> type[Op]:
    """Look up an operator class; raises UnknownOpError with did-you-mean suggestions."""
    cls = _find(name)
    if cls is None:
        ops = all_ops()  # every name, for the suggestions
        raise UnknownOpError(name, difflib.get_close_matches(name, list(ops), n=3, cutoff=0.5))
    return cls


def build_op(name: str, params: dict[str, Any]) -> Op:
    """Instantiate an operator with validated parameters (raises pydantic.ValidationError)."""
    cls = get_op(name)
    return cls(cls.Params(**params))
