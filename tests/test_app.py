"""AzureGateway end to end over raw HTTP: routing, upstream requests, relays and errors.

Every test runs over both upstream clients (in-process httpx and aiohttp over loopback) and
asserts what the caller got and what the emulator (the upstream) received.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    API_VERSION,
    CHAT,
    CLIENT_KEY,
    EMULATOR_KEY,
    caller,
    emulator_gateway,
    make_config,
    mock_gateway,
)


def error_of(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert set(body) >= {"error", "status_code", "is_gateway_error", "event_id", "extra_fields"}
    assert body["status_code"] == resp.status_code
    assert body["event_id"]
    return body


async def test_unified_chat_reaches_the_deployment_and_adds_extra_fields(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    body = {**CHAT, "temperature": 0.25, "x_unknown_field": {"kept": [1, 2.5, "é"]}}
    raw = json.dumps(body, indent=1).encode()  # spacing a re-serialiser would not keep
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 200
    data = resp.json()
    assert data["choices"][0]["message"]["content"] == "hello there world"
    assert data["object"] == "chat.completion"
    assert "prompt_filter_results" in data  # Azure's shape survives
    extra = data["extra_fields"]
    assert extra["provider"] == "azure"
    assert extra["request_type"] == "chat_completion"
    assert extra["model_requested"] == "gpt-4o"
    assert extra["model_deployment"] == "my-gpt4o"
    assert extra["resource"] == "eastus"
    assert isinstance(extra["latency_ms"], int)

    seen = emulator.last_request
    assert seen.method == "POST"
    assert seen.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert seen.query == {"api-version": API_VERSION}
    assert seen.headers["api-key"] == EMULATOR_KEY
    # The URL names the deployment, so the caller's bytes go upstream untouched.
    assert seen.body == raw


async def test_caller_credentials_never_reach_the_upstream(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    async with caller(
        gateway,
        authorization=f"Bearer {CLIENT_KEY}",
        cookie="session=secret-cookie",
        **{"x-gateway-key": CLIENT_KEY, "x-ms-client-request-id": "trace-1"},
    ) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    headers = emulator.last_request.headers
    assert headers["api-key"] == EMULATOR_KEY
    assert "authorization" not in headers
    assert "cookie" not in headers
    assert "x-gateway-key" not in headers
    assert CLIENT_KEY not in json.dumps(headers)
    assert headers["x-ms-client-request-id"] == "trace-1"  # tracing ids do pass
    # The caller's user-agent stays behind too: the upstream sees the gateway's, not the
    # upstream client's default (the aiohttp session keeps no skip list).
    assert headers["user-agent"] == "azure-asgi"


@pytest.mark.parametrize("model", ["azure/gpt-4o", "gpt-4o", "my-gpt4o", "azure/my-gpt4o"])
async def test_model_resolution_alias_deployment_and_prefix(
    gateway: AzureGateway, emulator: AzureEmulator, model: str
) -> None:
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json={**CHAT, "model": model})
    assert resp.status_code == 200
    assert resp.json()["extra_fields"]["model_requested"] == model
    assert emulator.last_request.deployment == "my-gpt4o"


async def test_azure_route_keeps_caller_api_version_and_body_bytes(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    # Spacing and key order a re-serialiser would change: the upstream must get these bytes.
    raw = b'{ "messages" : [{"role":"user","content":"hi"}],  "model":"my-gpt4o", "n" : 1 }'
    async with caller(gateway) as client:
        resp = await client.post(
            "/openai/deployments/my-gpt4o/chat/completions?api-version=2025-01-01-preview",
            content=raw,
            headers={"content-type": "application/json"},
        )
    assert resp.status_code == 200, resp.text
    seen = emulator.last_request
    assert seen.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert seen.query == {"api-version": "2025-01-01-preview"}
    assert seen.body == raw


async def test_azure_route_by_alias_without_api_version_uses_config(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    async with caller(gateway) as client:
        resp = await client.post(
            "/openai/deployments/gpt-4o-mini/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 200
    assert emulator.last_request.deployment == "my-mini"
    assert emulator.last_request.query == {"api-version": API_VERSION}
    assert resp.json()["extra_fields"]["model_requested"] == "gpt-4o-mini"


async def test_percent_encoded_deployment_survives(emulator: AzureEmulator) -> None:
    config = make_config()
    config["resources"][0]["deployments"] = {"team/gpt": "team/gpt-dep"}
    async with emulator_gateway(emulator, config) as gw, caller(gw) as client:
        resp = await client.post(
            "/openai/deployments/team%2Fgpt/chat/completions?api-version=2024-10-21",
            json={"messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 200, resp.text
    assert emulator.last_request.deployment == "team/gpt-dep"
    assert emulator.last_request.raw_path == b"/openai/deployments/team%2Fgpt-dep/chat/completions"


async def test_azure_v1_route(gateway: AzureGateway, emulator: AzureEmulator) -> None:
    async with caller(gateway) as client:
        resp = await client.post("/openai/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert emulator.last_request.deployment == "my-gpt4o"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_json"),
        # Python's json reads these; JSON (and Azure) has no such tokens.
        (b'{"model": "gpt-4o", "messages": [{}], "temperature": NaN}', None, "invalid_json"),
        (b'{"model": "gpt-4o", "messages": [{}], "top_p": -Infinity}', None, "invalid_json"),
        (b'{"model": "gpt-4o", "messages": [{}], "top_p": 1e400}', None, "invalid_json"),
        (
            b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}',
            "model",
            "invalid_request",
        ),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "invalid_request"),
        (b'{"model": "gpt-4o"}', "messages", "invalid_request"),
        (b'{"model": "gpt-4o", "messages": "hi"}', "messages", "invalid_request"),
        (b'{"model": "gpt-4o", "messages": []}', "messages", "invalid_request"),
        (b'{"model": "gpt-4o", "messages": [{}], "stream": "yes"}', "stream", "invalid_request"),
        (
            b'{"model": "gpt-4o", "messages": [{}], "fallbacks": "gpt-4o-mini"}',
            "fallbacks",
            "invalid_request",
        ),
    ],
)
async def test_bad_input_is_400_in_the_contract_shape_and_sends_nothing(
    gateway: AzureGateway, emulator: AzureEmulator, content: bytes, param: str | None, code: str
) -> None:
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions", content=content, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400
    body = error_of(resp)
    assert body["is_gateway_error"] is True
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == code
    assert body["error"]["param"] == param
    assert body["extra_fields"]["request_type"] == "chat_completion"
    assert emulator.requests == []


async def test_unknown_model_is_404_before_any_upstream_call(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json={**CHAT, "model": "gpt-5-nope"})
    assert resp.status_code == 404
    body = error_of(resp)
    assert body["error"]["code"] == "model_not_found"
    assert body["error"]["param"] == "model"
    assert "gpt-4o" in body["error"]["message"]  # tells the caller what is served
    assert body["extra_fields"]["model_requested"] == "gpt-5-nope"
    assert emulator.requests == []


async def test_other_provider_prefix_is_400(gateway: AzureGateway, emulator: AzureEmulator) -> None:
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json={**CHAT, "model": "openai/gpt-4o"})
    assert resp.status_code == 400
    assert error_of(resp)["error"]["code"] == "unsupported_provider"
    assert emulator.requests == []


async def test_unknown_route_404_and_wrong_method_405(gateway: AzureGateway) -> None:
    async with caller(gateway) as client:
        missing = await client.post("/v1/nope", json={})
        wrong = await client.get("/v1/chat/completions")
        deep = await client.post("/openai/deployments/x/unknown/op", json={})
    assert missing.status_code == 404
    assert error_of(missing)["error"]["code"] == "route_not_found"
    assert deep.status_code == 404
    assert wrong.status_code == 405
    assert error_of(wrong)["error"]["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"


async def test_oversized_body_is_413(emulator: AzureEmulator) -> None:
    config = make_config(limits={"max_body_bytes": 200})
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 500}]}
    async with emulator_gateway(emulator, config) as gw, caller(gw) as client:
        declared = await client.post("/v1/chat/completions", json=big)

        async def chunks():  # no content-length: the limit applies while reading
            yield b'{"model": "gpt-4o", "messages": ['
            for _ in range(20):
                yield b'{"role": "user", "content": "xxxxxxxxxxxx"},'

        streamed = await client.post("/v1/chat/completions", content=chunks())
    for resp in (declared, streamed):
        assert resp.status_code == 413
        assert error_of(resp)["error"]["code"] == "request_too_large"
    assert emulator.requests == []


# -- upstream errors, retries, fallbacks -------------------------------------------------------


async def test_upstream_429_passes_status_error_and_rate_limit_headers(
    upstream_endpoint: tuple[str, Any], emulator: AzureEmulator
) -> None:
    endpoint, client = upstream_endpoint
    config = make_config(endpoint, retries={"max_attempts": 1})
    emulator.inject(Fault.status(429, retry_after_ms=1500))
    async with AzureGateway(config, http_client=client) as gw, caller(gw) as c:
        resp = await c.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 429
    assert resp.headers["retry-after-ms"] == "1500"
    assert resp.headers["retry-after"] == "2"
    body = error_of(resp)
    assert body["is_gateway_error"] is False
    assert body["error"]["code"] == "429"
    assert body["extra_fields"]["resource"] == "eastus"
    assert len(emulator.requests) == 1


async def test_content_filter_error_keeps_innererror(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    emulator.inject(Fault.content_filter())
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 400
    body = error_of(resp)
    assert body["is_gateway_error"] is False
    assert body["error"]["code"] == "content_filter"
    assert body["error"]["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert len(emulator.requests) == 1  # a 400 is not retried


async def test_retry_after_429_then_success(gateway: AzureGateway, emulator: AzureEmulator) -> None:
    emulator.inject(Fault.status(429, retry_after_ms=10))
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert len(emulator.requests) == 2


async def test_fallbacks_field_is_consumed_and_used(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    emulator.inject(Fault.status(500), times=3, path_contains="my-gpt4o")
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions", json={**CHAT, "fallbacks": ["gpt-4o-mini"]}
        )
    assert resp.status_code == 200
    assert resp.json()["extra_fields"]["model_deployment"] == "my-mini"
    deployments = [r.deployment for r in emulator.requests]
    assert deployments == ["my-gpt4o"] * 3 + ["my-mini"]
    assert all("fallbacks" not in (r.json or {}) for r in emulator.requests)


async def test_all_fallbacks_failing_returns_the_primary_error(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    emulator.inject(Fault.status(503, code="primary"), times=3, path_contains="my-gpt4o")
    emulator.inject(Fault.status(500, code="fallback"), times=3, path_contains="my-mini")
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions", json={**CHAT, "fallbacks": ["gpt-4o-mini"]}
        )
    assert resp.status_code == 503
    assert error_of(resp)["error"]["code"] == "primary"
    assert len(emulator.requests) == 6


async def test_unreachable_upstream_is_502_gateway_error() -> None:
    config = make_config("http://127.0.0.1:9", retries={"max_attempts": 2, "initial_backoff_ms": 1})
    async with AzureGateway(config) as gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 502
    body = error_of(resp)
    assert body["is_gateway_error"] is True
    assert body["error"]["code"] == "upstream_unreachable"
    assert EMULATOR_KEY not in resp.text


async def test_deadline_gives_504(
    upstream_endpoint: tuple[str, Any], emulator: AzureEmulator
) -> None:
    endpoint, client = upstream_endpoint
    emulator.inject(Fault.slow(1.0))
    gateway = AzureGateway(make_config(endpoint, timeout_s=0.2), http_client=client)
    async with gateway, caller(gateway) as c:
        resp = await c.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 504
    assert error_of(resp)["error"]["code"] == "timeout"


async def test_unexpected_failure_is_a_500_in_the_contract_shape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import httpx

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=b"{}")

    gw = mock_gateway(broken)

    async def explode(*args: object) -> None:
        raise RuntimeError("bug with secret sk-should-not-leak")

    gw._dispatcher.send = explode  # type: ignore[method-assign,assignment]
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 500
    body = error_of(resp)
    assert body["error"]["code"] == "internal_error"
    assert "sk-should-not-leak" not in resp.text
    assert "unexpected error on POST /v1/chat/completions" in caplog.text
