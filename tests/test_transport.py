"""The upstream transport seam: which clients it takes, what it owns and closes, and that nothing
it says about a request shows its headers or query string."""

from __future__ import annotations

import asyncio
import sys
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


# -- aiohttp bodies ----------------------------------------------------------------------------


async def _chunked_upstream(parts: list[bytes], *, cut: bool) -> asyncio.Server:
    """A loopback HTTP/1.1 server answering once with ``parts`` as chunks, a pause between
    them; ``cut`` drops the connection instead of ending the body."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for part in parts:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.02)
        if cut:
            writer.transport.abort()
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _read_chunks(parts: list[bytes], got: list[bytes], *, cut: bool) -> list[str]:
    """Read the aiohttp transport's ``iter_chunks`` into ``got``; the files of every async
    generator started while it read."""
    server = await _chunked_upstream(parts, cut=cut)
    port = server.sockets[0].getsockname()[1]
    transport = make_transport(None)
    started: list[str] = []
    hooks = sys.get_asyncgen_hooks()

    def firstiter(agen: Any) -> None:
        started.append(agen.ag_code.co_filename)
        if hooks.firstiter is not None:
            hooks.firstiter(agen)

    try:
        resp = await transport.send(request(f"http://127.0.0.1:{port}/stream"))
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=hooks.finalizer)
        try:
            async for chunk in resp.iter_chunks():
                got.append(chunk)
        finally:
            sys.set_asyncgen_hooks(*hooks)
            await resp.aclose()
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
    return started


async def test_aiohttp_chunks_arrive_as_sent_with_no_async_generator_to_finalize() -> None:
    parts = [b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"]
    got: list[bytes] = []
    started = await _read_chunks(parts, got, cut=False)
    assert b"".join(got) == b"".join(parts)
    # Each chunk as the socket delivered it, none held back for the next.
    assert len(got) == len(parts)
    # A relay stops reading at the terminal event: an async generator left unfinished there
    # would be finalized through the event loop on every streamed request.
    assert [f for f in started if "azure_asgi" in f] == []


async def test_aiohttp_body_breaking_off_is_an_upstream_error_after_what_arrived() -> None:
    got: list[bytes] = []
    with pytest.raises(UpstreamError) as caught:
        await _read_chunks([b"data: 1\n\n"], got, cut=True)
    assert got == [b"data: 1\n\n"]
    assert str(caught.value).startswith("upstream response broke off: ")
    assert caught.value.__cause__ is None


# -- cookies -----------------------------------------------------------------------------------


async def _cookie_setting_upstream(heads: list[bytes]) -> asyncio.Server:
    """A loopback HTTP/1.1 server that records each request head and sets a cookie on every
    answer, as a load balancer's affinity cookie would."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            heads.append(head.lower())
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
                b"set-cookie: affinity=first-caller; Path=/\r\n\r\nok"
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _heads_through_owned_session(host: str, *requests: UpstreamRequest) -> list[bytes]:
    """The request heads the recording upstream got for ``requests`` sent over the owned
    aiohttp session (each URL a path on that upstream, ``host`` its name)."""
    heads: list[bytes] = []
    server = await _cookie_setting_upstream(heads)
    port = server.sockets[0].getsockname()[1]
    transport = make_transport(None)
    try:
        for sent in requests:
            sent.url = f"http://{host}:{port}{sent.url}"
            resp = await transport.send(sent)
            assert resp.status == 200
            await resp.read()
            await resp.aclose()
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
    return heads


async def test_the_owned_session_never_sends_an_upstream_cookie_back() -> None:
    # One shared session serves every caller: a cookie one answer set, sent on the next
    # request, would carry one caller's upstream session into another's. (A host name, not an
    # IP: aiohttp's default jar ignores cookies from IP addresses.)
    heads = await _heads_through_owned_session("localhost", request("/chat"), request("/chat"))
    assert len(heads) == 2
    assert all(b"\r\ncookie:" not in head for head in heads)


async def test_the_owned_session_sends_the_requests_user_agent_and_no_other() -> None:
    # The session has no skip list (each request would pay for merging it): the request's own
    # user-agent is what keeps aiohttp's "Python/x aiohttp/y" off the wire.
    sent = request("/chat")
    sent.headers.append(("user-agent", "azure-asgi"))
    (head,) = await _heads_through_owned_session("127.0.0.1", sent)
    assert head.count(b"\r\nuser-agent:") == 1
    assert b"\r\nuser-agent: azure-asgi\r\n" in head
    assert b"aiohttp" not in head


async def test_an_injected_httpx_client_never_sends_an_upstream_cookie_back() -> None:
    seen: list[httpx.Request] = []

    def upstream(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, headers={"set-cookie": "affinity=first-caller; Path=/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        transport = make_transport(client)
        for _ in range(2):
            resp = await transport.send(request())
            await resp.read()
            await resp.aclose()
    assert len(seen) == 2
    assert all("cookie" not in req.headers for req in seen)


async def test_an_injected_aiohttp_session_that_keeps_cookies_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with aiohttp.ClientSession() as keeping:
        with caplog.at_level("WARNING", logger="azure_asgi"):
            make_transport(keeping)
    assert "cookie_jar=aiohttp.DummyCookieJar()" in caplog.text
    caplog.clear()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as dropping:
        with caplog.at_level("WARNING", logger="azure_asgi"):
            make_transport(dropping)
    assert caplog.text == ""
