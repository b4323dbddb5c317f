"""CLI verb ``tuneprep ablate``: which data decision helped (variants × seeds × budgets).

The command lives with the experiment runner (``tuneprep.ablate.cli``); this module registers it
here like every other verb group.
"""

from __future__ import annotations

from tuneprep.ablate.cli import register

__all__ = ["register"]
