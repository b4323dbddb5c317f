"""CLI verbs of the annotate area (registered into the main app by tuneprep.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app. Keep heavy imports inside the commands."""
