"""The floors: bare raw-ASGI forwarders of Azure chat completions, the gateway's lower bound.

No framework, no checks: ``POST /openai/deployments/{d}/chat/completions?...`` goes to the same
path on the upstream with the body bytes untouched and the ``api-key`` header set; the answer
comes back with its status and content type, SSE relayed chunk by chunk as it arrives.

- ``aiohttp_app``: one shared ``aiohttp.ClientSession`` (the floor to beat; the gateway's
  default transport is the same client).
- ``httpx_app``: httpx's own connection pool (``httpx.AsyncClient``), to show the difference.

Served by ``bench/launch.py`` with uvicorn or granian; the upstream comes from the environment
(``BENCH_UPSTREAM``, ``BENCH_UPSTREAM_KEY``) so granian workers can import the apps by name.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import httpx

_JSON = b"application/json"


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _lifespan(receive: Any, send: Any, close: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _target(scope: Any, upstream: str) -> str:
    query = scope.get("query_string", b"")
    path = scope.get("raw_path") or scope["path"].encode()
    return upstream + path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


class AiohttpForwarder:
    """Forward over one shared ``aiohttp.ClientSession``, created on first use."""

    def __init__(self, upstream: str, api_key: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.headers = {"api-key": api_key, "content-type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send, self.close)
        if self.session is None:
            # Sized like the gateway's own session: no pool cap, keep-alive between bursts.
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                skip_auto_headers=("User-Agent",),
            )
        body = await _read_body(receive)
        url = _target(scope, self.upstream)
        async with self.session.post(url, data=body, headers=self.headers) as resp:
            ctype = resp.headers.get("content-type", "application/json").encode("latin-1")
            if ctype.startswith(b"text/event-stream"):
                start = {"type": "http.response.start", "status": resp.status}
                await send({**start, "headers": [(b"content-type", ctype)]})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            data = await resp.read()
        headers = [(b"content-type", ctype), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


class HttpxForwarder:
    """Forward over httpx's own pool (``httpx.AsyncClient``), created on first use."""

    def __init__(self, upstream: str, api_key: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.headers = {"api-key": api_key, "content-type": "application/json"}
        self.client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send, self.close)
        if self.client is None:
            # Room for every benchmark connection to stay pooled (the default keeps only 20).
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
            self.client = httpx.AsyncClient(limits=limits, timeout=60)
        body = await _read_body(receive)
        request = self.client.build_request(
            "POST", _target(scope, self.upstream), content=body, headers=self.headers
        )
        resp = await self.client.send(request, stream=True)
        try:
            ctype = resp.headers.get("content-type", "application/json").encode("latin-1")
            if ctype.startswith(b"text/event-stream"):
                start = {"type": "http.response.start", "status": resp.status_code}
                await send({**start, "headers": [(b"content-type", ctype)]})
                async for chunk in resp.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            data = await resp.aread()
        finally:
            await resp.aclose()
        headers = [(b"content-type", ctype), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": data})


_UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9000")
_KEY = os.environ.get("BENCH_UPSTREAM_KEY", "bench-upstream-key")
aiohttp_app = AiohttpForwarder(_UPSTREAM, _KEY)
httpx_app = HttpxForwarder(_UPSTREAM, _KEY)
