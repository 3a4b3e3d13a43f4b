"""The examples, end to end: each host framework serves the gateway and keeps its own routes.

Every example is imported fresh after the environment points ``examples/gateway.yaml`` at an
emulator on loopback; the real openai SDK then calls it, in-process (async) and over a real
uvicorn server (sync).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from asgiref.testing import ApplicationCommunicator

from azure_asgi import AzureGateway, AzureGatewayMiddleware
from azure_asgi.testing import AzureEmulator

from .conftest import (
    API_VERSION,
    CLIENT_KEY,
    EMULATOR_KEY,
    async_azure_openai,
    async_openai,
    sdk_transport,
    serve,
    serve_in_thread,
)

UPSTREAM_PATH = "/openai/deployments/gpt-4o-demo/chat/completions"
LIFESPAN_SCOPE = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}


@dataclass(frozen=True)
class Host:
    """One example: where its ASGI app lives and one of the host's own routes."""

    name: str
    module: str
    attr: str
    route: str
    says: str  # a piece of what the host's own route answers
    gateway_of: Callable[[Any], AzureGateway]

    def load(self) -> tuple[types.ModuleType, Any]:
        """Import the example afresh, so its gateway reads the environment set by the test."""
        if self.module in sys.modules:
            module = importlib.reload(sys.modules[self.module])
        else:
            module = importlib.import_module(self.module)
        return module, getattr(module, self.attr)


def _middleware_gateway(app: Any) -> AzureGateway:
    assert isinstance(app, AzureGatewayMiddleware)
    return app.gateway


HOSTS = [
    Host("fastapi", "examples.fastapi_app", "app", "/health", '"ok"', lambda m: m.gateway),
    Host("starlette", "examples.starlette_app", "app", "/", "Starlette", lambda m: m.gateway),
    Host(
        "django",
        "examples.django_app.asgi",
        "application",
        "/hello/",
        "from Django",
        lambda m: _middleware_gateway(m.application),
    ),
    Host(
        "quart",
        "examples.quart_app",
        "app",
        "/",
        "from Quart",
        lambda m: _middleware_gateway(m.app.asgi_app),
    ),
    Host(
        "plain",
        "examples.plain_asgi_app",
        "app",
        "/",
        "plain ASGI",
        lambda m: _middleware_gateway(m.app),
    ),
]
BY_NAME = {h.name: h for h in HOSTS}
each_host = pytest.mark.parametrize("host", HOSTS, ids=[h.name for h in HOSTS])


@pytest.fixture(autouse=True)
def example_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The examples' documented environment; the cwd elsewhere, as a deployed server's may be."""
    monkeypatch.setenv("GATEWAY_KEY", CLIENT_KEY)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    for name in ("AZURE_ASGI_CONFIG", "EMULATOR_KEY", "EMULATOR_URL"):
        monkeypatch.delenv(name, raising=False)
    # The default config path is relative to the example file, not the working directory.
    monkeypatch.chdir(tmp_path)


def spy_on_close(gateway: AzureGateway) -> list[bool]:
    """Record each ``gateway.aclose()`` (the lifespan's shutdown) while still closing it."""
    closed: list[bool] = []
    original = gateway.aclose

    async def aclose() -> None:
        closed.append(True)
        await original()

    gateway.aclose = aclose  # type: ignore[method-assign]
    return closed


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the host app's lifespan around the block, as a server would."""
    comm = ApplicationCommunicator(app, dict(LIFESPAN_SCOPE, state={}))
    await comm.send_input({"type": "lifespan.startup"})
    assert await comm.receive_output(5) == {"type": "lifespan.startup.complete"}
    yield
    await comm.send_input({"type": "lifespan.shutdown"})
    assert await comm.receive_output(5) == {"type": "lifespan.shutdown.complete"}
    await comm.wait(5)


def assert_upstream(emulator: AzureEmulator, contents: list[str]) -> None:
    """The emulator got one Azure-style call per message, with the configured key only."""
    assert [r.path for r in emulator.requests] == [UPSTREAM_PATH] * len(contents)
    for request, content in zip(emulator.requests, contents, strict=True):
        assert request.query["api-version"] == API_VERSION
        assert request.headers["api-key"] == EMULATOR_KEY
        assert not any(CLIENT_KEY in value for value in request.headers.values())
        assert request.json["messages"] == [{"role": "user", "content": content}]
    assert "authorization" not in emulator.requests[0].headers


async def async_chats(app: Any) -> list[str]:
    """Four calls through ``app`` with the async SDK: OpenAI and Azure styles, each streamed."""
    replies: list[str] = []
    clients = [("openai", async_openai(app, "http://host/llm/v1"))]
    clients.append(("azure", async_azure_openai(app, "http://host/llm")))
    for style, client in clients:
        async with client:
            chat = client.chat.completions
            messages = [{"role": "user", "content": f"{style} json"}]
            reply = await chat.create(model="gpt-4o", messages=messages)
            replies.append(reply.choices[0].message.content or "")
            messages = [{"role": "user", "content": f"{style} stream"}]
            stream = await chat.create(model="gpt-4o", messages=messages, stream=True)
            replies.append(
                "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            )
    return replies


def sync_chats(base: str) -> list[str]:
    """The same four calls with the sync SDK over a real socket."""
    replies: list[str] = []
    azure = openai.AzureOpenAI(
        azure_endpoint=f"{base}/llm", api_key=CLIENT_KEY, api_version=API_VERSION, max_retries=0
    )
    plain = openai.OpenAI(base_url=f"{base}/llm/v1", api_key=CLIENT_KEY, max_retries=0)
    clients = [("sync openai", plain), ("sync azure", azure)]
    for style, client in clients:
        with client:
            chat = client.chat.completions
            messages = [{"role": "user", "content": f"{style} json"}]
            reply = chat.create(model="gpt-4o", messages=messages)
            replies.append(reply.choices[0].message.content or "")
            messages = [{"role": "user", "content": f"{style} stream"}]
            stream = chat.create(model="gpt-4o", messages=messages, stream=True)
            replies.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    return replies


@each_host
async def test_async_sdk_through_the_host(
    host: Host, emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(emulator) as url:
        monkeypatch.setenv("EMULATOR_URL", url)
        module, app = host.load()
        closed = spy_on_close(host.gateway_of(module))
        async with lifespan(app):
            replies = await async_chats(app)
        assert closed == [True]
    expected = ["openai json", "openai stream", "azure json", "azure stream"]
    assert replies == expected
    assert_upstream(emulator, expected)
    streamed = [r.json.get("stream") for r in emulator.requests]
    assert streamed == [None, True, None, True]


@each_host
def test_sync_sdk_over_a_real_server(
    host: Host, emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(emulator, lifespan="off") as url:
        monkeypatch.setenv("EMULATOR_URL", url)
        module, app = host.load()
        closed = spy_on_close(host.gateway_of(module))
        with serve_in_thread(app) as base:  # lifespan "auto", as `uvicorn examples...` runs it
            replies = sync_chats(base)
            own = httpx.get(base + host.route)
        assert closed == [True]  # uvicorn's shutdown closed the gateway, whatever the host
    expected = ["sync openai json", "sync openai stream", "sync azure json", "sync azure stream"]
    assert replies == expected
    assert_upstream(emulator, expected)
    assert own.status_code == 200 and host.says in own.text


@each_host
async def test_host_routes_and_paths_outside_the_prefix(
    host: Host, emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(emulator) as url:
        monkeypatch.setenv("EMULATOR_URL", url)
        module, app = host.load()
        transport = httpx.ASGITransport(app=app)
        headers = {"api-key": CLIENT_KEY}
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            own = await client.get(host.route)
            outside = [
                await client.post(path, headers=headers, json={"model": "gpt-4o"})
                for path in ("/llmx/v1/chat/completions", "/v1/chat/completions")
            ]
            wrong_key = await client.post(
                "/llm/v1/chat/completions",
                headers={"api-key": "not-the-gateway-key"},
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            )
        await host.gateway_of(module).aclose()
    assert own.status_code == 200 and host.says in own.text
    for resp in outside:
        # The host's own 404 (HTML, text or FastAPI's {"detail": ...}), not the gateway's error.
        assert resp.status_code == 404
        assert "is_gateway_error" not in resp.text
    # The prefix is the gateway's, and it enforces the config's client key.
    assert wrong_key.status_code == 401 and wrong_key.json()["is_gateway_error"] is True
    assert emulator.requests == []


@each_host
async def test_lifespan_closes_the_gateway(host: Host) -> None:
    module, app = host.load()
    closed = spy_on_close(host.gateway_of(module))
    async with lifespan(app):
        assert closed == []
    assert closed == [True]


async def test_django_lifespan_is_answered_by_the_middleware() -> None:
    _, application = BY_NAME["django"].load()
    # Django's own handler rejects lifespan outright...
    comm = ApplicationCommunicator(application.app, dict(LIFESPAN_SCOPE))
    await comm.send_input({"type": "lifespan.startup"})
    with pytest.raises(ValueError, match="lifespan"):
        await comm.wait(5)
    # ...so the middleware answers it, and the gateway still closes on shutdown.
    closed = spy_on_close(application.gateway)
    async with lifespan(application):
        pass
    assert closed == [True]


async def test_plain_app_keeps_its_lifespan_and_http_route() -> None:
    module, app = BY_NAME["plain"].load()
    module.state.update(started=False, stopped=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://host") as client,
    ):
        during = (await client.get("/")).json()
    assert during["started"] is True and during["stopped"] is False
    assert module.state == {"started": True, "stopped": True}


def websocket_scope(path: str) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
    }


async def test_plain_app_websocket_echo_through_the_middleware() -> None:
    _, app = BY_NAME["plain"].load()
    comm = ApplicationCommunicator(app, websocket_scope("/ws"))
    await comm.send_input({"type": "websocket.connect"})
    assert (await comm.receive_output(5))["type"] == "websocket.accept"
    await comm.send_input({"type": "websocket.receive", "text": "ping"})
    assert await comm.receive_output(5) == {"type": "websocket.send", "text": "ping"}
    await comm.send_input({"type": "websocket.receive", "bytes": b"\x00\x01"})
    assert await comm.receive_output(5) == {"type": "websocket.send", "bytes": b"\x00\x01"}
    await comm.send_input({"type": "websocket.disconnect", "code": 1000})
    await comm.wait(5)


async def test_plain_app_websocket_under_the_prefix_is_the_legacy_apps() -> None:
    _, app = BY_NAME["plain"].load()
    comm = ApplicationCommunicator(app, websocket_scope("/llm/ws"))
    await comm.send_input({"type": "websocket.connect"})
    # The legacy app's refusal (code 1000), not the gateway's "no websocket routes" (1008).
    assert await comm.receive_output(5) == {"type": "websocket.close", "code": 1000}


async def test_config_path_from_the_environment(
    emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with serve(emulator) as url:
        config = tmp_path / "mine.yaml"
        config.write_text(
            "resources:\n"
            f"  - {{name: mine, endpoint: '{url}', auth: {{api_key: {EMULATOR_KEY}}},"
            " deployments: {gpt-4o: my-own-deployment}}\n"
            "clients: {api_keys: [another-key]}\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("AZURE_ASGI_CONFIG", str(config))
        module, app = BY_NAME["fastapi"].load()
        client = openai.AsyncOpenAI(
            base_url="http://host/llm/v1",
            api_key="another-key",
            http_client=sdk_transport(app),
        )
        async with client:
            reply = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "from my config"}]
            )
        await module.gateway.aclose()
    assert reply.choices[0].message.content == "from my config"
    assert emulator.last_request.path == "/openai/deployments/my-own-deployment/chat/completions"
