"""The ``split`` block: seeded train/val/test assignment, stratified and/or grouped.

``method: exact`` (``assign_splits``): a pure function of (the keys of all records, the
fractions, the seed), so a rerun gives the same split; exact counts per stratum. Memory: one
small tuple per record (ids are not kept), all on the driver, two passes over the records.

``method: hash`` (``HashSplit``): a pure function of (the seed, one record): the seeded 64-bit hash
of the record's ``group_by`` value (else its id), over 2**64, falls in one of the cumulative
fraction intervals. One pass, no state, any record order: a group cannot straddle splits, and a
split's share is binomial, within about 2 * sqrt(f (1 - f) / n) of ``f`` for n records (wider with
big groups: the draws are per group). A derived id (``records.derive_id``) holds the input file's
absolute path, so an id-keyed split moves with the data; ``group_by: text`` hashes the content.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tuneprep.recipe import SplitConfig
from tuneprep.records import get_path, seeded_hash


def _value(record: dict[str, Any], field: str | None) -> str | None:
    if field is None:
        return None
    try:
        v = get_path(record, field)
    except KeyError:
        return None
    return "\x1f".join(map(str, v)) if isinstance(v, list) else (None if v is None else str(v))


def split_keys(record: dict[str, Any], cfg: SplitConfig) -> tuple[str | None, str | None]:
    """(stratum, group) of one record; a missing field gives None (its own stratum/group)."""
    return _value(record, cfg.stratify_by), _value(record, cfg.group_by)


def _allocate(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Integer counts per split summing to n (largest remainder)."""
    raw = {k: n * f for k, f in fractions.items()}
    counts = {k: int(v) for k, v in raw.items()}
    rest = n - sum(counts.values())
    for k in sorted(raw, key=lambda k: (raw[k] - counts[k], fractions[k]), reverse=True)[:rest]:
        counts[k] += 1
    return counts


def assign_splits(keys: Iterable[tuple[str | None, str | None]], cfg: SplitConfig) -> list[str]:
    """The split name of each record, in input order.

    Without ``group_by``: within each stratum, records are shuffled (seeded) and cut by the
    fractions. With ``group_by``: whole groups are shuffled and assigned, a group's stratum being
    that of its first record, so no group straddles two splits.
    """
    keys = list(keys)
    fractions = cfg.fractions()
    names = list(fractions)
    rng = random.Random(cfg.seed)
    out = [""] * len(keys)
    if cfg.group_by is None and cfg.dedup is None:
        strata: dict[str | None, list[int]] = defaultdict(list)
        for i, (stratum, _) in enumerate(keys):
            strata[stratum].append(i)
        for stratum in sorted(strata, key=lambda s: (s is None, s or "")):
            idx = strata[stratum]
            rng.shuffle(idx)
            counts = _allocate(len(idx), fractions)
            pos = 0
            for name in names:
                for i in idx[pos: pos + counts[name]]:
                    out[i] = name
                pos += counts[name]
        return out
    groups: dict[str, list[int]] = defaultdict(list)
    group_stratum: dict[str, str | None] = {}
    for i, (stratum, group) in enumerate(keys):
        g = group if group is not None else f"\x00row{i}"
        groups[g].append(i)
        group_stratum.setdefault(g, stratum)
    by_stratum: dict[str | None, list[str]] = defaultdict(list)
    for g, s in group_stratum.items():
        by_stratum[s].append(g)
    for stratum in sorted(by_stratum, key=lambda s: (s is None, s or "")):
        glist = sorted(by_stratum[stratum])
        rng.shuffle(glist)
        total = sum(len(groups[g]) for g in glist)
        target = {k: total * f for k, f in fractions.items()}
        filled = dict.fromkeys(names, 0)
        for g in glist:
            # The split furthest below its target (relative) takes the next group.
            name = max(names, key=lambda k: (target[k] - filled[k]) / (target[k] or 1))
            filled[name] += len(groups[g])
            for i in groups[g]:
                out[i] = name
    return out


HASH_TAG = "split"  # the draw's purpose in the hash input: independent of select.sample's with one seed


class HashSplit:
    """``method: hash``: the split of one record, from its hash alone (module docstring)."""

    def __init__(self, cfg: SplitConfig):
        self.cfg = cfg
        fractions = cfg.fractions()
        self.names = list(fractions)
        # Integer cuts of [0, 2**64): the hash is compared exactly, with no float rounding.
        self.cuts: list[int] = []
        total = 0.0
        for f in list(fractions.values())[:-1]:
            total += f
            self.cuts.append(int(total * 2**64))

    def key(self, record: dict[str, Any]) -> str:
        """What is hashed: the group (records of a group share it), else the record's id; tagged
        apart so that a group named like some id is still its own draw."""
        group = _value(record, self.cfg.group_by)
        return f"{HASH_TAG}\x00g\x00{group}" if group is not None else f"{HASH_TAG}\x00i\x00{record.get('id', '')}"

    def __call__(self, record: dict[str, Any]) -> str:
        h = seeded_hash(self.cfg.seed, self.key(record))
        for name, cut in zip(self.names[:-1], self.cuts, strict=True):
            if h < cut:
                return name
        return self.names[-1]  # the last split takes the rest


def realised_fractions(cfg: SplitConfig, counts: dict[str, int]) -> dict[str, Any]:
    """stats.json's ``split`` entry of a hash split: each split's expected and realised share of
    the records written, and the binomial 2-sigma half-width ``2 * sqrt(f (1 - f) / n)``."""
    n = sum(counts.get(k, 0) for k in cfg.fractions())
    out: dict[str, Any] = {"method": cfg.method, "seed": cfg.seed, "records": n, "splits": {}}
    for name, f in cfg.fractions().items():
        out["splits"][name] = {"expected": f, "realised": round(counts.get(name, 0) / n, 6) if n else 0.0,
                               "two_sigma": round(2 * (f * (1 - f) / n) ** 0.5, 6) if n else 0.0}
    return out
