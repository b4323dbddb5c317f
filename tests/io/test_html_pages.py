"""Issue 10 item 4: saved web pages in any charset, and WARC files, read as documents.

Real pages: the non-UTF-8 test pages (BBC, RIA Novosti, Haaretz… excerpts, none declaring a
charset) shipped in chardet's sdist on PyPI, and the shared Common Crawl WARC sample."""

from __future__ import annotations

import tarfile
from pathlib import Path

import orjson
import pytest

from tuneprep.datasets import DatasetError, PackagedFile, fetch_distribution
from tuneprep.engine.local import run_recipe
from tuneprep.io.dialect import ReadOptions
from tuneprep.recipe import parse_recipe

CHARDET_SDIST = PackagedFile("chardet", "5.2.0", "chardet-5.2.0.tar.gz",
                             "1b3b6ff479a8c414bc3fa2c0852995695c4a026dcd6d0633b2dd092ca39c1cf7", sdist=True)


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def outputs(out: Path, sub: str) -> list[dict]:
    return [r for f in sorted((out / sub).glob("*.jsonl")) for r in read_jsonl(f)]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    try:
        sdist = fetch_distribution(CHARDET_SDIST)
    except DatasetError as e:
        pytest.skip(f"chardet sdist unavailable: {e}")
    root = tmp_path_factory.mktemp("pages")
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".html") and "/tests/" in m.name:
                dest = root / Path(m.name).parent.name / Path(m.name).name
                dest.parent.mkdir(exist_ok=True)
                dest.write_bytes(tar.extractfile(m).read())
    return root


def test_pages_in_legacy_charsets_are_extracted_not_rejected(pages, tmp_path):
    files = sorted(pages.glob("*/*.html"))
    recipe = parse_recipe({"input": {"path": str(pages / "*" / "*.html")}, "output": {"path": str(tmp_path / "o")}})
    res = run_recipe(recipe, workers=1)
    assert res.records_in == len(files) == res.kept + res.rejected
    # meta.source is the page's path (one document per file)
    by_dir = {Path(r["meta"]["source"]).parent.name: r for r in outputs(tmp_path / "o", "data")}
    assert all(Path(r["meta"]["source"]).suffix == ".html" for r in by_dir.values())
    # Latin script: the BBC forum page in windows-1252 keeps its pound signs.
    assert by_dir["windows-1252"]["meta"]["charset"]["encoding"] == "cp1252"
    assert "£825" in by_dir["windows-1252"]["text"]
    for d, enc, word in (("KOI8-R", "koi8-r", "МОСКВА"), ("windows-1251-russian", "cp1251", "МОСКВА"),
                         ("iso-8859-5-russian", "iso8859-5", "МОСКВА"), ("windows-1256-arabic", "cp1256", "القسام"),
                         ("UTF-16LE", "utf-16-le", "examples")):
        assert by_dir[d]["meta"]["charset"]["encoding"] == enc and word in by_dir[d]["text"], d
    # Only a page without main text is a reject, with its reason and raw page.
    rej = [r for f in (tmp_path / "o" / "rejects").glob("*.jsonl") for r in read_jsonl(f)]
    assert {r["reason"] for r in rej} <= {"no_main_text"} and all(r["raw"] for r in rej)
    assert res.rejected <= 2


def test_warc_responses_with_url_title_date_language(shared_data, tmp_path):
    warc = shared_data / "dolma_cc" / "sample-0000.warc.gz"
    recipe = parse_recipe({"input": {"path": str(warc), "extract": "recall"}, "output": {"path": str(tmp_path / "o")}})
    res = run_recipe(recipe, workers=1)
    assert res.records_in == 22 == res.kept + res.rejected  # the 22 HTML responses of 48 records
    rec = outputs(tmp_path / "o", "data")
    # The modes are trafilatura's: precision keeps less of the same pages than recall.
    from tuneprep.io.html import read_warc

    prec = [r.obj for r, _ in zip(read_warc(warc, ReadOptions(extract="precision")), range(6)) if r.obj]
    assert sum(len(r["text"]) for r in rec[:6]) > sum(len(r["text"]) for r in prec)
    first = rec[0]
    assert first["meta"]["url"] == "https://www.semanticscholar.org/research/research-team"
    assert first["meta"]["title"].startswith("Semantic Scholar") and first["meta"]["language"] == "en"
    assert first["meta"]["extract"] == "recall"
    assert sum(bool(r["meta"].get("date")) for r in rec) >= 5  # dates the pages state in their markup
    assert first["meta"]["charset"] == {"encoding": "utf-8", "confidence": 1.0, "method": "http header",
                                        "alternatives": []}
    assert first["meta"]["source"].endswith("sample-0000.warc.gz:3")  # warcinfo, request, then this response
