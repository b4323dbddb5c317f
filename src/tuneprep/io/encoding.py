"""Text encodings of users' files: ``input.encoding`` and its ``auto`` detection.

A file is read in the encoding the recipe names (``utf-8``, ``cp1252``, ``latin-1``,
``utf-16``…, any codec Python knows) or, with ``auto``, in the one detected for that file:

1. a byte order mark decides (UTF-8, UTF-16 LE/BE, UTF-32);
2. a file that is valid UTF-8 throughout is UTF-8 (pure ASCII included): no guessing;
3. otherwise charset-normalizer (the maintained successor of chardet) judges the lines that
   hold non-ASCII bytes, which are the only informative ones. Among its candidates with the
   least "chaos", cp1252 is preferred whenever it decodes the bytes the same way as the winner:
   charset-normalizer often names cp1250 first for Western European text, and cp1250 turns
   ``è`` into ``č``.

The decision, the method and a confidence (``1 - chaos``, 1.0 for a BOM or valid UTF-8) are
kept per file in the run manifest and printed, so a wrong guess can be seen and overridden.
"""

from __future__ import annotations

import codecs
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuneprep.io.fs import open_binary

# Bytes of non-ASCII lines given to the detector at most: enough for a stable verdict, and the
# detector's cost stays small whatever the file size.
DETECT_BYTES = 1 << 20
UTF8_NAMES = ("utf-8", "utf8", "utf_8", "ascii", "us-ascii")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Western legacy code pages in order of how common they are in files users actually have.
_PREFERRED = ("cp1252", "latin_1", "iso8859_15", "cp1250", "utf_16", "cp1251")


@dataclass
class EncodingDecision:
    """How one file is decoded. ``method``: ``recipe``, ``bom``, ``utf-8`` (valid throughout),
    ``charset-normalizer`` or ``default``; ``alternatives``: other codecs the detector found as good."""

    encoding: str
    confidence: float
    method: str
    alternatives: list[str] = field(default_factory=list)

    @property
    def is_utf8(self) -> bool:
        return normalize(self.encoding) == "utf-8"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        alt = f"; also possible: {', '.join(self.alternatives)}" if self.alternatives else ""
        return f"{self.encoding} (confidence {self.confidence:.2f}, by {self.method}{alt})"


def normalize(name: str) -> str:
    """Python's canonical codec name (``latin-1`` → ``iso8859-1``, ``UTF8`` → ``utf-8``).

    Raises ValueError for a codec Python does not know.
    """
    if name.lower() in UTF8_NAMES:
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding '{name}' (any Python codec name, e.g. utf-8, cp1252, "
                         "latin-1, utf-16, or auto)") from None


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte order mark announces, or None."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def _non_ascii_lines(path: str | Path, limit: int) -> tuple[bytes, bool]:
    """(lines holding non-ASCII bytes, up to ``limit`` bytes; True when the file is valid UTF-8)."""
    picked: list[bytes] = []
    size = 0
    utf8_ok = True
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_binary(path) as fh:
        for line in fh:
            if line.isascii():
                continue
            if utf8_ok:
                try:
                    decoder.decode(line)
                except UnicodeDecodeError:
                    utf8_ok = False
            if size < limit:
                picked.append(line)
                size += len(line)
            elif not utf8_ok:
                break
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    return b"".join(picked), utf8_ok


def detect_encoding(path: str | Path, limit: int = DETECT_BYTES) -> EncodingDecision:
    """Detect the encoding of one file (BOM, then valid UTF-8, then charset-normalizer)."""
    with open_binary(path) as fh:
        head = fh.read(4096)
    bom = bom_encoding(head)
    if bom is not None:
        return EncodingDecision(bom, 1.0, "bom")
    if b"\x00" in head:  # UTF-16/32 without a BOM: line filtering would cut code units apart
        sample, utf8_ok = head, False
        with open_binary(path) as fh:
            sample = fh.read(limit)
    else:
        sample, utf8_ok = _non_ascii_lines(path, limit)
    if utf8_ok:
        return EncodingDecision("utf-8", 1.0, "utf-8")
    return detect_bytes(sample)


def detect_bytes(sample: bytes) -> EncodingDecision:
    """charset-normalizer's verdict on bytes that are not UTF-8, cp1252 preferred among equals."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        # Nothing decodes it cleanly; latin-1 maps every byte, so no row is lost, and the
        # decision says how little it is trusted.
        return EncodingDecision("latin-1", 0.0, "default")
    least = min(m.percent_chaos for m in matches)
    best = [m for m in matches if m.percent_chaos <= least + 0.5]
    top = max(m.coherence for m in best)
    best = [m for m in best if m.coherence >= top - 0.02]
    same = {c for m in best for c in m.could_be_from_charset}
    choice = next((c for c in _PREFERRED if c in same), best[0].encoding)
    alternatives = sorted({m.encoding for m in best} - {choice})
    return EncodingDecision(codecs.lookup(choice).name, round(1.0 - least / 100.0, 3), "charset-normalizer",
                            alternatives)


def resolve_encoding(path: str | Path, setting: str | None) -> EncodingDecision:
    """The decision for one file under the recipe's ``input.encoding`` (None means utf-8)."""
    if setting is None:
        return EncodingDecision("utf-8", 1.0, "default")
    if setting == "auto":
        return detect_encoding(path)
    return EncodingDecision(normalize(setting), 1.0, "recipe")


def decode_error(line: str, encoding: str = "utf-8") -> str | None:
    """A message for undecodable bytes kept as surrogate escapes in ``line`` (None when clean)."""
    try:
        line.encode("utf-8")  # C speed; only lone surrogates (the escaped bytes) fail
        return None
    except UnicodeEncodeError:
        pass
    for i, ch in enumerate(line):
        if "\udc80" <= ch <= "\udcff":
            name = "UTF-8" if normalize(encoding) == "utf-8" else encoding
            hint = "; set input.encoding (or auto)" if name == "UTF-8" else ""
            return f"invalid {name} at character {i}: byte 0x{ord(ch) - 0xDC00:02x} cannot be decoded{hint}"
    return None
