"""Silence third-party progress bars and known harmless warnings; say real warnings once.

Inside tuneprep's own calls, transformers' "Loading weights …" bars, Hugging Face hub and
datasets bars, and deprecation notices about APIs tuneprep does not call directly are noise in
every log. Real warnings still reach the user, once each, in one line that names the library.

Environment variables are set before the libraries are imported (they read them at import);
for libraries already imported, their switches are flipped too.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Any

from tuneprep.ui.events import emit

# (category, message regex): warnings that are not actionable for a tuneprep user.
KNOWN_HARMLESS: tuple[tuple[type[Warning], str], ...] = (
    # transformers 5 deprecates an attribute that peft/accelerate still read internally.
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
    # torch's checkpoint API asks every caller to pass use_reentrant explicitly.
    (UserWarning, r"torch\.utils\.checkpoint: the use_reentrant parameter"),
    # GGUF dequantisation and tokenizer conversion notices (the registry converts once and caches).
    (UserWarning, r"The tokenizer .* GGUF"),
    # PEFT notices when adapters target an attribute tuneprep chose on purpose.
    (UserWarning, r"Already found a `peft_config` attribute in the model"),
)

_ENV_DEFAULTS = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TQDM_DISABLE": "1",
}

_seen: set[str] = set()
_installed = False


def _show_once(message: Any, category: type[Warning], filename: str, lineno: int,
               file: Any = None, line: str | None = None) -> None:
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    key = f"{category.__name__}:{text}"
    if key in _seen:
        return
    _seen.add(key)
    origin = filename.replace("\\", "/")
    lib = next((p for p in ("transformers", "peft", "trl", "accelerate", "torch", "datasets",
                            "sentence_transformers", "sklearn", "cleanlab", "tuneprep") if f"/{p}/" in origin),
               os.path.basename(origin))
    print(f"warning ({lib}): {text}", file=sys.stderr)
    emit("warning", library=lib, category=category.__name__, message=text)


def quiet_third_party(verbose: bool = False) -> None:
    """Apply the quiet settings for this process and its children (idempotent).

    ``verbose=True`` keeps the libraries' own output (for debugging a load or a training run).
    """
    global _installed
    if verbose:
        return
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "transformers" in sys.modules:
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except Exception:  # noqa: BLE001 - an old or partial transformers must not break a run
            pass
    if "datasets" in sys.modules:
        try:
            import datasets

            datasets.disable_progress_bars()
            datasets.logging.set_verbosity_error()
        except Exception:  # noqa: BLE001
            pass
    if _installed:
        return
    for category, pattern in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=pattern, category=category)
    warnings.showwarning = _show_once
    _installed = True


def harmless(message: str, category: type[Warning]) -> bool:
    """Whether a warning text is one of the known harmless ones (used by tests)."""
    return any(issubclass(category, c) and re.search(p, message) for c, p in KNOWN_HARMLESS)
