"""CLI verbs of the annotation studio: ``tuneprep studio init|user|project|token|serve|export``.

The commands live with the studio (``tuneprep.studio.cli``); this module registers them here
like every other verb group.
"""

from __future__ import annotations

from tuneprep.studio.cli import register

__all__ = ["register"]
