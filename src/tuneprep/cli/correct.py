"""CLI verbs of data correction: ``tuneprep terms suggest`` and ``tuneprep diff`` (edits audit).

The commands live with the correction code (``tuneprep.correct.cli``); this module registers them
here like every other verb group.
"""

from __future__ import annotations

from tuneprep.correct.cli import register

__all__ = ["register"]
