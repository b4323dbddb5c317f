"""The work directory of a recipe run (``OUT/.work``): the one place that names its files.

    plan.json                      the shard plan (a rerun resumes only the same plan)
    shard-NNNNN.kept.jsonl         a shard's kept records after the per-record steps
    shard-NNNNN.rejects.<step>.jsonl  a shard's rejects per step
    shard-NNNNN.ids.u64            sorted id hashes of the kept records (duplicate-id check)
    shard-NNNNN.keys.jsonl         [key, id, position] of each kept record, grouped by a hash of
                                   the key, when the first global step is keys-only or ranked
                                   (engine/keyed.py decides from these alone; engine/keyfiles.py)
    shard-NNNNN.keys.idx           where each hash bucket of the keys file starts
    drops-GGGGG.jsonl              phase B (keyed.py): [position, reason, detail] of the records
                                   a group of buckets drops, shard by shard (ranked.py: of shard GGGGG)
    shard-NNNNN.ranks.jsonl        phase B (ranked.py): the shard's best [rank, position] pairs, sorted
    shard-NNNNN.done.json          the shard's stats; written last, it marks the shard done
    shard-NNNNN.out.<output>       phase B (keyed.py): a shard's output lines per output (data, or
                                   each split of a hash split), then
    shard-NNNNN.dropped.jsonl      its rejects of the global step, joined in shard order
    stage-N.jsonl                  records between global steps
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkDir:
    path: Path

    @classmethod
    def of(cls, out: Path) -> WorkDir:
        return cls(Path(out) / ".work")

    @property
    def plan(self) -> Path:
        return self.path / "plan.json"

    def shard_base(self, index: int) -> Path:
        return self.path / f"shard-{index:05d}"

    def kept(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.kept.jsonl")

    def rejects_prefix(self, index: int) -> str:
        return f"{self.shard_base(index)}.rejects."

    def ids(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.ids.u64")

    def keys(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.keys.jsonl")

    def keys_index(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.keys.idx")

    def drops(self, group: int) -> Path:
        return self.path / f"drops-{group:05d}.jsonl"

    def ranks(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.ranks.jsonl")

    def out_prefix(self, index: int) -> str:
        """A shard's output pieces: this plus the output's name (``data``, ``train``, ...)."""
        return f"{self.shard_base(index)}.out."

    def dropped_piece(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.dropped.jsonl")

    def done(self, index: int) -> Path:
        return Path(f"{self.shard_base(index)}.done.json")

    def stage(self, n: int) -> Path:
        return self.path / f"stage-{n}.jsonl"
