"""Any OpenAI-compatible chat server (vLLM serve, SGLang, a hosted judge) over plain HTTP.

Standard library only (urllib), ``POST {base_url}/chat/completions``; requests run on a thread pool of
``concurrency`` workers; 429, 5xx, timeouts and dropped connections are retried with exponential backoff
(``Retry-After`` honoured, capped); other 4xx fail at once with the server's message.

The API key is read from the environment variable named by ``api_key_env`` at the moment a request is
sent. It is never an attribute of the backend, never in a repr, a log line, an error message or a
Generation, so it cannot reach results or reports.

Stop tokens: the server applies the model's chat template and stops on its generation config's EOS ids
(vLLM serve: ``--generation-config auto``, which for chat models includes the end-of-turn token). A server
that does not can be given the ids with ``extra_body={"stop_token_ids": [...]}`` (vLLM/SGLang extension).
Presence/frequency penalties are sent as the OpenAI API's own fields.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from ...core.errors import SftscopeError
from .base import Generation, GenerationRequest, SamplingParams

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 30.0


class BackendRequestError(SftscopeError):
    """A request failed for good (after retries, or with a non-retryable status)."""


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible endpoint.

    Args:
        model: the server's model name.
        base_url: e.g. ``http://127.0.0.1:8000/v1``; default ``$OPENAI_BASE_URL``, else the OpenAI API.
        api_key_env: NAME of the environment variable holding the key (the key itself is never passed in).
        concurrency: requests in flight at once.
        timeout: seconds per HTTP request.
        max_retries: retries after the first try for 429/5xx/timeouts.
        backoff: first retry delay in seconds (doubles each retry, with jitter).
    """

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 60, max_retries: int = 4, backoff: float = 1.0,
                 extra_body: dict | None = None):
        if concurrency < 1:
            raise SftscopeError(f"openai backend: concurrency={concurrency} must be >= 1")
        self.model = model
        base = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.base_url = base
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.api_key_env = api_key_env
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.extra_body = dict(extra_body or {})
        self.retries_done = 0  # total retries, for logs and tests

    def __repr__(self) -> str:
        return (f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r}, "
                f"concurrency={self.concurrency})")

    def _body(self, req: GenerationRequest, params: SamplingParams) -> dict:
        body: dict[str, Any] = {"model": self.model, "messages": req.messages, "temperature": params.temperature,
                                "top_p": params.top_p, "max_tokens": params.max_new_tokens, "seed": int(req.seed),
                                "n": 1}
        if params.top_k and params.top_k > 0:
            body["top_k"] = params.top_k  # vLLM/SGLang extension; the OpenAI API has no top_k
        if params.penalized:  # OpenAI API fields, also served by vLLM and SGLang
            body["presence_penalty"] = params.presence_penalty
            body["frequency_penalty"] = params.frequency_penalty
        if params.logprobs:
            body["logprobs"] = True
        body.update(self.extra_body)
        return body

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = "Bearer " + key
        return headers

    def _post(self, body: dict) -> dict:
        data = json.dumps(body).encode()
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            delay = None
            try:
                req = urllib.request.Request(self.url, data=data, headers=self._headers(), method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = _error_text(e)
                if e.code not in RETRY_STATUS:
                    hint = f" (is ${self.api_key_env} set?)" if e.code in (401, 403) else ""
                    raise BackendRequestError(f"openai backend: {self.url} answered HTTP {e.code}{hint}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
                delay = _retry_after(e)
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.max_retries:
                self.retries_done += 1
                wait = delay if delay is not None else self.backoff * (2 ** attempt) * (1 + 0.25 * random.random())
                time.sleep(min(MAX_BACKOFF_S, wait))
        raise BackendRequestError(f"openai backend: {self.url} failed after {self.max_retries + 1} tries: {last}")

    def _one(self, req: GenerationRequest, params: SamplingParams) -> Generation:
        out = self._post(self._body(req, params))
        try:
            choice = out["choices"][0]
            msg = choice.get("message") or {}
            content = msg.get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise BackendRequestError(f"openai backend: {self.url} returned no choices: {str(out)[:300]}") from None
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        text = f"<think>{reasoning}</think>{content}" if reasoning else content  # keep the trace: the study grades after </think>
        usage = out.get("usage") or {}
        lp = None
        if params.logprobs and (choice.get("logprobs") or {}).get("content"):
            lp = [float(t.get("logprob", 0.0)) for t in choice["logprobs"]["content"]]
        return Generation(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          completion_tokens=int(usage.get("completion_tokens") or 0),
                          finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                          token_logprobs=lp, extra={"model": out.get("model", self.model)})

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams, progress: Any = None) -> list[Generation]:
        """One Generation per request, in order; ``concurrency`` requests in flight."""
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            futures = [pool.submit(self._one, r, params) for r in requests]
            results = []
            for f in futures:
                results.append(f.result())
                if progress is not None and hasattr(progress, "update"):
                    progress.update(1)
        return results

    def count_tokens(self, text: str) -> int:
        """Approximate (about 4 characters a token): the server's tokenizer is not available here."""
        return max(1, (len(text) + 3) // 4) if text else 0

    def close(self) -> None:
        pass


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read().decode("utf-8", "replace")
        obj = json.loads(raw)
        msg = (obj.get("error") or {}).get("message") if isinstance(obj.get("error"), dict) else obj.get("error")
        return str(msg or raw)[:300]
    except Exception:  # noqa: BLE001 - best effort
        return str(e.reason)[:300]


def _retry_after(e: urllib.error.HTTPError) -> float | None:
    val = e.headers.get("Retry-After") if e.headers else None
    try:
        return max(0.0, float(val)) if val is not None else None
    except ValueError:
        return None


class ScriptedChatServer:
    """A local OpenAI-compatible server on 127.0.0.1 answering from a function (the CPU twin of a judge).

    ``reply(body) -> str | (status, payload)`` decides each answer: a string becomes the message content;
    a tuple sends that HTTP status and JSON payload (e.g. ``(429, {...})``). ``delay`` seconds of sleep
    before answering simulates a slow server. Every request body and Authorization header is recorded.
    Use as a context manager; ``base_url`` is ready once entered.
    """

    def __init__(self, reply, delay: float = 0.0):
        import threading

        self.reply, self.delay = reply, float(delay)
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []
        self._lock = threading.Lock()
        self._server = None

    def __enter__(self) -> "ScriptedChatServer":
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with outer._lock:
                    outer.bodies.append(body)
                    outer.auth.append(self.headers.get("Authorization"))
                if outer.delay:
                    time.sleep(outer.delay)
                ans = outer.reply(body)
                status, payload = ans if isinstance(ans, tuple) else (200, _completion(body, ans))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _completion(body: dict, content: str) -> dict:
    finish = "length" if len(content) >= 4 * int(body.get("max_tokens") or 10**9) else "stop"
    return {"id": "chatcmpl-local", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages", [])),
                      "completion_tokens": len(content) // 4}}
