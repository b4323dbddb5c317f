"""Small inline-SVG charts for the report: no JavaScript, no external files, print-friendly.

Each function returns an ``<svg>`` string sized by its ``viewBox`` (it scales with the page).
Every chart carries a ``<title>`` so a screen reader (and a test) can tell what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ["#3b6fb6", "#e07b39", "#3f9a5b", "#c9434b", "#7a5ab8", "#2a9d9f", "#b5892d", "#8a8f98"]
INK = "#1f2430"
MUTED = "#6b7280"
GRID = "#e5e7eb"
FONT = "font-family=\"Inter, 'Segoe UI', Helvetica, Arial, sans-serif\""


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _svg(width: int, height: int, body: list[str], title: str, cls: str) -> str:
    return (f'<svg class="chart {cls}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 12, fill: str = INK,
          weight: str = "normal", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}" {extra}>{escape(s)}</text>')


def _trunc(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _label(x: float, y: float, s: str, n: int, anchor: str = "end", size: int = 12, fill: str = INK,
           weight: str = "600", extra: str = "") -> str:
    """A class name shown whole: wrapped into lines of about ``n`` characters (centred on ``y``),
    with the full name as a tooltip. Names are never cut: "Limitation of liability" must not
    read "Limitation of lia…"."""
    import textwrap

    lines = textwrap.wrap(s, n, break_long_words=True) or [s]
    first = y - (len(lines) - 1) * (size + 1) / 2
    spans = "".join(f'<tspan x="{x:.1f}" y="{first + i * (size + 1):.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text x="{x:.1f}" y="{first:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}" {extra}><title>{escape(s)}</title>{spans}</text>')


def grouped_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
                 title: str, value_max: float = 1.0, fmt: str = "{:.2f}") -> str:
    """Horizontal grouped bars: one group per category, one bar per series (0..value_max)."""
    left, right, top = 130, 50, 10
    bar_h, gap = 16, 14
    n_s = max(1, len(series))
    group_h = n_s * bar_h + gap
    width = 640
    plot_w = width - left - right
    height = top + len(categories) * group_h + 30
    body = []
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * t
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 24}" stroke="{GRID}"/>')
        body.append(_text(x, height - 8, fmt.format(t * value_max).rstrip("0").rstrip(".") if t else "0",
                          "middle", 11, MUTED))
    for ci, cat in enumerate(categories):
        y0 = top + ci * group_h
        body.append(_label(left - 8, y0 + n_s * bar_h / 2 + 4, cat, 18))
        for si, (name, vals) in enumerate(series):
            v = vals[ci]
            y = y0 + si * bar_h
            if v is None:
                body.append(_text(left + 4, y + bar_h - 4, "n/a", "start", 11, MUTED))
                continue
            w = max(0.0, min(1.0, v / value_max)) * plot_w
            body.append(f'<rect x="{left}" y="{y + 1}" width="{w:.1f}" height="{bar_h - 3}" rx="2" '
                        f'fill="{color(si)}"><title>{escape(name)} · {escape(cat)}: {fmt.format(v)}</title></rect>')
            body.append(_text(left + w + 4, y + bar_h - 4, fmt.format(v), "start", 11, INK))
    return _svg(width, height, body, title, "bars")


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str,
            extra_col: Sequence[int] | None = None, extra_name: str = "unparseable") -> str:
    """Confusion matrix: rows = gold, columns = predicted; colour = share of the row."""
    k = len(labels)
    cols = list(labels) + ([extra_name] if extra_col is not None else [])
    cell = max(34, min(64, 420 // max(1, len(cols))))
    left, top = 120, 90
    width = left + cell * len(cols) + 20
    height = top + cell * k + 40
    body = [_text(left + cell * len(cols) / 2, 16, "predicted", "middle", 12, MUTED, "600"),
            _text(14, top + cell * k / 2, "gold", "middle", 12, MUTED, "600",
                  f'transform="rotate(-90 14 {top + cell * k / 2:.1f})"')]
    for j, lab in enumerate(cols):
        x = left + j * cell + cell / 2
        body.append(_label(x, top - 8, lab, 14, "start", 11, extra=f'transform="rotate(-40 {x:.1f} {top - 8})"'))
    for i, lab in enumerate(labels):
        row = list(matrix[i]) + ([extra_col[i]] if extra_col is not None else [])
        tot = sum(row) or 1
        body.append(_label(left - 8, top + i * cell + cell / 2 + 4, lab, 16))
        for j, v in enumerate(row):
            share = v / tot
            diag = j == i
            base = (59, 111, 182) if diag else (201, 67, 75)
            alpha = 0.08 + 0.85 * share if v else 0.0
            fill = f"rgba({base[0]},{base[1]},{base[2]},{alpha:.3f})"
            x, y = left + j * cell, top + i * cell
            body.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}" '
                        f'stroke="{GRID}"><title>gold {escape(lab)} → predicted {escape(cols[j])}: {v} '
                        f'({share:.0%} of row)</title></rect>')
            txt_fill = "#ffffff" if alpha > 0.55 else INK
            body.append(_text(x + cell / 2 - 1, y + cell / 2 + 1, str(v), "middle", 12, txt_fill, "600"))
            if cell >= 44:
                body.append(_text(x + cell / 2 - 1, y + cell / 2 + 14, f"{share:.0%}", "middle", 9, txt_fill))
    return _svg(width, height, body, title, "heatmap")


def reliability(series: Sequence[tuple[str, Sequence[tuple[float, float, int]], float]], title: str) -> str:
    """Reliability diagram: per series, bins of (mean confidence, accuracy, count) and the ECE."""
    left, top, size = 50, 14, 300
    width, height = left + size + 190, top + size + 46
    body = []
    for t in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x, y = left + size * t, top + size * (1 - t)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + size}" stroke="{GRID}"/>')
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + size}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(x, top + size + 16, f"{t:.1f}", "middle", 11, MUTED))
        body.append(_text(left - 6, y + 4, f"{t:.1f}", "end", 11, MUTED))
    body.append(f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" stroke="{MUTED}" '
                f'stroke-dasharray="4 4"/>')
    body.append(_text(left + size / 2, top + size + 36, "confidence (probability of the predicted label)",
                      "middle", 11, MUTED))
    body.append(_text(12, top + size / 2, "accuracy", "middle", 11, MUTED, "normal",
                      f'transform="rotate(-90 12 {top + size / 2:.1f})"'))
    for si, (name, bins, ece) in enumerate(series):
        pts = [(left + size * c, top + size * (1 - a), n) for c, a, n in bins if n > 0]
        if pts:
            path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _) in enumerate(pts))
            body.append(f'<path d="{path}" fill="none" stroke="{color(si)}" stroke-width="2"/>')
        for (x, y, n), (c, a, _) in zip(pts, [b for b in bins if b[2] > 0]):
            r = 3 + min(6, n ** 0.5 / 2)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color(si)}" fill-opacity="0.8">'
                        f"<title>{escape(name)}: confidence {c:.2f}, accuracy {a:.2f}, {n} records</title></circle>")
        ly = top + 10 + si * 36
        body.append(f'<rect x="{left + size + 20}" y="{ly - 9}" width="12" height="12" rx="2" fill="{color(si)}"/>')
        body.append(_text(left + size + 38, ly + 1, _trunc(name, 22), "start", 12, INK, "600"))
        body.append(_text(left + size + 38, ly + 16, f"ECE {ece:.3f}", "start", 11, MUTED))
    return _svg(width, height, body, title, "reliability")


def line_chart(series: Sequence[tuple[str, Sequence[tuple[float, float]]]], title: str, x_label: str,
               y_label: str) -> str:
    """Line chart of one or more (x, y) series (e.g. training loss per step)."""
    left, top, right, bottom = 56, 14, 150, 40
    width, height = 680, 280
    pw, ph = width - left - right, height - top - bottom
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    if not xs:
        return _svg(width, 60, [_text(10, 30, "no data", "start", 12, MUTED)], title, "line")
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(ys)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    y1 *= 1.05

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    body = []
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        body.append(f'<line x1="{left}" y1="{sy(yv):.1f}" x2="{left + pw}" y2="{sy(yv):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, sy(yv) + 4, f"{yv:.2f}", "end", 11, MUTED))
    # integer x ticks placed at their own value (steps are integers)
    span = x1 - x0
    step = max(1, round(span / 5)) if span > 5 else 1
    ticks = sorted({int(round(x0))} | set(range(int(-(-x0 // step) * step), int(x1) + 1, step)))
    for xv in ticks:
        if x0 <= xv <= x1:
            body.append(_text(sx(xv), top + ph + 16, f"{xv:,}", "middle", 11, MUTED))
    body.append(_text(left + pw / 2, height - 6, x_label, "middle", 11, MUTED))
    body.append(_text(14, top + ph / 2, y_label, "middle", 11, MUTED, "normal",
                      f'transform="rotate(-90 14 {top + ph / 2:.1f})"'))
    for si, (name, pts) in enumerate(series):
        if not pts:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
        body.append(f'<path d="{path}" fill="none" stroke="{color(si)}" stroke-width="2" '
                    f'stroke-linejoin="round"/>')
        if len(pts) <= 40:
            for x, y in pts:
                body.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color(si)}">'
                            f"<title>{escape(name)} step {x:g}: {y:.4f}</title></circle>")
        ly = top + 10 + si * 20
        body.append(f'<rect x="{left + pw + 16}" y="{ly - 9}" width="12" height="12" rx="2" fill="{color(si)}"/>')
        body.append(_text(left + pw + 34, ly + 1, _trunc(name, 16), "start", 12, INK))
    return _svg(width, height, body, title, "line")


def funnel(steps: Sequence[tuple[str, int, int, str]], title: str) -> str:
    """Records per data step: kept (bar) and dropped (red tail), with the drop reasons."""
    left, right, top, row = 170, 200, 8, 28
    width = 720
    pw = width - left - right
    height = top + row * len(steps) + 8
    mx = max((i for _, i, _, _ in steps), default=1) or 1
    body = []
    for k, (name, n_in, n_out, reasons) in enumerate(steps):
        y = top + k * row
        w_out = pw * n_out / mx
        w_drop = pw * max(0, n_in - n_out) / mx
        body.append(_text(left - 8, y + 17, _trunc(name, 24), "end", 12, INK, "600"))
        body.append(f'<rect x="{left}" y="{y + 4}" width="{w_out:.1f}" height="18" rx="2" fill="{PALETTE[0]}">'
                    f"<title>{escape(name)}: kept {n_out:,} of {n_in:,}</title></rect>")
        if w_drop > 0:
            body.append(f'<rect x="{left + w_out:.1f}" y="{y + 4}" width="{max(w_drop, 1.5):.1f}" height="18" rx="2" '
                        f'fill="{PALETTE[3]}"><title>{escape(name)}: dropped {n_in - n_out:,} ({escape(reasons)})'
                        f"</title></rect>")
        label = f"{n_out:,} kept" + (f" · {n_in - n_out:,} dropped" if n_in != n_out else "")
        body.append(_text(left + pw + 10, y + 17, label, "start", 11, INK if n_in == n_out else PALETTE[3]))
    return _svg(width, height, body, title, "funnel")
