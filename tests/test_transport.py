"""The upstream transport seam: which clients it takes, what it owns and closes, and that nothing
it says about a request shows its headers or query string."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
import httpx2
import pytest

from azure_asgi._transport import (
    AiohttpTransport,
    HttpxTransport,
    UpstreamError,
    UpstreamRequest,
    make_transport,
)

SECRET = "sk-upstream-secret"
URL = "https://r.example/openai/deployments/d/chat/completions"


def request(url: str = URL, body: bytes | None = b"{}") -> UpstreamRequest:
    return UpstreamRequest(
        "POST", url, [("api-key", SECRET), ("content-type", "application/json")], body
    )


# -- make_transport --------------------------------------------------------------------------


async def test_no_client_means_an_owned_aiohttp_session_closed_with_the_transport() -> None:
    transport = make_transport(None, per_host=3)
    assert isinstance(transport, AiohttpTransport)
    session = transport._get_session()
    assert session.connector is not None and session.connector.limit_per_host == 3
    await transport.aclose()
    assert session.closed


async def test_an_injected_aiohttp_session_is_used_and_left_open() -> None:
    async with aiohttp.ClientSession() as session:
        transport = make_transport(session, per_host=3)
        assert isinstance(transport, AiohttpTransport)
        assert transport._get_session() is session  # its own limits kept
        await transport.aclose()
        assert not session.closed


async def test_an_injected_httpx_client_is_used_and_left_open() -> None:
    seen: list[httpx.Request] = []

    def upstream(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, content=b"ok")

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        transport = make_transport(client)
        assert isinstance(transport, HttpxTransport)
        resp = await transport.send(request(URL + "?api-version=1"))
        assert (resp.status, await resp.read()) == (200, b"ok")
        await resp.aclose()
        await transport.aclose()
        assert not client.is_closed
    (sent,) = seen
    assert str(sent.url) == URL + "?api-version=1"
    assert sent.headers["api-key"] == SECRET and sent.content == b"{}"


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (dict, "dict"),
        (lambda: "http://upstream", "str"),
        (httpx.Client, "Client"),  # sync httpx: no
        (httpx2.AsyncClient, "AsyncClient"),  # another library's client of the same name
    ],
    ids=["dict", "str", "httpx-sync", "httpx2"],
)
async def test_anything_else_is_refused_naming_its_type(make: Any, name: str) -> None:
    client = make()
    try:
        with pytest.raises(TypeError) as caught:
            make_transport(client)
    finally:
        if hasattr(client, "close"):
            client.close()
        elif hasattr(client, "aclose"):
            await client.aclose()
    assert str(caught.value) == (
        f"http_client must be None, an aiohttp.ClientSession or an httpx.AsyncClient, not {name}"
    )


# -- what a request shows --------------------------------------------------------------------


def test_an_upstream_requests_repr_shows_neither_headers_nor_query() -> None:
    req = request(URL + f"?api-version=2024-10-21&sig={SECRET}")
    assert repr(req) == f"UpstreamRequest(POST {URL})"
    assert str(req) == repr(req)
    assert SECRET not in repr(req) and "api-version" not in repr(req)


async def test_an_unreachable_upstream_is_an_upstream_error_without_the_request() -> None:
    transport = make_transport(None)
    try:
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(f"http://127.0.0.1:9/x?sig={SECRET}"))
    finally:
        await transport.aclose()
    assert str(caught.value).startswith("could not reach the upstream: ")
    assert SECRET not in str(caught.value) and caught.value.__cause__ is None


async def test_an_httpx_failure_is_an_upstream_error_without_the_request() -> None:
    def broken(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"failed for {req.url} with {req.headers}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as client:
        with pytest.raises(UpstreamError) as caught:
            await make_transport(client).send(request(URL + f"?sig={SECRET}"))
    assert str(caught.value) == "could not reach the upstream: ConnectError"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_a_redirect_is_answered_not_followed() -> None:
    seen: list[str] = []

    def upstream(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        return httpx.Response(307, headers={"location": "https://elsewhere.example/steal"})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(upstream), follow_redirects=True
    ) as client:
        resp = await make_transport(client).send(request())
        await resp.aclose()
    assert resp.status == 307
    assert seen == [URL]
