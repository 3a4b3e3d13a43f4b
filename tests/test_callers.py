"""Who may call: authorize hooks, client keys, the safe default, and path tricks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from azure_asgi import Principal
from azure_asgi._callers import Callers
from azure_asgi._config import ClientsConfig
from azure_asgi.testing import AzureEmulator

from .conftest import CHAT, CLIENT_KEY, emulator_gateway, make_config


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
    async with emulator_gateway(emulator) as gw, anon(gw) as client:
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
    async with emulator_gateway(emulator) as gw, anon(gw) as client:
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
    async with emulator_gateway(emulator) as gw, anon(gw) as client:
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
    async with emulator_gateway(emulator) as gw, anon(gw) as client:
        resp = await client.post(
            f"http://gateway{path}", json=CHAT, headers={"api-key": CLIENT_KEY}
        )
    assert resp.status_code == 200
    assert emulator.last_request.deployment == "my-gpt4o"


async def test_safe_default_without_keys_or_hook_is_401_with_how_to(
    emulator: AzureEmulator,
) -> None:
    config = make_config(clients={})
    async with emulator_gateway(emulator, config) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT, headers={"api-key": "anything"})
    assert resp.status_code == 401
    message = resp.json()["error"]["message"]
    assert "clients.api_keys" in message and "authorize" in message and "anonymous" in message
    assert emulator.requests == []


async def test_anonymous_allows_everyone(emulator: AzureEmulator) -> None:
    config = make_config(clients={"anonymous": True})
    async with emulator_gateway(emulator, config) as gw, anon(gw) as client:
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
        async with emulator_gateway(emulator, authorize=hook) as gw, anon(gw) as client:
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

    async with emulator_gateway(emulator, authorize=hook) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "only the llm team may call this"
    assert resp.json()["error"]["type"] == "permission_error"
    assert emulator.requests == []


async def test_broken_authorize_hook_is_500_without_internals(emulator: AzureEmulator) -> None:
    def hook(scope: dict[str, Any]) -> Principal:
        raise RuntimeError("db password is hunter2")

    async with emulator_gateway(emulator, authorize=hook) as gw, anon(gw) as client:
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


@pytest.mark.parametrize(
    "path",
    [
        "/llm/v1/embeddings/%2e%2e/chat/completions",
        "/llm/v1/embeddings/%2E%2E/chat/completions",
        "/llm/v1/embeddings/../chat/completions",
        "/llm/v1/embeddings/./../chat/completions",
        "/llm/v1/embeddingsX/../chat/completions",
    ],
)
async def test_a_path_rule_in_the_hook_cannot_be_sidestepped(
    emulator: AzureEmulator, path: str
) -> None:
    # The hook allows embeddings only, by path: a spelling of /v1/chat/completions that starts
    # with /llm/v1/embeddings must not reach chat, because the hook sees the routed path.
    seen: list[tuple[str, Any]] = []

    def embeddings_only(scope: dict[str, Any]) -> Principal | None:
        seen.append((scope["path"], scope["azure_asgi.route"]))
        if scope["path"].startswith("/llm/v1/embeddings"):
            return Principal(subject="embedder")
        return None

    gw = emulator_gateway(emulator, authorize=embeddings_only)
    scope_app = _mounted_at("/llm", gw)
    async with gw, anon(scope_app) as client:
        resp = await client.post(path, json=CHAT)
        allowed = await client.post("/llm/v1/embeddings", json={"model": "gpt-4o", "input": "hi"})
    assert resp.status_code == 401
    assert seen[0][0] == "/llm/v1/chat/completions"
    assert seen[0][1].operation.request_type == "chat_completion"
    assert allowed.status_code == 200
    assert seen[1][1].operation.request_type == "embedding"
    assert [r.path for r in emulator.requests] == ["/openai/deployments/my-gpt4o/embeddings"]


def _mounted_at(prefix: str, app: Any) -> Any:
    """A host that mounts ``app`` at ``prefix`` the ASGI way (root_path extended)."""

    async def host(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = {**scope, "root_path": prefix}
        await app(scope, receive, send)

    return host


async def test_the_hook_can_authorise_by_operation(
    emulator: AzureEmulator,
) -> None:
    async def by_operation(scope: dict[str, Any]) -> Principal | None:
        route = scope["azure_asgi.route"]
        if route is not None and route.operation.request_type == "chat_completion":
            return Principal(subject="chatter", scopes=frozenset({"chat"}))
        return None

    async with emulator_gateway(emulator, authorize=by_operation) as gw, anon(gw) as client:
        chat = await client.post("/openai/deployments/gpt-4o/chat/completions", json=CHAT)
        embed = await client.post("/v1/embeddings", json={"model": "gpt-4o", "input": "x"})
        unknown = await client.post("/v1/nothing/here", json={})
    assert chat.status_code == 200
    assert embed.status_code == 401
    assert unknown.status_code == 401  # no route: the hook sees route None and refuses
    assert len(emulator.requests) == 1


async def test_principal_is_put_on_the_host_scope(emulator: AzureEmulator) -> None:
    scopes: list[dict[str, Any]] = []
    gw = emulator_gateway(emulator)

    async def host(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await gw(scope, receive, send)

    async with gw, anon(host) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT, headers={"api-key": CLIENT_KEY})
    assert resp.status_code == 200
    principal = scopes[0]["azure_asgi.principal"]
    assert isinstance(principal, Principal) and principal.subject == "client-key"


async def test_a_sync_hook_runs_off_the_event_loop(emulator: AzureEmulator) -> None:
    import threading

    threads: list[int] = []

    def hook(scope: dict[str, Any]) -> Principal:
        threads.append(threading.get_ident())
        return Principal(subject="x")

    async with emulator_gateway(emulator, authorize=hook) as gw, anon(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert threads and threads[0] != threading.get_ident()
