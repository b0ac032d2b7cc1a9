"""OpenAIBackend against a local HTTP server that speaks the chat-completions protocol."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from sftscope.backends.generation.base import Generation, GenerationRequest, SamplingParams, load_backend
from sftscope.backends.generation.openai_compat import BackendRequestError, OpenAIBackend, ScriptedChatServer

SECRET = "sk-test-3f9a1c0ffee-never-log-me"


def _req(text: str, seed: int = 0) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": text}], seed=seed, key=text)


def test_roundtrip_maps_params_and_sends_key_from_env(monkeypatch):
    monkeypatch.setenv("SFTSCOPE_TEST_KEY", SECRET)
    with ScriptedChatServer(lambda body: "echo: " + body["messages"][-1]["content"]) as srv:
        be = OpenAIBackend("judge-model", base_url=srv.base_url, api_key_env="SFTSCOPE_TEST_KEY", concurrency=3)
        params = SamplingParams(temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=64)
        outs = be.generate([_req(f"q{i}", seed=i) for i in range(7)], params)
    assert [o.text for o in outs] == [f"echo: q{i}" for i in range(7)]  # order kept under concurrency
    body = next(b for b in srv.bodies if b["messages"][0]["content"] == "q3")
    assert body["model"] == "judge-model" and body["temperature"] == 0.6 and body["top_p"] == 0.95
    assert body["max_tokens"] == 64 and body["seed"] == 3 and body["top_k"] == 20 and body["n"] == 1
    assert set(srv.auth) == {f"Bearer {SECRET}"}
    # the key never reaches results or reprs
    dumped = json.dumps([o.__dict__ for o in outs]) + repr(be) + json.dumps(vars(be), default=str)
    assert SECRET not in dumped


def test_top_k_off_is_not_sent():
    with ScriptedChatServer(lambda body: "ok") as srv:
        OpenAIBackend("m", base_url=srv.base_url, api_key_env="SFTSCOPE_UNSET_KEY").generate([_req("x")], SamplingParams())
    assert "top_k" not in srv.bodies[0] and srv.auth == [None]


def test_429_then_ok_is_retried():
    calls = itertools.count()

    def reply(body):
        return (429, {"error": {"message": "rate limited"}}) if next(calls) < 2 else "fine"

    with ScriptedChatServer(reply) as srv:
        be = OpenAIBackend("m", base_url=srv.base_url, max_retries=4, backoff=0.01)
        out = be.generate([_req("x")], SamplingParams())
    assert out[0].text == "fine" and be.retries_done == 2 and len(srv.bodies) == 3


def test_5xx_exhausts_retries_with_clear_error(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ScriptedChatServer(lambda body: (503, {"error": {"message": "overloaded"}})) as srv:
        be = OpenAIBackend("m", base_url=srv.base_url, max_retries=2, backoff=0.01)
        with pytest.raises(BackendRequestError, match="after 3 tries.*503") as exc:
            be.generate([_req("x")], SamplingParams())
    assert len(srv.bodies) == 3 and SECRET not in str(exc.value)


def test_401_fails_at_once_and_names_the_variable():
    with ScriptedChatServer(lambda body: (401, {"error": {"message": "bad key"}})) as srv:
        be = OpenAIBackend("m", base_url=srv.base_url, api_key_env="MY_JUDGE_KEY", backoff=0.01)
        with pytest.raises(BackendRequestError, match=r"401 \(is \$MY_JUDGE_KEY set\?\)"):
            be.generate([_req("x")], SamplingParams())
    assert len(srv.bodies) == 1


def test_timeout_is_retried_then_reported():
    with ScriptedChatServer(lambda body: "late", delay=1.0) as srv:
        be = OpenAIBackend("m", base_url=srv.base_url, timeout=0.2, max_retries=1, backoff=0.01)
        t0 = time.monotonic()
        with pytest.raises(BackendRequestError, match="after 2 tries"):
            be.generate([_req("x")], SamplingParams())
    assert time.monotonic() - t0 < 3 and be.retries_done == 1


def test_length_finish_reason_and_reasoning_content():
    def reply(body):
        return (200, {"choices": [{"message": {"content": "42", "reasoning_content": "think hard"},
                                   "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 9}})

    with ScriptedChatServer(reply) as srv:
        g = OpenAIBackend("m", base_url=srv.base_url).generate([_req("x")], SamplingParams())[0]
    assert isinstance(g, Generation) and g.hit_limit and g.text == "<think>think hard</think>42"
    assert (g.prompt_tokens, g.completion_tokens) == (5, 9)


def test_base_url_from_env_and_registry(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    be = load_backend("openai", "m")
    assert be.url == "http://127.0.0.1:9/v1/chat/completions"
    assert OpenAIBackend("m", base_url="http://h:1").url == "http://h:1/v1/chat/completions"
