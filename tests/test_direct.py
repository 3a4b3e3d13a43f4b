"""Direct keys: the caller's own endpoint and credential, allow-listed, off by default."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from azure_asgi import AzureGateway
from azure_asgi._direct import endpoint_origin

from .conftest import CHAT, CLIENT_KEY, EMULATOR_KEY, make_config, mock_gateway

OWN_KEY = "callers-own-azure-key"


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = {"id": "x", "object": "chat.completion", "choices": []}
        return httpx.Response(200, json=reply)


def gateway(recorder: Recorder, enabled: bool = True) -> AzureGateway:
    """conftest's config with direct keys on (or off), in front of ``recorder``."""
    return mock_gateway(recorder, make_config(direct_keys={"enabled": enabled}))


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_direct_key_goes_to_the_named_endpoint_with_the_callers_key() -> None:
    recorder = Recorder()
    async with gateway(recorder) as gw, client(gw) as c:
        resp = await c.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "azure/their-deployment"},
            headers={
                "x-bf-azure-endpoint": "https://theirs.openai.azure.com",
                "api-key": OWN_KEY,
                "x-gateway-key": CLIENT_KEY,
            },
        )
    assert resp.status_code == 200, resp.text
    (sent,) = recorder.requests
    assert str(sent.url) == (
        "https://theirs.openai.azure.com/openai/deployments/their-deployment/chat/completions"
        "?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == OWN_KEY
    assert EMULATOR_KEY not in str(sent.headers) and CLIENT_KEY not in str(sent.headers)
    assert resp.json()["extra_fields"]["resource"] == "direct"


async def test_direct_endpoint_from_body_with_bearer() -> None:
    recorder = Recorder()
    async with gateway(recorder) as gw, client(gw) as c:
        resp = await c.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "dep", "endpoint": "https://x.cognitiveservices.azure.com/"},
            headers={"authorization": "Bearer their-entra-token", "x-gateway-key": CLIENT_KEY},
        )
    assert resp.status_code == 200, resp.text
    (sent,) = recorder.requests
    assert sent.url.host == "x.cognitiveservices.azure.com"
    assert sent.headers["authorization"] == "Bearer their-entra-token"
    assert "endpoint" not in json.loads(sent.content)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example.com",
        "http://theirs.openai.azure.com",  # wrong scheme
        "https://user@theirs.openai.azure.com",
        "https://theirs.openai.azure.com/path",
        "https://evil.com\\.openai.azure.com",
        "https://theirs.openai.azure.com:8443",
        "not a url",
        # Malformed hosts the shell-style * would otherwise have matched.
        "https://.openai.azure.com",
        "https://a..openai.azure.com",
        "https://-a.openai.azure.com",
        "https://a-.openai.azure.com",
        "https://theirs.openai.azure.com.",
        # Tricks that put the allow-listed suffix outside the host.
        "https://evil.com#.openai.azure.com",
        "https://evil.com/.openai.azure.com",
        "https://evil.com?.openai.azure.com",
        "https://evil.com%23.openai.azure.com",
        "https://evil.com@theirs.openai.azure.com",
        "https://evil.com:443.openai.azure.com",
        "https://x.openai.azure.com.evil.com",
        "https://x.openai.azure.com:443@evil.com",
        "https://[::1].openai.azure.com",
    ],
)
async def test_endpoint_not_allowed_sends_nothing(endpoint: str) -> None:
    recorder = Recorder()
    async with gateway(recorder) as gw, client(gw) as c:
        resp = await c.post(
            "/v1/chat/completions",
            json=CHAT,
            headers={
                "x-bf-azure-endpoint": endpoint,
                "api-key": OWN_KEY,
                "x-gateway-key": CLIENT_KEY,
            },
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "endpoint_not_allowed"
    assert recorder.requests == []


async def test_direct_keys_disabled_by_default() -> None:
    recorder = Recorder()
    async with gateway(recorder, enabled=False) as gw, client(gw) as c:
        resp = await c.post(
            "/v1/chat/completions",
            json=CHAT,
            headers={
                "x-bf-azure-endpoint": "https://theirs.openai.azure.com",
                "api-key": CLIENT_KEY,
            },
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "direct_keys_disabled"
    assert recorder.requests == []


async def test_direct_request_still_needs_a_client_key_and_never_forwards_it() -> None:
    recorder = Recorder()
    headers = {"x-bf-azure-endpoint": "https://theirs.openai.azure.com"}
    async with gateway(recorder) as gw, client(gw) as c:
        unauthenticated = await c.post(
            "/v1/chat/completions", json=CHAT, headers={**headers, "api-key": OWN_KEY}
        )
        # The only credential is the gateway key: it must not be handed to the endpoint.
        only_gateway_key = await c.post(
            "/v1/chat/completions", json=CHAT, headers={**headers, "api-key": CLIENT_KEY}
        )
    assert unauthenticated.status_code == 401
    assert only_gateway_key.status_code == 401
    assert only_gateway_key.json()["error"]["code"] == "direct_key_missing"
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://A.openai.azure.com", "https://a.openai.azure.com"),
        ("https://a.openai.azure.com:443/", "https://a.openai.azure.com"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://a.openai.azure.com/x", None),
        ("https://a.openai.azure.com?q=1", None),
        ("ftp://a.openai.azure.com", None),
        ("https://a%2eb.com", None),
        ("https://a-b.c0.openai.azure.com", "https://a-b.c0.openai.azure.com"),
        ("https://x.openai.azure.com:8443", "https://x.openai.azure.com:8443"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://10.0.0.255", "http://10.0.0.255"),
        ("https://[2001:DB8:0:0::1]", "https://[2001:db8::1]"),
        ("https://[::ffff:10.0.0.1]:8443", "https://[::ffff:a00:1]:8443"),
        (f"https://{'a' * 63}.openai.azure.com", f"https://{'a' * 63}.openai.azure.com"),
        (f"https://{'a.' * 125}abc", f"https://{'a.' * 125}abc"),  # 253 characters
    ],
)
def test_endpoint_origin(endpoint: str, origin: str | None) -> None:
    assert endpoint_origin(endpoint) == origin


async def test_fallbacks_of_a_direct_request_stay_on_the_callers_endpoint() -> None:
    # The caller's endpoint fails for its deployment; its fallback is tried on the same
    # endpoint with the same (caller's) key, never on a configured resource or credential.
    sent: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if "/deployments/primary/" in request.url.path:
            return httpx.Response(503, json={"error": {"code": "busy", "message": "busy"}})
        return httpx.Response(200, json={"id": "x", "object": "chat.completion", "choices": []})

    config = make_config(
        direct_keys={"enabled": True},
        retries={"max_attempts": 1, "initial_backoff_ms": 1, "max_backoff_ms": 1},
    )
    gw = mock_gateway(upstream, config)
    async with gw, client(gw) as c:
        resp = await c.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "primary", "fallbacks": ["gpt-4o"]},
            headers={
                "x-bf-azure-endpoint": "https://theirs.openai.azure.com",
                "api-key": OWN_KEY,
                "x-gateway-key": CLIENT_KEY,
            },
        )
    assert resp.status_code == 200, resp.text
    assert [r.url.host for r in sent] == ["theirs.openai.azure.com"] * 2
    assert sent[1].url.path == "/openai/deployments/gpt-4o/chat/completions"
    assert all(r.headers["api-key"] == OWN_KEY for r in sent)
    assert all(EMULATOR_KEY not in str(r.headers) for r in sent)
    assert resp.json()["extra_fields"]["resource"] == "direct"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://.openai.azure.com",  # empty label
        "https://a..openai.azure.com",
        "https://a.openai.azure.com.",  # a trailing dot is an empty last label
        "https://.a.openai.azure.com",
        "https://-a.openai.azure.com",  # a hyphen may not start or end a label
        "https://a-.openai.azure.com",
        "https://a.-b-.com",
        "https://a_b.openai.azure.com",  # not a hostname character
        f"https://{'a' * 64}.openai.azure.com",  # a label of more than 63
        f"https://{'a.' * 125}abcd",  # more than 253 in all
        "http://256.0.0.1",  # looks like an IPv4 address, is not one
        "http://1.2.3",
        "http://1.2.3.4.5",
        "http://a.1",  # an all-digit last label is not a name
        "http://010.0.0.1",  # leading zeros: octal to some resolvers
        "http://2130706433",  # 127.0.0.1 to inet_aton, not a dotted quad
        "http://0x7f.0.0.1",
        "http://0x7f000001",
        "http://[1.2.3.4]",  # brackets hold IPv6 only
        "http://[::1%25eth0]:9000",  # no zone ids
        "http://[fe80::1%eth0]",
        "http://[::g]",
        "http://[::1",
        "http://::1",  # IPv6 only in brackets
        "http://1::1:9000",
    ],
)
def test_endpoint_origin_refuses_malformed_hosts(endpoint: str) -> None:
    assert endpoint_origin(endpoint) is None
