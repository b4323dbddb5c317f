"""Worker functions for tests/train/test_ddp.py, in a module light to import (each worker imports it)."""

from __future__ import annotations

import os


def fail_on_rank_1(cfg: str, **kw: object) -> str:
    """Rank 1 fails the way a bad input would; rank 0 finishes."""
    if os.environ["RANK"] == "1":
        raise ValueError(f"bad record in {cfg}")
    return "rank 0 result"
