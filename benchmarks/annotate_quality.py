"""Annotation quality on real data (Rotten Tomatoes, 3 classes), printed as a table and JSON.

* ``lexicon`` (VADER) vs ``knn`` (MiniLM, 100 random seed labels) vs ``ensemble`` (lexicon + knn:
  majority vote; Dawid–Skene on labels ("plain"); Dawid–Skene on (label, confidence tercile), the
  default; the same with a uniform class prior ("balanced")) in macro-F1 on held-out records (never
  the seeds), over several random draws of seeds and held-out records.
* ``annotate issues``: flip 10% of the labels of a real labeled set (seeded) and measure the
  precision/recall with which the flipped records are found.

The annotation defaults (kNN ``class_balance``, Dawid–Skene on confidence terciles) were chosen on
the Rotten Tomatoes draws; SST-2 (shared data, 2 classes) is reported next to it as a dataset that
was not used to choose them.

Usage: ``.venv/bin/python benchmarks/annotate_quality.py [--datasets rotten_tomatoes,sst2]
[--held-out 1000] [--issues-n 2000] [--agreement]``; writes ``benchmarks/results/annotate_quality.json``.
Embeddings are cached (tuneprep cache), so a second run is fast.
"""

from __future__ import annotations

import argparse
import random
import time

import orjson
from resultfile import Measurement


def _load_rt():
    from tuneprep.datasets import rotten_tomatoes

    with open(rotten_tomatoes(), "rb") as fh:
        return [orjson.loads(line) for line in fh]


def _macro_f1(gold, pred, labels):
    from sklearn.metrics import accuracy_score, f1_score

    pred = [p if p is not None else "__none__" for p in pred]
    return {"macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(gold, pred)),
            "coverage": sum(p != "__none__" for p in pred) / len(pred)}


def _load(dataset: str) -> tuple[list[dict] | None, list[str]]:
    """(records, label set). SST-2's 0/1 become negative/positive so the lexicon's label names apply."""
    from tuneprep.datasets import SENTIMENT_LABELS

    if dataset == "rotten_tomatoes":
        return _load_rt(), list(SENTIMENT_LABELS)
    recs = _load_sst2()
    if recs is None:
        return None, []
    names = {"0": "negative", "1": "positive"}
    return [{**r, "label": names[str(r["label"])]} for r in recs], ["negative", "positive"]


def quality(n_seeds: int, n_held_out: int, seed: int, dataset: str = "rotten_tomatoes") -> dict:
    """One random draw of seeds and held-out records; every method scored on the same held-out set."""
    from tuneprep.annotate.ensemble import EnsembleConfig, EnsembleLabeler
    from tuneprep.annotate.knn import KnnConfig, KnnLabeler
    from tuneprep.annotate.lexicon import LexiconConfig, LexiconLabeler

    recs, labels = _load(dataset)
    rng = random.Random(seed)
    order = list(range(len(recs)))
    rng.shuffle(order)
    seeds = [recs[i] for i in order[:n_seeds]]
    held = [recs[i] for i in order[n_seeds:n_seeds + n_held_out]]
    gold = [r["label"] for r in held]
    unl = [{k: v for k, v in r.items() if k != "label"} for r in held]
    # the ensemble sees the seeds as gold-labeled records (Dawid–Skene clamps them); a seed's kNN
    # vote comes from the other seeds only
    both = seeds + unl
    out: dict = {"dataset": dataset, "n_seeds": n_seeds, "n_held_out": len(held), "seed": seed}
    t = time.time()
    # Two classes: VADER's neutral band abstains instead of voting for a label the data does not have.
    lex_cfg = LexiconConfig() if "neutral" in labels else LexiconConfig(neutral_label=None)
    lex_votes = LexiconLabeler(lex_cfg, labels=labels).label(both)
    out["lexicon"] = _macro_f1(gold, [v.label for v in lex_votes[n_seeds:]], labels)
    out["lexicon"]["seconds"] = time.time() - t
    t = time.time()
    knn_votes = KnnLabeler(KnnConfig(k=10), labels, seeds=seeds).label(both)
    out["knn"] = _macro_f1(gold, [v.label for v in knn_votes[n_seeds:]], labels)
    out["knn"]["seconds"] = time.time() - t

    class _Fixed:  # reuse the votes computed above instead of labeling twice
        def __init__(self, votes):
            self.votes = votes

        def setup(self):
            pass

        def label(self, records):
            return self.votes

    variants = {"ensemble_majority": {"combine": "majority"},
                "ensemble_dawid_skene_plain": {"combine": "dawid-skene", "confidence_bins": 1},
                "ensemble_dawid_skene": {"combine": "dawid-skene"},  # default: 3 confidence bins
                "ensemble_dawid_skene_balanced": {"combine": "dawid-skene", "decision": "balanced"}}
    for name, cfg in variants.items():
        ens = EnsembleLabeler(EnsembleConfig(members=[{"method": "lexicon"}, {"method": "knn"}], **cfg),
                              labels, members=[("lexicon", _Fixed(lex_votes)), ("knn", _Fixed(knn_votes))])
        votes = ens.label(both)
        out[name] = _macro_f1(gold, [v.label for v in votes[n_seeds:]], labels)
    return out


METHODS = ("lexicon", "knn", "ensemble_majority", "ensemble_dawid_skene_plain", "ensemble_dawid_skene",
           "ensemble_dawid_skene_balanced")


def _load_sst2():
    """SST-2 (shared test data, research use): the first 5,000 training sentences, labels 0/1."""
    from tuneprep.datasets import shared_data_dir
    from tuneprep.io.readers import load_records

    d = shared_data_dir()
    if d is None:
        return None
    return load_records(d / "sst2" / "train_sample_5000.tsv", text_field="sentence", label_field="label")


def issues(n: int, seed: int, flip: float = 0.10, dataset: str = "rotten_tomatoes") -> dict:
    from tuneprep.annotate.issues import find_issues

    recs = _load_rt() if dataset == "rotten_tomatoes" else _load_sst2()
    if recs is None:
        return {"dataset": dataset, "skipped": "shared data absent"}
    rng = random.Random(seed + 1)
    sample = rng.sample(recs, n)
    labels = sorted({r["label"] for r in sample})
    flipped = set(rng.sample(range(n), int(round(flip * n))))
    noisy = []
    for i, r in enumerate(sample):
        r = dict(r)
        if i in flipped:
            r["label"] = rng.choice([lab for lab in labels if lab != r["label"]])
        noisy.append(r)
    t = time.time()
    queue, summary = find_issues(noisy, folds=5, seed=seed)
    ranked = [q["id"] for q in queue]
    found = set(ranked)
    flipped_ids = {sample[i]["id"] for i in flipped}
    tp = len(found & flipped_ids)
    top = ranked[:len(flipped_ids)]
    return {"dataset": dataset, "n": n, "flipped": len(flipped_ids), "flagged": len(found),
            "precision": tp / len(found) if found else None, "recall": tp / len(flipped_ids),
            "precision_at_n_flipped": len(set(top) & flipped_ids) / len(top) if top else None,
            "cv_accuracy_vs_noisy_labels": summary.get("cv_accuracy"), "seconds": time.time() - t}


def with_llm(n_seeds: int, n: int, seed: int) -> dict:
    """Adds the ``llm`` method (SmolLM2-135M zero-shot, verbalizer scoring) as a third ensemble
    member, on the first ``n`` held-out records of one draw (the LLM is the slow member)."""
    from tuneprep.annotate.ensemble import EnsembleConfig, EnsembleLabeler
    from tuneprep.annotate.knn import KnnConfig, KnnLabeler
    from tuneprep.annotate.lexicon import LexiconLabeler
    from tuneprep.annotate.llm import LlmConfig, LlmLabeler
    from tuneprep.datasets import SENTIMENT_LABELS as labels
    from tuneprep.models.runtime import peak_rss_mb

    recs = _load_rt()
    rng = random.Random(seed)
    order = list(range(len(recs)))
    rng.shuffle(order)
    seeds = [recs[i] for i in order[:n_seeds]]
    held = [recs[i] for i in order[n_seeds:n_seeds + n]]
    gold = [r["label"] for r in held]
    both = seeds + [{k: v for k, v in r.items() if k != "label"} for r in held]
    votes = {"lexicon": LexiconLabeler(labels=labels).label(both),
             "knn": KnnLabeler(KnnConfig(k=10), labels, seeds=seeds).label(both)}
    t = time.time()
    votes["llm"] = LlmLabeler(LlmConfig(), labels).label(both)
    llm_s = time.time() - t

    class _Fixed:
        def __init__(self, v):
            self.v = v

        def setup(self):
            pass

        def label(self, records):
            return self.v

    out: dict = {"n_held_out": n, "seed": seed, "llm_seconds": llm_s, "llm_seconds_per_record": llm_s / len(both),
                 "peak_rss_mb": peak_rss_mb()}
    for m, v in votes.items():
        out[m] = _macro_f1(gold, [x.label for x in v[n_seeds:]], labels)
    for name, members in {"ensemble_lexicon_knn": ["lexicon", "knn"],
                          "ensemble_lexicon_knn_llm": ["lexicon", "knn", "llm"]}.items():
        for combine in ("majority", "dawid-skene"):
            ens = EnsembleLabeler(EnsembleConfig(members=[{"method": m} for m in members], combine=combine), labels,
                                  members=[(m, _Fixed(votes[m])) for m in members])
            out[f"{name}_{combine}"] = _macro_f1(gold, [x.label for x in ens.label(both)[n_seeds:]], labels)
    return out


def agreement() -> dict:
    """Agreement of VADER's human raters per corpus: sign labels (nominal) and raw scores (interval).

    Rating slots stand in for annotators; only the identity-free statistics (percent agreement,
    Fleiss, Krippendorff) are meaningful for anonymous per-item rater lists (see vader_data).
    """
    from tuneprep.annotate import vader_data
    from tuneprep.annotate.agreement import agreement_report, build_judgements

    out = {}
    for corpus in vader_data.CORPORA:
        row = {"slot_test": vader_data.rater_position_test(corpus, n_perm=100)}
        for scale, level in (("sign", "nominal"), ("raw", "interval")):
            rep = agreement_report(build_judgements(vader_data.judgements(corpus, scale=scale), level))
            fl = rep["fleiss_kappa"]
            row[level] = {"n_items": rep["n_items"], "percent_agreement": rep["percent_agreement"],
                          "fleiss_kappa": fl if fl is not None else rep.get("fleiss_kappa_subset"),
                          "krippendorff_alpha": rep["krippendorff_alpha"],
                          "cohen_kappa_mean_over_slots": rep["cohen_kappa"]}
        out[corpus] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100, help="seed labels per draw")
    ap.add_argument("--held-out", type=int, default=1000)
    ap.add_argument("--draws", default="0,1,2,3,4", help="random draws (seeds of the sampler)")
    ap.add_argument("--datasets", default="rotten_tomatoes,sst2",
                    help="rotten_tomatoes (defaults chosen here) and sst2 (shared data; out of sample)")
    ap.add_argument("--issues-n", type=int, default=2000)
    ap.add_argument("--skip-issues", action="store_true")
    ap.add_argument("--agreement", action="store_true", help="also VADER rater agreement per corpus")
    ap.add_argument("--with-llm", type=int, default=0, metavar="N",
                    help="also an ensemble with the llm method (SmolLM2) on N held-out records of the first draw")
    a = ap.parse_args()
    import numpy as np

    measurement = Measurement("annotate_quality", libraries=["vaderSentiment", "cleanlab", "sentence-transformers",
                                                              "scikit-learn"])
    draws = [int(x) for x in a.draws.split(",")]
    res: dict = {"quality": {}, "summary": {}}
    for dataset in a.datasets.split(","):
        recs, labels = _load(dataset)
        if recs is None:
            print(f"\n{dataset}: skipped (shared data absent)")
            res["summary"][dataset] = {"skipped": "shared data absent"}
            continue
        rows = res["quality"][dataset] = [quality(a.seeds, a.held_out, d, dataset) for d in draws]
        role = ("the defaults (kNN class_balance, Dawid-Skene on 3 confidence bins) were chosen on these draws"
                if dataset == "rotten_tomatoes" else "out of sample: not used to choose any default")
        print(f"\n{dataset} ({len(labels)} classes; {role}): {a.seeds} random seed labels, {a.held_out} random "
              f"held-out records per draw; macro-F1 on the held-out records")
        print(f"{'method':<32}" + "".join(f"{'draw ' + str(d):>9}" for d in draws) + f"{'mean':>9}")
        summary = {"role": role, "labels": labels}
        for m in METHODS:
            vals = [q[m]["macro_f1"] for q in rows]
            summary[m] = {"macro_f1_mean": round(float(np.mean(vals)), 4), "macro_f1_min": round(float(np.min(vals)), 4),
                          "macro_f1_max": round(float(np.max(vals)), 4)}
            print(f"{m:<32}" + "".join(f"{v:>9.3f}" for v in vals) + f"{np.mean(vals):>9.3f}")
        best = max(METHODS, key=lambda m: summary[m]["macro_f1_mean"])
        summary["best_method"] = best
        print(f"best on {dataset}: {best}")
        res["summary"][dataset] = summary
    if not a.skip_issues:
        res["issues"] = [issues(a.issues_n, draws[0], dataset=ds) for ds in ("rotten_tomatoes", "sst2")]
        for i in res["issues"]:
            if "skipped" in i:
                print(f"\nLabel issues on {i['dataset']}: skipped ({i['skipped']})")
                continue
            print(f"\nLabel issues on {i['dataset']}: {i['n']} records, {i['flipped']} labels flipped at random; "
                  f"flagged {i['flagged']}: precision {i['precision']:.3f}, recall {i['recall']:.3f}; precision of "
                  f"the top {i['flipped']} of the queue {i['precision_at_n_flipped']:.3f} (chance "
                  f"{i['flipped'] / i['n']:.2f}; cross-validated accuracy {i['cv_accuracy_vs_noisy_labels']:.3f}; "
                  f"{i['seconds']:.0f} s)")
    if a.with_llm:
        res["with_llm"] = w = with_llm(a.seeds, a.with_llm, draws[0])
        print(f"\nWith the llm method (SmolLM2-135M zero-shot), {w['n_held_out']} held-out records of draw {w['seed']} "
              f"({w['llm_seconds_per_record']:.2f} s per record for the LLM; peak RSS {w['peak_rss_mb']:.0f} MB)")
        for k, v in w.items():
            if isinstance(v, dict):
                print(f"{k:<40}{v['macro_f1']:>9.3f}")
    if a.agreement:
        res["agreement"] = agreement()
        print("\nVADER raters (slots as annotators): nominal = sign of the rating, interval = raw -4..4")
        print(f"{'corpus':<24}{'items':>7}{'%agree':>8}{'Fleiss':>8}{'alpha nom':>10}{'alpha int':>10}{'slot z':>8}")
        for c, r in res["agreement"].items():
            fl = r["nominal"]["fleiss_kappa"]
            flv = fl if isinstance(fl, float) else fl["value"]
            print(f"{c:<24}{r['nominal']['n_items']:>7}{r['nominal']['percent_agreement']:>8.3f}{flv:>8.3f}"
                  f"{r['nominal']['krippendorff_alpha']:>10.3f}{r['interval']['krippendorff_alpha']:>10.3f}"
                  f"{r['slot_test']['z']:>8.1f}" + ("" if isinstance(fl, float) else "  (Fleiss on equal-count subset)"))
    measurement.write(res)


if __name__ == "__main__":
    main()
