"""``tuneprep serve``: an OpenAI-compatible HTTP server for a registry model or a tuned run.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``, ``GET /health``.
Greedy decoding (``temperature`` is accepted and ignored; the server is for evaluation and
annotation, where reproducible answers matter). Requests run one at a time (one model in
memory); the stdlib ``ThreadingHTTPServer`` keeps ``/health`` answering meanwhile.

With ``api_key_env`` the server requires ``Authorization: Bearer <key>`` where the key is read
from that environment variable; the key is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tuneprep.errors import TuneprepError
from tuneprep.models import registry
from tuneprep.models.chat import prompt_ids
from tuneprep.models.scoring import generate
from tuneprep.records import RecordError, validate_messages

log = logging.getLogger("tuneprep.serve")
MAX_BODY = 8 << 20


class ServeError(TuneprepError, RuntimeError):
    pass


@dataclass
class LoadedModel:
    name: str
    model: Any
    tokenizer: Any
    template: Any = None  # a ClassifyTemplate when serving a classification run
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_model(run_or_model: str) -> LoadedModel:
    """A run directory (its tuned model) or a registry name / model directory."""
    m = registry.load_model(run_or_model)
    if m.kind == "encoder":
        raise ServeError(f"{run_or_model}: an encoder classification run cannot generate text")
    return LoadedModel(str(run_or_model), m.model, m.tokenizer, m.template)


def _complete_raw(lm: LoadedModel, prompts: list[str], max_new_tokens: int) -> list[tuple[str, int, int]]:
    """Greedy continuation of raw text prompts: (text, prompt tokens, completion tokens)."""
    import torch

    out = []
    with torch.inference_mode():
        for p in prompts:
            enc = lm.tokenizer(p, return_tensors="pt")
            ids = enc["input_ids"].to(lm.model.device)
            gen = lm.model.generate(input_ids=ids, attention_mask=enc["attention_mask"].to(lm.model.device),
                                    do_sample=False, max_new_tokens=max_new_tokens,
                                    pad_token_id=lm.tokenizer.pad_token_id or lm.tokenizer.eos_token_id)
            new = gen[0, ids.shape[1]:]
            out.append((lm.tokenizer.decode(new, skip_special_tokens=True), int(ids.shape[1]), int(len(new))))
    return out


def chat_completion(lm: LoadedModel, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for one request body."""

    try:
        messages = validate_messages(body.get("messages"))
    except RecordError as e:
        raise ServeError(str(e)) from None
    max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
    with lm.lock:
        text = generate(lm.model, lm.tokenizer, [messages], max_new_tokens=max_tokens)[0]
        n_prompt = len(prompt_ids(lm.tokenizer, messages))
    n_completion = len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
        "model": lm.name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "length" if n_completion >= max_tokens else "stop"}],
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                  "total_tokens": n_prompt + n_completion},
    }


def completion(lm: LoadedModel, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``text_completion`` object (``prompt`` a string or a list of strings)."""
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ServeError("'prompt' must be a string or a non-empty list of strings")
    max_tokens = int(body.get("max_tokens") or 16)
    with lm.lock:
        results = _complete_raw(lm, prompts, max_tokens)
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
        "model": lm.name,
        "choices": [{"index": i, "text": t, "logprobs": None, "finish_reason": "length" if n >= max_tokens else "stop"}
                    for i, (t, _, n) in enumerate(results)],
        "usage": {"prompt_tokens": sum(p for _, p, _ in results), "completion_tokens": sum(n for _, _, n in results),
                  "total_tokens": sum(p + n for _, p, n in results)},
    }


def make_handler(lm: LoadedModel, api_key: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tuneprep-serve"

        def log_message(self, fmt: str, *args: Any) -> None:  # method, path, status only; never headers
            log.info("%s %s", self.address_string(), fmt % args)

        def _send(self, status: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send(status, {"error": {"message": message, "type": kind}})

        def _authorized(self) -> bool:
            if api_key is None:
                return True
            if self.headers.get("Authorization", "") == f"Bearer {api_key}":
                return True
            self._error(401, "missing or wrong API key (Authorization: Bearer ...)", "authentication_error")
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            path = self.path.split("?")[0].rstrip("/")
            if path == "/health":
                self._send(200, {"status": "ok", "model": lm.name})
            elif path == "/v1/models":
                if self._authorized():
                    self._send(200, {"object": "list", "data": [{"id": lm.name, "object": "model",
                                                                 "owned_by": "tuneprep"}]})
            else:
                self._error(404, f"no route {path}")

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0].rstrip("/")
            if path not in ("/v1/chat/completions", "/v1/completions"):
                self._error(404, f"no route {path}")
                return
            if not self._authorized():
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._error(400, "a JSON body is required (at most 8 MiB)")
                return
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self._error(400, f"invalid JSON body: {e}")
                return
            if body.get("stream"):
                self._error(400, "streaming is not supported")
                return
            if int(body.get("n") or 1) != 1:
                self._error(400, "only n=1 is supported")
                return
            try:
                result = chat_completion(lm, body) if path == "/v1/chat/completions" else completion(lm, body)
            except (ServeError, ValueError, TypeError) as e:
                self._error(400, str(e))
                return
            except Exception as e:  # keep serving; report what failed
                log.exception("generation failed")
                self._error(500, f"generation failed: {type(e).__name__}: {e}", "server_error")
                return
            self._send(200, result)

    return Handler


def _key_from_env(api_key_env: str | None) -> str | None:
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        raise ServeError(f"environment variable {api_key_env} (--api-key-env) is not set or empty")
    return key


def start_server(lm: LoadedModel, host: str = "127.0.0.1", port: int = 8000,
                 api_key_env: str | None = None) -> ThreadingHTTPServer:
    """Bind and serve in a daemon thread; returns the server (``server.server_address``; ``shutdown()``)."""
    server = ThreadingHTTPServer((host, port), make_handler(lm, _key_from_env(api_key_env)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="tuneprep-serve", daemon=True).start()
    return server


def serve(run_or_model: str, host: str = "127.0.0.1", port: int = 8000, api_key_env: str | None = None) -> None:
    """Load the model and serve until interrupted (the ``tuneprep serve`` verb)."""
    key = _key_from_env(api_key_env)
    lm = load_model(run_or_model)
    server = ThreadingHTTPServer((host, port), make_handler(lm, key))
    server.daemon_threads = True
    h, p = server.server_address[:2]
    print(f"serving {lm.name} at http://{h}:{p}/v1 (chat/completions, completions)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
