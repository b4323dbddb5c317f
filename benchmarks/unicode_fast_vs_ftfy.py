"""clean.unicode's fast path (ops/unicode_fast.py) vs plain ``ftfy.fix_text``: same texts, same output.

Inputs: the non-ASCII documents of ``tuneprep.textsamples`` (ftfy's test cases, ChatterBot in 28
languages, Chinese novel paragraphs, convention speeches, headlines, reviews, tweets, and the shared
data's instructions, chats, model answers, web pages and MRPC sentences when present), and the
documents of the mixed benchmark corpus (``corpus.py --mixed``) when it has been built. One process,
one core; ftfy and the fast path alternate A-B-B-A over ``--rounds`` rounds (process CPU time), and
every output is compared (the run fails on any difference).

Usage: ``python benchmarks/unicode_fast_vs_ftfy.py [--rounds 4]`` → benchmarks/results/unicode_fast_vs_ftfy.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _time(fn, texts: list[str]) -> tuple[float, list[str]]:
    t0 = time.process_time()
    out = [fn(t) for t in texts]
    return time.process_time() - t0, out


def main() -> None:
    import ftfy
    import orjson
    from resultfile import Measurement

    from tuneprep.datasets import cache_dir, shared_data_dir
    from tuneprep.ops.unicode_fast import UnicodeFixer
    from tuneprep.textsamples import all_texts

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    m = Measurement("unicode_fast_vs_ftfy", libraries=["ftfy"])
    config = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False)  # clean.unicode's defaults
    fast = UnicodeFixer(config).fix

    def plain(t: str) -> str:
        return ftfy.fix_text(t, config)

    inputs = {"textsamples, non-ASCII documents": [t for _, t in all_texts(shared_data_dir()) if not t.isascii()]}
    mixed = sorted((cache_dir() / "bench" / "mixed").glob("part-*.jsonl"))
    if mixed:
        inputs["mixed benchmark corpus, all documents"] = [orjson.loads(line)["text"] for p in mixed
                                                           for line in p.read_bytes().splitlines()]
    figures = {}
    for label, texts in inputs.items():
        times: dict[str, list[float]] = {"ftfy": [], "fast": []}
        for r in range(a.rounds):
            for side in (("ftfy", "fast") if r % 2 == 0 else ("fast", "ftfy")):
                secs, out = _time(plain if side == "ftfy" else fast, texts)
                times[side].append(secs)
                if side == "ftfy":
                    expected = out
                else:
                    got = out
            diff = sum(x != y for x, y in zip(expected, got, strict=True))
            if diff:
                raise SystemExit(f"{label}: {diff} documents differ from ftfy.fix_text")
        changed = sum(x != t for x, t in zip(expected, texts, strict=True))
        f, q = statistics.median(times["ftfy"]), statistics.median(times["fast"])
        figures[label] = {"documents": len(texts), "chars": sum(map(len, texts)), "changed_by_ftfy": changed,
                          "identical_output": True, "ftfy_cpu_s_median": round(f, 3),
                          "fast_cpu_s_median": round(q, 3), "speedup_median": round(f / q, 2),
                          "ftfy_cpu_s": [round(x, 3) for x in times["ftfy"]],
                          "fast_cpu_s": [round(x, 3) for x in times["fast"]]}
        print(f"{label}: {len(texts):,} docs, ftfy {f:.2f} s, fast path {q:.2f} s CPU "
              f"({f / q:.1f}x), identical output, ftfy changed {changed:,}")
    m.write(figures)


if __name__ == "__main__":
    main()
