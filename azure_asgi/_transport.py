"""The one small interface the gateway sends upstream requests through, and its two backends.

``aiohttp`` is the default: on a 2-core machine a bare forwarder served ~4,700 req/s over one
shared ``aiohttp.ClientSession`` against ~590 req/s over httpx's own pool, whose per-request cost
grows with every pooled connection. An injected ``httpx.AsyncClient`` works through the same
interface, for tests (``MockTransport``, respx) and in-process upstreams (``ASGITransport``);
httpx is imported only then.

Neither backend follows redirects: an allowed endpoint answering 307 must not send the
credential and body it was given to a host nobody allowed; neither sends a cookie an upstream
set, since one session serves every caller (docs/security.md).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

import aiohttp

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AiohttpTransport",
    "HttpClient",
    "HttpxTransport",
    "StreamingBody",
    "Transport",
    "UpstreamError",
    "UpstreamRequest",
    "UpstreamResponse",
    "make_transport",
]

logger = logging.getLogger("azure_asgi")


class StreamingBody(Protocol):
    """A request body sent as a stream of known length (uploads)."""

    length: int

    def stream(self) -> AsyncIterator[bytes]: ...


Body = bytes | StreamingBody | None

#: What ``AzureGateway(http_client=...)`` accepts.
HttpClient: TypeAlias = "aiohttp.ClientSession | httpx.AsyncClient | None"


@dataclass(slots=True)
class UpstreamRequest:
    """One request to send upstream, built whole by a family adapter for one target.

    ``headers`` are all that is sent besides what HTTP itself needs (host, length) and the
    client's accept defaults; they name the ``user-agent``, or the client would add its own.
    """

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: Body = None

    def __repr__(self) -> str:
        # Headers hold credentials: never part of a repr that could reach a log.
        return f"UpstreamRequest({self.method} {self.url.split('?', 1)[0]})"


class UpstreamError(Exception):
    """The upstream could not be reached, or its response broke off.

    Never carries request headers (they hold credentials): only what went wrong.
    """


class UpstreamResponse(Protocol):
    status: int
    #: Response headers as raw bytes with lower-cased names, in the order received (the shape
    #: ASGI sends them in, so passing one on costs nothing).
    headers: list[tuple[bytes, bytes]]

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; raises :class:`UpstreamError` if the body breaks off."""
        ...

    async def read(self) -> bytes: ...

    def at_eof(self) -> bool:
        """Whether the whole body is read, so closing returns the connection to the pool
        (False when the backend cannot tell)."""
        ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send one request; raise :class:`UpstreamError` when no response arrives."""
        ...

    async def aclose(self) -> None: ...


def _broke_off(exc: BaseException) -> UpstreamError:
    """A body that broke off, named by its exception's type only (never the request)."""
    return UpstreamError(f"upstream response broke off: {type(exc).__name__}")


# -- aiohttp ---------------------------------------------------------------------------------


class _AiohttpChunks:
    """The body's chunks as the socket delivered them (``readany``: no re-chunking).

    An iterator object, not an async generator: a stream's relay stops reading at its terminal
    event, and an async generator left unfinished is finalized through the event loop (a
    wake-up and a task to close it), which cost every streamed request several microseconds
    (docs/performance.md).
    """

    __slots__ = ("_content",)

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self._content = content

    def __aiter__(self) -> _AiohttpChunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._content.readany()
        except aiohttp.ClientError as exc:
            raise _broke_off(exc) from None
        if not chunk:
            raise StopAsyncIteration
        return chunk


class _AiohttpResponse:
    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = [(k.lower(), v) for k, v in resp.raw_headers]

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return _AiohttpChunks(self._resp.content)

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except aiohttp.ClientError as exc:
            raise _broke_off(exc) from None

    def at_eof(self) -> bool:
        return self._resp.content.at_eof()

    async def aclose(self) -> None:
        # release() returns a fully read connection to the pool; close() drops a half-read one.
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


class AiohttpTransport:
    """Upstream calls over one shared :class:`aiohttp.ClientSession` (owned or injected)."""

    def __init__(
        self, session: aiohttp.ClientSession | None = None, *, per_host: int | None = None
    ) -> None:
        self._session = session
        self._owned = session is None
        self._per_host = per_host or 0
        if session is not None and not isinstance(session.cookie_jar, aiohttp.DummyCookieJar):
            # Its jar is the host's to choose, and aiohttp offers no per-request opt-out.
            logger.warning(
                "azure-asgi: the injected aiohttp.ClientSession keeps cookies, so a cookie one "
                "upstream answer sets is sent on every later caller's request to that host; "
                "create the session with cookie_jar=aiohttp.DummyCookieJar()"
            )

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Sized deliberately: no global cap (limits.max_concurrency or the host's is the
            # cap), per host only when configured (each resource is one host), keep-alive
            # long enough to reuse connections between bursts; DNS cached by aiohttp.
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=self._per_host, keepalive_timeout=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                auto_decompress=True,
                # No skip_auto_headers: every request the gateway builds names its own
                # user-agent, which aiohttp then leaves alone, and a session-wide skip list
                # costs each request a header dictionary built, sorted and merged (~10k
                # instructions, docs/performance.md).
                # Every caller shares this session: a cookie an upstream set for one must never
                # travel on another's request.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        session = self._get_session()
        body = request.body
        try:
            data = body if body is None or isinstance(body, bytes) else body.stream()
            resp = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=data,
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"could not reach the upstream: {type(exc).__name__}") from None
        return _AiohttpResponse(resp)

    async def aclose(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None


# -- httpx -----------------------------------------------------------------------------------


class _HttpxResponse:
    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self.status = resp.status_code
        self.headers = [(k.lower(), v) for k, v in resp.headers.raw]

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.aiter_bytes():
                yield chunk
        except Exception as exc:
            # ASGITransport re-raises whatever the in-process app raised, so any exception here
            # means the body broke off.
            raise _broke_off(exc) from None

    async def read(self) -> bytes:
        try:
            return await self._resp.aread()
        except Exception as exc:
            raise _broke_off(exc) from None

    def at_eof(self) -> bool:
        # httpx learns that a body ended only by reading on: a drain finds out.
        return False

    async def aclose(self) -> None:
        await self._resp.aclose()


class HttpxTransport:
    """Upstream calls over an injected :class:`httpx.AsyncClient` (never closed by the gateway)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        body = request.body
        content = body if body is None or isinstance(body, bytes) else body.stream()
        try:
            built = self._client.build_request(
                request.method, request.url, headers=request.headers, content=content
            )
            # The client's jar holds what upstream answers set, for whichever caller: dropped.
            if "cookie" in built.headers:  # not pop(): a miss raises and catches a KeyError
                del built.headers["cookie"]
            resp = await self._client.send(built, stream=True, follow_redirects=False)
        except Exception as exc:
            raise UpstreamError(f"could not reach the upstream: {type(exc).__name__}") from None
        return _HttpxResponse(resp)

    async def aclose(self) -> None:
        return None


def make_transport(http_client: HttpClient, *, per_host: int | None = None) -> Transport:
    """``None`` → an owned aiohttp session (``per_host`` connections at most to each host); an
    aiohttp session or httpx client → wrapped, its own limits kept."""
    if http_client is None:
        return AiohttpTransport(per_host=per_host)
    if isinstance(http_client, aiohttp.ClientSession):
        return AiohttpTransport(http_client)
    # An httpx client can only exist once httpx is imported: no import for those who never use it.
    httpx_module = sys.modules.get("httpx")
    if httpx_module is not None and isinstance(http_client, httpx_module.AsyncClient):
        return HttpxTransport(http_client)
    raise TypeError(
        "http_client must be None, an aiohttp.ClientSession or an httpx.AsyncClient, "
        f"not {type(http_client).__name__}"
    )
