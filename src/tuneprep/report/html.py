"""The self-contained HTML report: one file, inline CSS and SVG, no scripts, opens offline.

Sections (each only when its input exists): headline metrics with 95% intervals, comparison
of runs (paired differences, McNemar), per-class F1, confusion matrices, calibration,
training loss, data preparation (records kept/rejected per step), leakage check, top errors.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import tuneprep.report.svg as svg
from tuneprep.io.writers import atomic_open
from tuneprep.report.inputs import EvalView, PrepView, TrainView
from tuneprep.report.theme import CSS

N_BINS = 10


def _pct(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{100 * float(v):.{digits}f}"


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{float(v):.{digits}f}"


def calibration_bins(preds: Sequence[Mapping[str, Any]], n_bins: int = N_BINS) -> tuple[list[tuple[float, float, int]], float]:
    """Equal-width confidence bins (mean confidence, accuracy, count) and the expected calibration error."""
    rows = [(float(p["confidence"]), p.get("prediction") == p.get("gold")) for p in preds
            if isinstance(p.get("confidence"), (int, float))]
    if not rows:
        return [], float("nan")
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for c, ok in rows:
        bins[min(n_bins - 1, int(c * n_bins))].append((c, ok))
    out = []
    ece = 0.0
    for b in bins:
        if not b:
            out.append((0.0, 0.0, 0))
            continue
        conf = sum(c for c, _ in b) / len(b)
        acc = sum(1 for _, ok in b if ok) / len(b)
        ece += abs(acc - conf) * len(b) / len(rows)
        out.append((conf, acc, len(b)))
    return out, ece


def _ci(m: Mapping[str, Any], key: str) -> str:
    ci = (m.get("ci95") or {}).get(key)
    if not ci or len(ci) != 2:
        return ""
    return f'<div class="ci">95% CI {_pct(ci[0])}–{_pct(ci[1])}</div>'


def _headline(evals: Sequence[EvalView]) -> str:
    cards = []
    for i, e in enumerate(evals):
        m = e.metrics
        if e.kind == "generation":
            tiles = [("Exact match", m.get("exact_match"), "exact_match"), ("Token F1", m.get("token_f1"), "token_f1"),
                     ("ROUGE-L", m.get("rouge_l"), "rouge_l")]
        else:
            tiles = [("Accuracy", m.get("accuracy"), "accuracy"), ("Macro F1", m.get("f1_macro"), "f1_macro"),
                     ("Weighted F1", m.get("f1_weighted"), None)]
        tile_html = "".join(
            f'<div class="tile"><div class="tile-label">{escape(lbl)}</div>'
            f'<div class="tile-value">{_pct(v)}<span class="unit">%</span></div>{_ci(m, key) if key else ""}</div>'
            for lbl, v, key in tiles)
        info = e.info
        base = m.get("baselines") or {}
        if base:
            maj, uni = base["majority"], base["uniform"]
            tile_html += (f'<div class="tile baseline"><div class="tile-label">Baselines</div><div class="ci">'
                          f'majority class ({escape(str(maj["label"]))}): accuracy {_pct(maj["accuracy"])}%, macro F1 '
                          f'{_pct(maj["f1_macro"])}%<br>uniform random: accuracy {_pct(uni["accuracy"])}%, '
                          f'macro F1 {_pct(uni["f1_macro"])}%</div></div>')
        facts = [f"{m.get('n', '?'):,} test records" if isinstance(m.get("n"), int) else None,
                 f"method {info.get('method')}" if info.get("method") else None,
                 info.get("sample"),
                 f"{(m.get('unparseable') or {}).get('count')} unparseable predictions (counted wrong)"
                 if m.get("unparseable") else None,
                 f"peak RSS {info['peak_rss_mb']:,.0f} MiB" if info.get("peak_rss_mb") else None,
                 f"{info['seconds']['per_record'] * 1000:.0f} ms/record" if (info.get("seconds") or {}).get("per_record")
                 else None]
        fact_html = " · ".join(escape(f) for f in facts if f)
        cards.append(f'<div class="card run-card"><div class="run-head"><span class="swatch" '
                     f'style="background:{svg.color(i)}"></span><h3>{escape(e.name)}</h3>'
                     f'<span class="model">{escape(str(info.get("model", "")))}</span></div>'
                     f'<div class="tiles">{tile_html}</div><div class="facts">{fact_html}</div></div>')
    return f'<section id="headline"><h2>Headline metrics</h2><div class="cards">{"".join(cards)}</div></section>'


def _compare_section(cmp: Mapping[str, Any] | None) -> str:
    if not cmp:
        return ""
    rows = []
    for d in cmp.get("differences", []):
        keys = [k for k in ("accuracy", "f1_macro", "exact_match", "token_f1", "rouge_l") if k in d]
        for k in keys:
            x = d[k]
            sig = x.get("significant")
            cls = "pos" if sig and x["diff"] > 0 else "neg" if sig and x["diff"] < 0 else ""
            rows.append(f"<tr><td>{escape(d['other'])} − {escape(d['baseline'])}</td><td>{escape(k)}</td>"
                        f'<td class="num {cls}">{x["diff"] * 100:+.1f} pts</td>'
                        f'<td class="num">[{x["ci95"][0] * 100:+.1f}, {x["ci95"][1] * 100:+.1f}]</td>'
                        f"<td>{'yes' if sig else 'no'}</td></tr>")
        mc = d.get("mcnemar", {})
        rows.append(f'<tr class="mc"><td colspan="5">McNemar ({"exact binomial" if mc.get("exact") else "χ² with continuity correction"}): '
                    f"{mc.get('only_other_correct', 0)} records only {escape(d['other'])} gets right, "
                    f"{mc.get('only_baseline_correct', 0)} only {escape(d['baseline'])} gets right; "
                    f"p = {_pvalue(mc.get('pvalue'))}</td></tr>")
    head = ("<tr><th>difference</th><th>metric</th><th class='num'>Δ</th><th class='num'>paired bootstrap 95% CI</th>"
            "<th>significant</th></tr>")
    return (f'<section id="compare"><h2>Comparison</h2><p class="lead">Same {cmp.get("n", 0):,} test ids in every run; '
            f'differences are run − baseline, with paired bootstrap intervals ({cmp.get("n_boot", 0)} resamples, '
            f'seed {cmp.get("seed", 0)}).</p><div class="card"><table>{head}{"".join(rows)}</table></div></section>')


def _pvalue(p: Any) -> str:
    if p is None:
        return "–"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _per_class(evals: Sequence[EvalView]) -> str:
    cls = [e for e in evals if e.kind == "classification" and e.metrics.get("per_class")]
    if not cls:
        return ""
    labels = list(cls[0].metrics["per_class"])
    for e in cls[1:]:
        labels += [lab for lab in e.metrics["per_class"] if lab not in labels]
    series = [(e.name, [(e.metrics["per_class"].get(lab) or {}).get("f1") for lab in labels]) for e in cls]
    chart = svg.grouped_bars(labels, series, "F1 per class")
    legend = "".join(f'<span class="legend"><span class="swatch" style="background:{svg.color(i)}"></span>'
                     f"{escape(e.name)}</span>" for i, e in enumerate(cls))
    head = "<tr><th>class</th><th class='num'>support</th>" + "".join(
        f'<th colspan="3" class="num">{escape(e.name)}<div class="sub">P · R · F1</div></th>' for e in cls) + "</tr>"
    body = []
    for lab in labels:
        sup = next(((e.metrics["per_class"].get(lab) or {}).get("support") for e in cls), "")
        cells = "".join(
            "".join(f'<td class="num">{_pct((e.metrics["per_class"].get(lab) or {}).get(k))}</td>'
                    for k in ("precision", "recall", "f1")) for e in cls)
        body.append(f"<tr><td>{escape(lab)}</td><td class='num'>{sup}</td>{cells}</tr>")
    return (f'<section id="per-class"><h2>Per-class results</h2><div class="card"><div class="legend-row">{legend}'
            f'</div>{chart}</div><div class="card"><table class="compact">{head}{"".join(body)}</table></div></section>')


def _confusion(evals: Sequence[EvalView]) -> str:
    parts = []
    for e in evals:
        cm = e.metrics.get("confusion_matrix") or {}
        if e.kind != "classification" or not cm.get("labels") or cm.get("kind"):
            continue
        chart = svg.heatmap(cm["labels"], cm["matrix"], f"Confusion matrix of {e.name}", cm.get("unparseable"))
        parts.append(f'<div class="card"><h3>{escape(e.name)}</h3>{chart}</div>')
    if not parts:
        return ""
    return ('<section id="confusion"><h2>Confusion matrices</h2><p class="lead">Rows are gold labels, columns '
            'predictions; colour is the share of the row (blue: correct, red: confused).</p>'
            f'<div class="grid">{"".join(parts)}</div></section>')


def _calibration(evals: Sequence[EvalView]) -> str:
    series = []
    for e in evals:
        bins, ece = calibration_bins(e.preds)
        if bins:
            series.append((e.name, bins, ece))
    if not series:
        return ""
    chart = svg.reliability(series, "Reliability diagram")
    return ('<section id="calibration"><h2>Calibration</h2><p class="lead">Accuracy against the model\'s confidence '
            f'in {N_BINS} equal-width bins (dot size ∝ records). On the dashed diagonal, confidence can be read as '
            f'a probability. ECE = expected calibration error.</p><div class="card narrow">{chart}</div></section>')


def _training(train: TrainView | None) -> str:
    if train is None:
        return ""
    log = train.log
    loss: list[tuple[float, float]] = []
    eval_loss: list[tuple[float, float]] = []
    for i, row in enumerate(log):
        step = row.get("step", i + 1)
        if not isinstance(step, (int, float)):
            continue
        if isinstance(row.get("loss"), (int, float)):
            loss.append((float(step), float(row["loss"])))
        if isinstance(row.get("eval_loss"), (int, float)):
            eval_loss.append((float(step), float(row["eval_loss"])))
    cfg = train.config
    opts = cfg.get("train") if isinstance(cfg.get("train"), dict) else {}
    summary = train.summary
    merged = {**opts, **{k: v for k, v in cfg.items() if not isinstance(v, (dict, list))}, **{
        k: v for k, v in summary.items() if not isinstance(v, (dict, list))}}
    facts = []
    for key in ("base_model", "model", "method", "epochs", "max_steps", "lr", "learning_rate", "batch_size", "lora_r",
                "max_length", "limit", "seed", "steps", "train_seconds", "tokens_per_second", "peak_rss_mb"):
        v = merged.get(key)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            shown = f"{v:,.1f}" if isinstance(v, float) and key in ("train_seconds", "tokens_per_second",
                                                                      "peak_rss_mb") else str(v)
            facts.append(f"<dt>{escape(key.replace('_', ' '))}</dt><dd>{escape(shown)}</dd>")
    series = [("train loss", loss)] + ([("eval loss", eval_loss)] if eval_loss else [])
    chart = svg.line_chart(series, "Training loss", "step", "loss") if loss else '<p class="muted">no loss log</p>'
    facts_html = f'<dl class="facts-list">{"".join(facts)}</dl>' if facts else ""
    return (f'<section id="training"><h2>Training</h2><div class="card"><div class="muted small">'
            f'{escape(str(train.dir))}</div>{chart}{facts_html}</div></section>')


def _data(prep: PrepView | None) -> str:
    if prep is None:
        return ""
    stats = prep.stats
    if not isinstance(stats, dict) or not isinstance(stats.get("steps"), list):
        return ""
    steps = []
    rows = []
    for s in stats["steps"]:
        if not isinstance(s, dict):
            continue
        n_in, n_out = int(s.get("in", 0) or 0), int(s.get("out", 0) or 0)
        dropped = s.get("dropped") or {}
        reasons = ", ".join(f"{k}: {v:,}" for k, v in dropped.items()) if isinstance(dropped, dict) else ""
        steps.append((str(s.get("step", "?")), n_in, n_out, reasons))
        rows.append(f"<tr><td>{escape(str(s.get('step', '?')))}</td><td class='num'>{n_in:,}</td>"
                    f"<td class='num'>{n_out:,}</td><td class='num'>{n_in - n_out:,}</td><td>{escape(reasons)}</td>"
                    f"<td class='num'>{_num(s.get('seconds'), 2)}</td></tr>")
    inv = ""
    if {"records_in", "kept", "rejected"} <= set(stats):
        ok = stats["records_in"] == stats["kept"] + stats["rejected"]
        inv = (f'<p class="{"ok" if ok else "bad"}">records in {stats["records_in"]:,} = kept {stats["kept"]:,} + '
               f'rejected {stats["rejected"]:,} {"✓" if ok else "✗"}</p>')
    splits = stats.get("splits")
    if isinstance(splits, dict) and splits:
        inv += '<p class="muted">splits: ' + ", ".join(f"{escape(str(k))} {v:,}" for k, v in splits.items()) + "</p>"
    man = prep.manifest
    prov = ""
    if isinstance(man, dict):
        bits = []
        if man.get("recipe_hash"):
            bits.append(f"recipe {escape(str(man['recipe_hash']))}")
        if man.get("version"):
            bits.append(f"{escape(str(man.get('tool', 'tuneprep')))} {escape(str(man['version']))}")
        for inp in (man.get("inputs") or [])[:3]:
            if isinstance(inp, dict) and inp.get("path"):
                sha = str(inp.get("sha256") or "")[:12]
                bits.append(f"input {escape(Path(str(inp['path'])).name)}" + (f" (sha256 {escape(sha)}…)" if sha else ""))
        if man.get("created"):
            bits.append(f"created {escape(str(man['created']))}")
        prov = f'<div class="muted small">{" · ".join(bits)}</div>' if bits else ""
    head = ("<tr><th>step</th><th class='num'>in</th><th class='num'>out</th><th class='num'>dropped</th><th>reasons</th>"
            "<th class='num'>seconds</th></tr>")
    return (f'<section id="data"><h2>Data preparation</h2><div class="card"><div class="muted small">'
            f'{escape(str(prep.dir))}</div>{prov}{inv}{svg.funnel(steps, "Records kept and dropped per step")}</div>'
            f'<div class="card"><table class="compact">{head}{"".join(rows)}</table></div></section>')


def _leakage(evals: Sequence[EvalView]) -> str:
    rows = []
    for e in evals:
        lk = e.info.get("leakage")
        if not isinstance(lk, dict):
            continue
        cnt = lk.get("overlap_count", 0)
        ids = lk.get("leaked_ids") or []
        detail = escape(", ".join(map(str, ids[:15])) + (f" … (+{len(ids) - 15})" if len(ids) > 15 else "")) or escape(
            str(lk.get("note", "")))
        rows.append(f"<tr><td>{escape(e.name)}</td><td class='num'>{lk.get('n_train', 0):,}</td>"
                    f"<td class='num {'neg' if cnt else ''}'>{cnt}</td><td class='num'>{lk.get('exact_count', 0)}</td>"
                    f"<td class='num'>{lk.get('near_count', 0)}</td><td class='small'>{detail}</td></tr>")
    if not rows:
        return ""
    head = ("<tr><th>run</th><th class='num'>training records checked</th><th class='num'>overlapping test records</th>"
            "<th class='num'>exact</th><th class='num'>near-dup</th><th>ids</th></tr>")
    return ('<section id="leakage"><h2>Held-out check</h2><p class="lead">Test records found in the training data '
            '(normalised text; near-duplicates at character 5-gram Jaccard ≥ 0.8).</p>'
            f'<div class="card"><table class="compact">{head}{"".join(rows)}</table></div></section>')


def _errors(evals: Sequence[EvalView], top_k: int) -> str:
    parts = []
    for e in evals:
        ea = e.error_analysis
        if e.kind == "generation":
            worst = sorted(e.preds, key=lambda p: p.get("rouge_l", 0.0))[:top_k]
            if not worst:
                continue
            rows = "".join(
                f"<tr><td class='small'>{escape(str(p.get('id')))}</td><td class='txt'>{escape(str(p.get('prompt', ''))[:200])}</td>"
                f"<td class='txt'>{escape(str(p.get('reference', ''))[:200])}</td><td class='txt'>"
                f"{escape(str(p.get('prediction', ''))[:200])}</td><td class='num'>{_num(p.get('rouge_l'), 2)}</td></tr>"
                for p in worst)
            parts.append(f'<div class="card"><h3>{escape(e.name)}: lowest ROUGE-L</h3><table><tr><th>id</th><th>prompt</th>'
                         f'<th>reference</th><th>answer</th><th>ROUGE-L</th></tr>{rows}</table></div>')
            continue
        if ea is None:
            continue
        pairs = "".join(f"<tr><td>{escape(str(p['gold']))}</td><td>{escape(str(p['predicted']))}</td>"
                        f"<td class='num'>{p['count']}</td><td class='num'>{_pct(p['share_of_errors'], 0)}%</td></tr>"
                        for p in ea.get("confusion_pairs", [])[:6])
        top = "".join(
            f"<tr><td class='num'>{t['rank']}</td><td class='id'>{escape(str(t['id']))}</td>"
            f"<td class='txt'>{escape(str(t.get('text', ''))[:220])}</td><td>{escape(str(t['gold']))}</td>"
            f"<td>{escape(str(t['predicted']))}</td><td class='num'>{_num(t.get('confidence'), 2)}</td>"
            f"<td class='small'>{escape(str(t.get('why', '')))}</td></tr>"
            for t in ea.get("top_errors", [])[:top_k])
        parts.append(
            f'<div class="card"><h3>{escape(e.name)}: {ea.get("errors", 0):,} errors of {ea.get("n", 0):,}</h3>'
            f'<div class="split"><div><h4>Confusions that matter</h4><table class="compact"><tr><th>gold</th><th>predicted</th>'
            f'<th>count</th><th>share of errors</th></tr>{pairs}</table></div></div>'
            f'<h4>Top errors by confidence (review queue: review.jsonl)</h4><table class="errors"><tr><th>#</th><th>id</th>'
            f'<th>text</th><th>gold</th><th>predicted</th><th>conf.</th><th>why</th></tr>{top}</table></div>')
    if not parts:
        return ""
    return f'<section id="errors"><h2>Errors</h2>{"".join(parts)}</section>'


def _details(evals: Sequence[EvalView]) -> str:
    rows = []
    for e in evals:
        i = e.info
        tpl = i.get("template") or {}
        rows.append(f"<tr><td>{escape(e.name)}</td><td class='small'>{escape(str(i.get('model', '')))}</td>"
                    f"<td class='small'>{escape(', '.join(i.get('test_files') or []) or str(i.get('data', '')))}</td>"
                    f"<td>{escape(str(i.get('method', '')))}</td>"
                    f"<td class='small'>{escape(', '.join(f'{k}→{v}' for k, v in (tpl.get('verbalizers') or {}).items()))}</td>"
                    f"<td class='num'>{_num((i.get('seconds') or {}).get('total'), 1)}</td>"
                    f"<td class='num'>{_num(i.get('peak_rss_mb'), 0)}</td></tr>")
    head = ("<tr><th>run</th><th>model</th><th>test data</th><th>method</th><th>verbalizers</th><th>seconds</th>"
            "<th>peak RSS MiB</th></tr>")
    return f'<section id="details"><h2>Run details</h2><div class="card"><table>{head}{"".join(rows)}</table></div></section>'


def render_report(out_html: str | Path, evals: Sequence[EvalView] = (), compare: Mapping[str, Any] | None = None,
                  prep: PrepView | None = None, train: TrainView | None = None, title: str | None = None,
                  top_k: int = 15) -> Path:
    """Write one self-contained HTML report of what it is given; returns its path.

    ``evals``: loaded evaluations (e.g. base vs tuned); ``compare``: a ``compare_runs`` result;
    ``prep``: a recipe run's stats and manifest; ``train``: a training run's log and config.
    Sections without input are left out. ``tuneprep.api.build_report`` loads these from
    directories and runs the comparison.
    """
    cmp = compare
    title = title or ("tuneprep report: " + " vs ".join(e.name for e in evals) if evals else "tuneprep report")
    nav = [("headline", "Metrics"), ("compare", "Comparison"), ("per-class", "Per class"), ("confusion", "Confusion"),
           ("calibration", "Calibration"), ("training", "Training"), ("data", "Data"), ("leakage", "Held-out"),
           ("errors", "Errors"), ("details", "Details")]
    sections = [
        _headline(evals) if evals else "",
        _compare_section(cmp),
        _per_class(evals),
        _confusion(evals),
        _calibration(evals),
        _training(train),
        _data(prep),
        _leakage(evals),
        _errors(evals, top_k),
        _details(evals) if evals else "",
    ]
    present = [(a, t) for (a, t), s in zip(nav, sections) if s]
    nav_html = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in present)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header><div class="brand">tuneprep</div><h1>{escape(title)}</h1>'
        f'<div class="meta">generated {now}</div><nav>{nav_html}</nav></header><main>'
        + "".join(sections)
        + '</main><footer>Self-contained report: no scripts, no external resources. '
          'Intervals are seeded percentile bootstraps over test records.</footer></body></html>\n'
    )
    out = Path(out_html)
    with atomic_open(out) as fh:
        fh.write(doc.encode("utf-8"))
    return out
