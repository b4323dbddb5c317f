"""``llm``: zero/few-shot labeling with a language model.

Two back ends:
* a registry model, local model directory or tuneprep training run (``model``): each label's
  verbalizer is scored by log-likelihood (``tuneprep.models.scoring.score_labels``), so the answer
  is always one of the labels and the confidence is its probability;
* any OpenAI-compatible server (``endpoint``, e.g. ``tuneprep serve`` or vLLM): the model
  generates an answer that is parsed back to a label (``ClassifyTemplate.label_for_answer``); an
  answer that matches no label leaves the record unlabeled with the answer as the reason.
  The API key is read from the environment variable named by ``api_key_env`` and is never
  written to logs, errors or outputs.

Few-shot examples (``examples`` file, ``n_examples`` per label) are put in the instruction, so
both back ends see the same prompt. The prompt and verbalizers come from ``ClassifyTemplate``
(a training run's own template when the model is a run).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tuneprep.annotate.core import AnnotateError, Vote, texts_of
from tuneprep.io.readers import load_records
from tuneprep.models.prompt import DEFAULT_INSTRUCTION, ClassifyTemplate
from tuneprep.models.registry import DEFAULT_CAUSAL, load_model
from tuneprep.models.scoring import score_labels
from tuneprep.ui.progress import TaskBar


class LlmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Registry name, model dir or training run (default smollm2-135m).")
    endpoint: str | None = Field(None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    endpoint_model: str = Field("default", description="The `model` field sent to the endpoint.")
    api: Literal["chat", "completions"] = "chat"
    instruction: str | None = None
    system: str | None = None
    verbalizers: dict[str, str] = Field(default_factory=dict)
    examples: str | None = Field(None, description="File of labeled records used as few-shot examples.")
    n_examples: int = Field(1, ge=0, description="Few-shot examples per label.")
    max_tokens: int = Field(8, ge=1)
    batch_size: int = Field(16, ge=1)
    max_length: int | None = Field(256, description="Shorten texts to this many tokens in the prompt (registry model).")
    timeout: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _one_backend(self) -> LlmConfig:
        if self.model and self.endpoint:
            raise ValueError("give either model or endpoint, not both")
        return self


def _fewshot_block(path: str, labels: list[str], per_label: int, template: ClassifyTemplate) -> str:
    recs = load_records(path)
    picked: list[dict[str, Any]] = []
    for lab in labels:
        picked.extend([r for r in recs if r.get("label") == lab][:per_label])
    if not picked:
        raise AnnotateError(f"{path}: no example with a label in {labels}")
    lines = ["Examples:"]
    for r in picked:
        text = " ".join(str(r.get("text", "")).split())[:400]
        lines.append(f"Text: {text}\nAnswer: {template.answer(r['label'])}")
    # the block is formatted again with {text}/{labels}: escape the examples' braces
    return "\n\n".join(lines).replace("{", "{{").replace("}", "}}") + "\n\n"


def _redact(message: str, secret: str | None) -> str:
    return message.replace(secret, "***") if secret else message


def endpoint_url(endpoint: str, api: str) -> str:
    """``http://host:port[/v1]`` → the full URL of the chat or completions route."""
    base = endpoint.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if not base.endswith("/v1"):
        base += "/v1"
    return base + ("/chat/completions" if api == "chat" else "/completions")


class LlmLabeler:
    method = "llm"

    def __init__(self, config: LlmConfig, labels: list[str], loaded: tuple[Any, Any] | None = None):
        """``loaded``: an already loaded ``(model, tokenizer)`` to use instead of ``config.model``."""
        self.config = config
        self.labels = labels
        self._model: Any = loaded[0] if loaded else None
        self._tok: Any = loaded[1] if loaded else None
        self._run_cfg: dict[str, Any] = {}
        self.template = self._base_template()

    def _base_template(self, run_template: ClassifyTemplate | None = None) -> ClassifyTemplate:
        c = self.config
        if run_template is not None:
            if sorted(run_template.labels) != sorted(self.labels):
                raise AnnotateError(f"llm: the run was trained on labels {run_template.labels}, not {self.labels}")
            base = run_template.model_dump()
        else:
            base = {"labels": self.labels}
        if c.verbalizers:
            base["verbalizers"] = c.verbalizers
        if c.system is not None:
            base["system"] = c.system
        instruction = c.instruction or base.get("instruction") or DEFAULT_INSTRUCTION
        base["instruction"] = instruction
        tpl = ClassifyTemplate(**base)
        if c.examples and c.n_examples > 0:
            tpl = tpl.model_copy(update={"instruction": _fewshot_block(c.examples, self.labels, c.n_examples, tpl)
                                         + instruction})
        return tpl

    def setup(self) -> None:
        if self.config.endpoint or self._model is not None:
            return
        name = self.config.model or DEFAULT_CAUSAL
        m = load_model(name)
        if m.is_run:
            if m.template is None:
                raise AnnotateError(f"llm: {name} is an SFT run without a label set; give --endpoint via "
                                    f"`tuneprep serve` or a classification run")
            self._run_cfg = m.config
            self.template = self._base_template(m.template)
        self._model, self._tok = m.model, m.tokenizer

    # -- registry model ------------------------------------------------------------------------
    @property
    def chunk_size(self) -> int:
        """Records scored per call. A long run reports progress per chunk, and model replicas
        (``--engine ray``) get whole chunks, so each one is scored exactly as here."""
        return self.config.batch_size * 8

    def _label_local(self, texts: list[str]) -> list[Vote]:
        max_len = self._run_cfg.get("max_length") or self.config.max_length
        chunk = self.chunk_size
        parts = []
        with TaskBar("annotate llm", len(texts), "records") as bar:
            for i in range(0, len(texts), chunk):
                parts.append(score_labels(self._model, self._tok, self.template, texts[i:i + chunk],
                                          batch_size=self.config.batch_size, max_length=max_len))
                bar.update(len(texts[i:i + chunk]))
        probs = np.concatenate(parts) if parts else np.zeros((0, len(self.labels_order())))
        out = []
        for p in probs:
            j = int(p.argmax())
            out.append(Vote(self.labels_order()[j], float(p[j]), votes={"llm": self.labels_order()[j]},
                            scores=dict(zip(self.labels_order(), map(float, p)))))
        return out

    def labels_order(self) -> list[str]:
        return self.template.labels

    # -- OpenAI-compatible endpoint ------------------------------------------------------------
    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise AnnotateError(f"llm: environment variable {name} (--api-key-env) is not set or empty")
        return key

    def _post(self, url: str, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=self.config.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            body = e.read()[:300].decode("utf-8", "replace")
            raise AnnotateError(_redact(f"llm: {url} answered HTTP {e.code}: {body}", key)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise AnnotateError(_redact(f"llm: cannot reach {url}: {e}", key)) from None
        except json.JSONDecodeError:
            raise AnnotateError(f"llm: {url} did not answer JSON") from None

    def _label_endpoint(self, texts: list[str]) -> list[Vote]:
        c = self.config
        key = self._api_key()
        url = endpoint_url(c.endpoint or "", c.api)
        out = []
        for text in texts:
            msgs = self.template.messages(text)
            if c.api == "chat":
                payload: dict[str, Any] = {"model": c.endpoint_model, "messages": msgs, "max_tokens": c.max_tokens,
                                           "temperature": 0}
            else:
                prompt = "\n\n".join(m["content"] for m in msgs) + "\n\nAnswer:"
                payload = {"model": c.endpoint_model, "prompt": prompt, "max_tokens": c.max_tokens, "temperature": 0}
            resp = self._post(url, payload, key)
            try:
                choice = resp["choices"][0]
                answer = choice["message"]["content"] if c.api == "chat" else choice["text"]
            except (KeyError, IndexError, TypeError):
                raise AnnotateError(f"llm: {url} answered without choices[0] text: {str(resp)[:200]}") from None
            lab = self.template.label_for_answer(answer or "")
            if lab is None:
                out.append(Vote(None, reason=f"answer matches no label: {(answer or '')[:80]!r}", votes={"llm": None},
                                extra={"answer": (answer or "")[:200]}))
            else:
                # a generation endpoint gives no label probabilities: a parsed answer counts as sure
                out.append(Vote(lab, 1.0, votes={"llm": lab}, extra={"answer": answer[:200]}))
        return out

    def label(self, records: list[dict[str, Any]]) -> list[Vote]:
        self.setup()
        texts = texts_of(records)
        if not texts:
            return []
        return self._label_endpoint(texts) if self.config.endpoint else self._label_local(texts)
