"""Word frequency dictionaries per language (symspellpy's bundled files, nothing downloaded).

``DICTIONARIES`` maps a language to the symspellpy package files; another language is one more
entry (a symspell-format ``term count`` file, e.g. from the symspellpy or wordfreq projects),
given by path through ``dictionary_path`` on ``clean.typos``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DICTIONARIES = {
    "en": ("frequency_dictionary_en_82_765.txt", "frequency_bigramdictionary_en_243_342.txt"),
}


class DictionaryError(ValueError):
    """Unknown language, or a dictionary file that is missing or malformed (names file and line)."""


def dictionary_files(language: str) -> tuple[Path, Path | None]:
    """(unigram file, bigram file or None) bundled with symspellpy for ``language``."""
    if language not in DICTIONARIES:
        raise DictionaryError(f"no bundled dictionary for language {language!r} (have: {', '.join(DICTIONARIES)}); "
                              "pass dictionary_path")
    import importlib.resources

    root = importlib.resources.files("symspellpy")
    uni, bi = DICTIONARIES[language]
    return Path(str(root / uni)), Path(str(root / bi)) if bi else None


@lru_cache(maxsize=4)
def word_frequencies(path: str) -> dict[str, int]:
    """``{word: count}`` from a symspell-format file (``term count`` per line)."""
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise DictionaryError(f"{path}:{n}: expected 'term count', got {line.strip()!r}")
            out[parts[0]] = int(parts[1])
    return out


def english_frequencies() -> dict[str, int] | None:
    """The bundled English word counts, or None when symspellpy is not installed."""
    try:
        uni, _ = dictionary_files("en")
    except ModuleNotFoundError:
        return None
    return word_frequencies(str(uni))
