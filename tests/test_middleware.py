"""AzureGatewayMiddleware: claims one prefix, passes every other scope through untouched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgiref.testing import ApplicationCommunicator

from azure_asgi import AzureGateway, AzureGatewayMiddleware
from azure_asgi.testing import AzureEmulator

from .conftest import CHAT, CLIENT_KEY, emulator_gateway, make_config


class Host:
    """A plain ASGI app that records the scopes it was given and answers 'host'."""

    def __init__(self, *, lifespan: bool = True) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.lifespan = lifespan
        self.lifespan_events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            if not self.lifespan:
                raise ValueError("this host can only handle http")
            while True:
                message = await receive()
                self.lifespan_events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"host"})
        else:
            await send({"type": "websocket.close", "code": 1000})


def spy_on_close(gateway: AzureGateway) -> list[bool]:
    """Records each ``aclose`` of ``gateway`` (and still closes it)."""
    closed: list[bool] = []
    original = gateway.aclose

    async def spy() -> None:
        closed.append(True)
        await original()

    gateway.aclose = spy  # type: ignore[method-assign]
    return closed


def wrap(emulator: AzureEmulator, host: Host, prefix: str = "/llm") -> AzureGatewayMiddleware:
    return AzureGatewayMiddleware(host, gateway=emulator_gateway(emulator), prefix=prefix)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://host",
        headers={"api-key": CLIENT_KEY},
    )


async def test_prefix_goes_to_gateway_everything_else_to_host(emulator: AzureEmulator) -> None:
    host = Host()
    app = wrap(emulator, host)
    async with client(app) as c:
        chat = await c.post("/llm/v1/chat/completions", json=CHAT)
        azure = await c.post(
            "/llm/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", json=CHAT
        )
        others = [await c.get(p) for p in ("/", "/llmx/v1/chat/completions", "/api/llm", "/LLM/v1")]
        bare = await c.post("/llm")
    assert (
        chat.status_code == 200
        and chat.json()["choices"][0]["message"]["content"] == "hello there world"
    )
    assert azure.status_code == 200
    assert [r.text for r in others] == ["host"] * 4
    assert bare.status_code == 404 and bare.json()["error"]["code"] == "route_not_found"
    assert [s["path"] for s in host.scopes] == [
        "/",
        "/llmx/v1/chat/completions",
        "/api/llm",
        "/LLM/v1",
    ]
    assert len(emulator.requests) == 2


async def test_host_scope_is_passed_untouched(emulator: AzureEmulator) -> None:
    host = Host()
    app = wrap(emulator, host)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/other",
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "http.request", "body": b""})
    assert (await comm.receive_output(1))["status"] == 200
    assert host.scopes[0] is scope  # the very same object: nothing copied, nothing changed


async def test_gateway_sees_root_path_extended(emulator: AzureEmulator) -> None:
    seen: list[dict[str, Any]] = []

    async def gateway(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AzureGatewayMiddleware(Host(), gateway=gateway, prefix="/llm/")  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/outer/llm/v1/chat/completions",
        "root_path": "/outer",
        "headers": [],
        "query_string": b"",
    }
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "http.request", "body": b""})
    assert (await comm.receive_output(1))["status"] == 204
    assert seen[0]["root_path"] == "/outer/llm"
    assert seen[0]["path"] == "/outer/llm/v1/chat/completions"
    assert scope["root_path"] == "/outer"  # the host's scope is not mutated


async def test_websockets_under_the_prefix_reach_the_host(emulator: AzureEmulator) -> None:
    host = Host()
    app = wrap(emulator, host)
    comm = ApplicationCommunicator(app, {"type": "websocket", "path": "/llm/ws", "headers": []})
    await comm.send_input({"type": "websocket.connect"})
    assert (await comm.receive_output(1))["type"] == "websocket.close"
    assert host.scopes[0]["type"] == "websocket"


@pytest.mark.parametrize("supports_lifespan", [True, False])
async def test_lifespan_runs_host_and_closes_gateway(
    emulator: AzureEmulator, supports_lifespan: bool
) -> None:
    host = Host(lifespan=supports_lifespan)
    app = wrap(emulator, host)
    closed = spy_on_close(app.gateway)
    comm = ApplicationCommunicator(app, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await comm.send_input({"type": "lifespan.startup"})
    assert (await comm.receive_output(1))["type"] == "lifespan.startup.complete"
    await comm.send_input({"type": "lifespan.shutdown"})
    assert (await comm.receive_output(1))["type"] == "lifespan.shutdown.complete"
    assert closed == [True]
    if supports_lifespan:
        assert host.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]


def test_needs_gateway_or_config() -> None:
    with pytest.raises(TypeError, match="gateway=AzureGateway"):
        AzureGatewayMiddleware(Host())
    with pytest.raises(TypeError, match="not to the middleware"):
        AzureGatewayMiddleware(Host(), gateway=AzureGateway(make_config()), config=make_config())
    with pytest.raises(ValueError, match="prefix"):
        AzureGatewayMiddleware(Host(), config=make_config(), prefix="/")


async def test_built_from_config_with_authorize(emulator: AzureEmulator) -> None:
    from azure_asgi import Principal

    app = AzureGatewayMiddleware(
        Host(), config=make_config(), authorize=lambda scope: Principal(subject="anyone")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        resp = await c.post("/llm/v1/chat/completions", json={**CHAT, "model": "nope"})
    assert resp.status_code == 404  # authorized by the hook, then routed: model_not_found
    assert resp.json()["error"]["code"] == "model_not_found"


async def test_gateway_closed_even_when_host_shutdown_fails(emulator: AzureEmulator) -> None:
    class FailingShutdown(Host):
        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            assert scope["type"] == "lifespan"
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.failed", "message": "db pool stuck"})

    app = wrap(emulator, FailingShutdown())
    closed = spy_on_close(app.gateway)
    comm = ApplicationCommunicator(app, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await comm.send_input({"type": "lifespan.startup"})
    await comm.receive_output(1)
    await comm.send_input({"type": "lifespan.shutdown"})
    assert (await comm.receive_output(1))["type"] == "lifespan.shutdown.failed"
    assert closed == [True]
