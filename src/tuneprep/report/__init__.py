"""Self-contained HTML report (``build_report``): inline CSS and SVG, opens offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(out_html: str | Path, eval_dirs: Any = (), compare: Any = None, prep_dir: str | Path | None = None,
                 train_dir: str | Path | None = None, title: str | None = None, top_k: int = 15) -> Path:
    """Write one report covering eval dirs, a comparison, data preparation and training.

    See ``tuneprep.report.html.build_report`` (imported lazily to keep ``tuneprep --help`` fast).
    """
    from tuneprep.report.html import build_report as _build

    return _build(out_html, eval_dirs=eval_dirs, compare=compare, prep_dir=prep_dir, train_dir=train_dir,
                  title=title, top_k=top_k)


__all__ = ["build_report"]
