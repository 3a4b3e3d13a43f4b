"""Shared fixtures: the emulator upstream, gateways over both upstream clients, SDK clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import openai
import pytest

import azure_asgi.testing as kit
from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator

# The kit's fixtures (azure_emulator, azure_gateway, ...) for the project's own tests too.
pytest_plugins = ["azure_asgi.testing.pytest_plugin"]

EMULATOR_KEY = "emulator-key"
CLIENT_KEY = "client-key-123"
API_VERSION = "2024-10-21"


def make_config(endpoint: str = "http://emulator", **overrides: Any) -> dict[str, Any]:
    """A two-alias, one-resource config pointing at ``endpoint``."""
    config: dict[str, Any] = {
        "api_version": API_VERSION,
        "retries": {"max_attempts": 3, "initial_backoff_ms": 1, "max_backoff_ms": 5},
        "resources": [
            {
                "name": "eastus",
                "endpoint": endpoint,
                "auth": {"api_key": EMULATOR_KEY},
                "deployments": {"gpt-4o": "my-gpt4o", "gpt-4o-mini": "my-mini"},
            }
        ],
        "clients": {"api_keys": [CLIENT_KEY]},
    }
    config.update(overrides)
    return config


# One loopback server for the whole suite: the kit's (azure_asgi.testing.serve and
# serve_in_thread), re-exported under the names the tests have always imported.
serve = kit.serve
serve_in_thread = kit.serve_in_thread


@pytest.fixture
def emulator() -> AzureEmulator:
    return AzureEmulator(api_keys=(EMULATOR_KEY,))


@pytest.fixture(params=["httpx", "aiohttp"])
async def upstream_endpoint(
    request: pytest.FixtureRequest, emulator: AzureEmulator
) -> AsyncIterator[tuple[str, Any]]:
    """(endpoint, http_client) for the gateway: in-process httpx, or aiohttp over loopback."""
    if request.param == "httpx":
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator))
        async with client:
            yield "http://emulator", client
    else:
        async with serve(emulator) as url:
            yield url, None


@pytest.fixture
async def gateway(upstream_endpoint: tuple[str, Any]) -> AsyncIterator[AzureGateway]:
    """The gateway in front of the emulator, once per upstream client implementation."""
    endpoint, client = upstream_endpoint
    gw = AzureGateway(make_config(endpoint), http_client=client)
    async with gw:
        yield gw


def mock_gateway(handler: Any, config: Any = None, **gateway_kwargs: Any) -> AzureGateway:
    """A gateway whose upstream is ``httpx.MockTransport(handler)``: ``handler`` (sync or async)
    sees every request the gateway sends, as sent. ``config`` defaults to :func:`make_config`."""
    upstream = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AzureGateway(
        make_config() if config is None else config, http_client=upstream, **gateway_kwargs
    )


def emulator_gateway(upstream: Any, config: Any = None, **gateway_kwargs: Any) -> AzureGateway:
    """A gateway in front of an in-process ASGI upstream (an emulator, or a mapping of host name
    to app for several resources): the kit's factory, with :func:`make_config` as the default
    config (its endpoint ``http://emulator`` any single app answers)."""
    return kit.emulator_gateway(
        upstream, make_config() if config is None else config, **gateway_kwargs
    )


def caller(app: Any, **headers: str) -> httpx.AsyncClient:
    """A raw HTTP client for ``app`` sending the client key unless told otherwise."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"api-key": CLIENT_KEY, **headers},
    )


def sdk_transport(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))


def async_openai(app: Any, base_url: str = "http://gateway/v1") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key=CLIENT_KEY, http_client=sdk_transport(app))


def async_azure_openai(app: Any, endpoint: str = "http://gateway") -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=endpoint,
        api_key=CLIENT_KEY,
        api_version=API_VERSION,
        http_client=sdk_transport(app),
    )


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there world"}]}


# One SSE reader: the kit's, on the project's own SSEDecoder.
sse_events = kit.sse_events
sse_data = kit.sse_data
sse_json = kit.sse_json


async def eventually(predicate: Any, timeout: float = 2.0) -> None:
    """Wait until ``predicate()`` holds: the upstream's own bookkeeping (a server task finishing
    after its last byte went out) may trail what the client has already received."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.005)


def http_scope(
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "POST",
) -> dict[str, Any]:
    """An HTTP scope for driving an ASGI app with ``asgiref.testing.ApplicationCommunicator``
    (httpx's ASGITransport would buffer a whole streamed answer)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


Step = Any  # an async callable (send) -> None: one scripted upstream answer


async def request_body(receive: Any) -> bytes:
    """The whole body of a request, as a test upstream reads it."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


class Scripted:
    """A raw ASGI upstream answering request N with ``steps[N]`` (the last step repeats), and
    recording every request: for seams the emulator has no fault for (CRLF streams, redirects,
    a stream cut before its first event, a caller that leaves)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []
        self.disconnected = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        self.requests.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body,
            }
        )
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        await step(send, receive, self)


def sse_step(*events: bytes, status: int = 200, hold_s: float = 0.0, cut: bool = False) -> Step:
    """Answer with an SSE body written event by event; then hold the connection open for
    ``hold_s`` before ending it, or cut it (``cut``: end with an error instead of a clean end)."""

    async def step(send: Any, receive: Any, upstream: Scripted) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if hold_s:
            await asyncio.sleep(hold_s)
        if cut:
            raise RuntimeError("cut")
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return step


def json_step(
    body: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
) -> Step:
    async def step(send: Any, receive: Any, upstream: Scripted) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [(b"content-type", b"application/json"), *(headers or [])]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw})

    return step


def wait_for_disconnect_step() -> Step:
    """Never answer; note when the gateway hangs up on this upstream call."""

    async def step(send: Any, receive: Any, upstream: Scripted) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        upstream.disconnected.set()

    return step


@contextlib.asynccontextmanager
async def scripted_upstream(
    kind: str, upstream: Scripted
) -> AsyncIterator[tuple[str, httpx.AsyncClient | None]]:
    """(endpoint, http_client) for a gateway in front of ``upstream``: ``httpx`` in-process, or
    ``aiohttp`` over a loopback server."""
    if kind == "httpx":
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream)) as client:
            yield "http://upstream", client
    else:
        async with serve(upstream) as url:
            yield url, None


@contextlib.asynccontextmanager
async def through_gateway(
    kind: str, upstream: Scripted, **config: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client (with the client key) for a gateway in front of ``upstream``."""
    async with (
        scripted_upstream(kind, upstream) as (url, client),
        AzureGateway(make_config(url, **config), http_client=client) as gw,
        caller(gw) as c,
    ):
        yield c
