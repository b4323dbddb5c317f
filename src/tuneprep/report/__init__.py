"""Self-contained HTML report: inline CSS and SVG, opens offline. It renders only what it is
given (``render_report``); ``tuneprep.api.build_report`` loads run directories and compares."""

from __future__ import annotations

from tuneprep.report.html import render_report
from tuneprep.report.inputs import EvalView, PrepView, TrainView

__all__ = ["render_report", "EvalView", "PrepView", "TrainView"]
