"""What the report renders: loaded results, no file access (docs/architecture.md, "report renders only").

``tuneprep.api.reporting`` reads eval directories, a recipe run and a training run into these
and calls ``render_report``; the report never opens a run directory itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EvalView:
    """One evaluation: its metrics, its run description (eval.json) and its predictions."""

    dir: Path
    name: str
    metrics: dict[str, Any]
    info: dict[str, Any]
    preds: list[dict[str, Any]]
    # error analysis of a classification eval (from eval.json, or computed by the loader)
    error_analysis: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return "generation" if self.metrics.get("kind") == "generation" else "classification"


@dataclass
class PrepView:
    """A recipe run: its stats.json and manifest.json (either may be None when unreadable)."""

    dir: Path
    stats: dict[str, Any] | None
    manifest: dict[str, Any] | None


@dataclass
class TrainView:
    """A training run: its log lines, config.json and metrics.json summary."""

    dir: Path
    log: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
