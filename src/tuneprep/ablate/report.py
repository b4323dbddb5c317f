"""The ablation's HTML page, in the report's style (``report.theme.CSS``, inline SVG, no scripts):
the table (mean ± 95 % CI over seeds), the paired differences against the baseline with a forest
plot, and the learning curves (macro-F1 against the training budget, one line per variant)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from tuneprep.report.svg import GRID, INK, MUTED, _svg, _text, color, line_chart
from tuneprep.report.theme import CSS


def _ci(m: dict[str, Any] | None, digits: int = 3) -> str:
    if not m:
        return "—"
    s = f"{m['mean']:.{digits}f}"
    if m.get("ci95"):
        lo, hi = m["ci95"]
        s += f' <span class="ci">[{lo:.{digits}f}, {hi:.{digits}f}]</span>'
    return s


def verdict(d: dict[str, Any]) -> str:
    """helped / harmed when the paired bootstrap CI of the macro-F1 difference excludes 0."""
    lo, hi = d["f1_macro"]["ci95"]
    return "helped" if lo > 0 else ("harmed" if hi < 0 else "no clear effect")


def forest_plot(rows: Sequence[tuple[str, float, float, float]], title: str) -> str:
    """Differences with their 95 % intervals, one row each, against a zero line."""
    left, right, top, row_h = 220, 90, 24, 26
    width = 720
    height = top + row_h * max(1, len(rows)) + 34
    pw = width - left - right
    lo_all = min([r[2] for r in rows] + [0.0])
    hi_all = max([r[3] for r in rows] + [0.0])
    pad = (hi_all - lo_all) * 0.08 or 0.05
    x0, x1 = lo_all - pad, hi_all + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    body = [f'<line x1="{sx(0):.1f}" y1="{top - 8}" x2="{sx(0):.1f}" y2="{height - 28}" stroke="{INK}" '
            'stroke-dasharray="3,3"/>']
    for i in range(5):
        xv = x0 + (x1 - x0) * i / 4
        body.append(f'<line x1="{sx(xv):.1f}" y1="{top - 8}" x2="{sx(xv):.1f}" y2="{height - 28}" stroke="{GRID}"/>')
        body.append(_text(sx(xv), height - 14, f"{xv:+.2f}", "middle", 11, MUTED))
    for i, (name, diff, lo, hi) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        c = "#2f855a" if lo > 0 else ("#c9434b" if hi < 0 else MUTED)
        body.append(_text(left - 10, y + 4, name, "end", 12, INK))
        body.append(f'<line x1="{sx(lo):.1f}" y1="{y:.1f}" x2="{sx(hi):.1f}" y2="{y:.1f}" stroke="{c}" stroke-width="2"/>')
        body.append(f'<circle cx="{sx(diff):.1f}" cy="{y:.1f}" r="4.5" fill="{c}"><title>{escape(name)}: '
                    f'{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]</title></circle>')
        body.append(_text(left + pw + 8, y + 4, f"{diff:+.3f}", "start", 11, c))
    body.append(_text(left + pw / 2, height - 1, "difference in macro-F1 vs the baseline (95% paired bootstrap CI)",
                      "middle", 11, MUTED))
    return _svg(width, height, body, title, "forest")


def _table(res: dict[str, Any]) -> str:
    labels = sorted({lab for r in res["table"] for lab in r["per_class_f1"]})
    head = ("<tr><th>variant</th><th class=num>budget</th><th class=num>trained on</th><th class=num>seeds</th>"
            "<th class=num>macro-F1 <span class=sub>mean [95% CI]</span></th><th class=num>accuracy</th>"
            + "".join(f"<th class=num>F1 {escape(lab)}</th>" for lab in labels) + "</tr>")
    rows = []
    for r in res["table"]:
        rows.append(f"<tr><td>{escape(r['variant'])}</td><td class=num>{r['budget']:,}</td>"
                    f"<td class=num>{r['trained_on']:,.0f}</td><td class=num>{len(r['seeds'])}</td>"
                    f"<td class=num>{_ci(r['f1_macro'])}</td><td class=num>{_ci(r['accuracy'])}</td>"
                    + "".join(f"<td class=num>{_ci(r['per_class_f1'].get(lab), 2)}</td>" for lab in labels) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _diffs(res: dict[str, Any]) -> str:
    if not res["differences"]:
        return '<p class="muted">No variant shares a budget and seeds with the baseline.</p>'
    head = ("<tr><th>variant</th><th class=num>budget</th><th class=num>Δ macro-F1 <span class=sub>[95% CI]</span></th>"
            "<th class=num>Δ accuracy</th><th class=num>McNemar p</th><th class=num>only base right / only variant right</th>"
            "<th>verdict</th></tr>")
    rows = []
    for d in res["differences"]:
        f, a, mc = d["f1_macro"], d["accuracy"], d["mcnemar"]
        v = verdict(d)
        cls = "pos" if v == "helped" else ("neg" if v == "harmed" else "small")
        rows.append(f"<tr><td>{escape(d['variant'])}</td><td class=num>{d['budget']:,}</td>"
                    f"<td class=num>{f['diff']:+.3f} <span class=ci>[{f['ci95'][0]:+.3f}, {f['ci95'][1]:+.3f}]</span></td>"
                    f"<td class=num>{a['diff']:+.3f} <span class=ci>[{a['ci95'][0]:+.3f}, {a['ci95'][1]:+.3f}]</span></td>"
                    f"<td class=num>{mc['pvalue']:.2g}</td><td class=num>{mc['only_baseline_correct']} / "
                    f"{mc['only_other_correct']}</td><td class={cls}>{v}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def forest_svg(res: dict[str, Any]) -> str:
    """The forest plot of every variant's paired difference against the baseline."""
    return forest_plot([(f"{d['variant']} @ {d['budget']:,}", d["f1_macro"]["diff"], *d["f1_macro"]["ci95"])
                        for d in res["differences"]], "paired differences in macro-F1 against the baseline")


def curves_svg(res: dict[str, Any]) -> str:
    """Learning curves: mean macro-F1 over seeds against the training budget, one line per variant."""
    curves = [(v, [(float(r["budget"]), r["f1_macro"]["mean"]) for r in res["table"] if r["variant"] == v])
              for v in res["experiment"]["variants"]]
    return line_chart(curves, "macro-F1 by training budget", "training records (budget)", "macro-F1")


def write_report(res: dict[str, Any], out_html: str | Path) -> Path:
    exp = res["experiment"]
    title = f"tuneprep ablate: {exp['name']} ({res['model']}, {res['method']})"
    variants = list(exp["variants"])
    budgets = sorted({r["budget"] for r in res["table"]})
    forest = forest_svg(res)
    legend = "".join(f'<span class="legend"><span class="swatch" style="background:{color(i)}"></span>'
                     f"{escape(v)}</span>" for i, v in enumerate(variants))
    ts = res["test_set"]
    sections = [
        '<section id="table"><h2>Which data decision helped</h2>'
        f'<p class="lead">Every cell trains {escape(res["model"])} ({escape(res["method"])}) on a variant\'s data '
        f'and is scored on the same {ts["n"]:,} test records (the base recipe\'s test split, never touched by a '
        f'variant). Mean over seeds with the 95% t-interval.</p><div class="card">{_table(res)}</div></section>',
        '<section id="differences"><h2>Paired differences against the baseline '
        f'({escape(res["baseline"])})</h2><p class="lead">Same test ids, seeds pooled (each seed × record is a '
        'paired unit): percentile bootstrap interval and McNemar\'s test on per-record correctness.</p>'
        f'<div class="card">{forest}</div><div class="card">{_diffs(res)}</div></section>',
        '<section id="curves"><h2>Learning curves</h2>'
        + (f'<div class="card"><div class="legend-row">{legend}</div>'
           f'{curves_svg(res)}</div>'
           if len(budgets) > 1 else '<p class="muted">One budget only: add budgets for learning curves.</p>')
        + "</section>",
        '<section id="setup"><h2>Set-up</h2><div class="card"><dl class="facts-list">'
        f"<dt>test set</dt><dd>{ts['n']:,} records {escape(str(ts.get('labels')))}, sha256 {ts['sha256'][:16]}…</dd>"
        f"<dt>pool</dt><dd>{escape(str(ts.get('pool')))}</dd>"
        f"<dt>seeds</dt><dd>{escape(str(exp['seeds']))}</dd><dt>budgets</dt><dd>{escape(str(exp['budgets']))}</dd>"
        f"<dt>train options</dt><dd>{escape(str(exp['train']))}</dd>"
        f"<dt>cells</dt><dd>{res['cells']} ({res.get('cells_cached', 0)} from cache), {res.get('seconds', 0) / 60:.1f} min</dd>"
        "</dl></div></section>",
    ]
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (("table", "Table"), ("differences", "Differences"),
                                                         ("curves", "Learning curves"), ("setup", "Set-up")))
    doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
           f'<header><div class="brand">tuneprep</div><h1>{escape(title)}</h1>'
           f'<div class="meta">generated {now}</div><nav>{nav}</nav></header><main>' + "".join(sections)
           + "</main><footer>Self-contained page: no scripts, no external resources.</footer></body></html>\n")
    out = Path(out_html)
    from tuneprep.io.writers import atomic_open

    with atomic_open(out) as fh:
        fh.write(doc.encode("utf-8"))
    return out
