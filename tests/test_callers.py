"""Who may call: authorize hooks, client keys, the safe default, and path tricks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from azure_asgi import AzureGateway, Principal
from azure_asgi._callers import Callers
from azure_asgi._config import ClientsConfig
from azure_asgi.testing import AzureEmulator

from .conftest import CHAT, CLIENT_KEY, make_config


def gateway_for(emulator: AzureEmulator, **kwargs: Any) -> AzureGateway:
    config = kwargs.pop("config", None) or make_config()
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator))
    return AzureGateway(config, http_client=upstream, **kwargs)


def anon(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.mark.parametrize(
    "headers",
    [
        {"api-key": CLIENT_KEY},
        {"authorization": f"Bearer {CLIENT_KEY}"},
        {"authorization": f"bearer {CLIENT_KEY}"},
        {"x-gateway-key": CLIENT_KEY},
    ],
)
async def test_client_key_in_any_of_its_three_places(
    emulator: AzureEmulator, headers: dict[str, str]
) -> None:
    async with gateway_for(emulator) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert resp.status_code == 200
    assert len(emulator.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"api-key": "wrong"}, {"authorization": "Basic Y2xpZW50"}, {"api-key": CLIENT_KEY[:-1]}],
)
async def test_missing_or_wrong_key_is_401(
    emulator: AzureEmulator, headers: dict[str, str]
) -> None:
    async with gateway_for(emulator) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["type"] == "authentication_error"
    assert "x-gateway-key" in body["error"]["message"]  # says how to fix it
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/no/such/route"),
        ("POST", "//v1//chat/completions"),
        ("POST", "/v1/./chat/../chat/completions"),
        ("POST", "/v1/chat/completions/.."),
        ("POST", "/V1/CHAT/COMPLETIONS"),
        ("POST", "/v1/chat%2Fcompletions"),
        ("POST", "/openai/deployments/my-gpt4o/chat/completions"),
    ],
)
async def test_unauthenticated_requests_get_401_whatever_the_path(
    emulator: AzureEmulator, method: str, path: str
) -> None:
    async with gateway_for(emulator) as gw, anon(gw) as client:
        resp = await client.request(method, f"http://gateway{path}", json=CHAT)
    assert resp.status_code == 401
    assert emulator.requests == []


@pytest.mark.parametrize(
    "path",
    ["//v1//chat/completions", "/v1/./chat/../chat/completions", "/x/../v1/chat/completions"],
)
async def test_normalised_paths_route_once_authenticated(
    emulator: AzureEmulator, path: str
) -> None:
    async with gateway_for(emulator) as gw, anon(gw) as client:
        resp = await client.post(
            f"http://gateway{path}", json=CHAT, headers={"api-key": CLIENT_KEY}
        )
    assert resp.status_code == 200
    assert emulator.last_request.deployment == "my-gpt4o"


async def test_safe_default_without_keys_or_hook_is_401_with_how_to(
    emulator: AzureEmulator,
) -> None:
    config = make_config(clients={})
    async with gateway_for(emulator, config=config) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT, headers={"api-key": "anything"})
    assert resp.status_code == 401
    message = resp.json()["error"]["message"]
    assert "clients.api_keys" in message and "authorize" in message and "anonymous" in message
    assert emulator.requests == []


async def test_anonymous_allows_everyone(emulator: AzureEmulator) -> None:
    config = make_config(clients={"anonymous": True})
    async with gateway_for(emulator, config=config) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200


async def test_authorize_hook_sync_and_async(emulator: AzureEmulator) -> None:
    seen: list[dict[str, Any]] = []

    def sync_hook(scope: dict[str, Any]) -> Principal | None:
        seen.append(scope)
        headers = dict(scope["headers"])
        return Principal(subject="alice") if headers.get(b"x-user") == b"alice" else None

    async def async_hook(scope: dict[str, Any]) -> Principal | None:
        return sync_hook(scope)

    for hook in (sync_hook, async_hook):
        async with gateway_for(emulator, authorize=hook) as gw, anon(gw) as client:
            ok = await client.post("/v1/chat/completions", json=CHAT, headers={"x-user": "alice"})
            # A client key means nothing when the host decides who may call.
            no = await client.post(
                "/v1/chat/completions", json=CHAT, headers={"api-key": CLIENT_KEY}
            )
        assert ok.status_code == 200
        assert no.status_code == 401
        assert no.json()["error"]["code"] == "unauthorized"
    assert seen[0]["type"] == "http"
    assert len(emulator.requests) == 2


async def test_authorize_permission_error_is_403(emulator: AzureEmulator) -> None:
    def hook(scope: dict[str, Any]) -> Principal:
        raise PermissionError("only the llm team may call this")

    async with gateway_for(emulator, authorize=hook) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "only the llm team may call this"
    assert resp.json()["error"]["type"] == "permission_error"
    assert emulator.requests == []


async def test_broken_authorize_hook_is_500_without_internals(emulator: AzureEmulator) -> None:
    def hook(scope: dict[str, Any]) -> Principal:
        raise RuntimeError("db password is hunter2")

    async with gateway_for(emulator, authorize=hook) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 500
    assert "hunter2" not in resp.text
    assert resp.json()["error"]["code"] == "authorize_failed"


def test_client_key_comparison() -> None:
    callers = Callers(ClientsConfig(api_keys=("k-one", "k-two")), None)
    assert callers.is_client_key(b"k-one")
    assert callers.is_client_key(b"k-two")
    assert not callers.is_client_key(b"k-on")
    assert not callers.is_client_key(b"")
