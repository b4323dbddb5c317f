"""CLI verb ``tuneprep demo`` (registered into the main app by tuneprep.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the demo command. Keep heavy imports inside the command."""
