"""ASGI plumbing for the emulator: reading bodies, answering, and sending SSE streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._faults import HoldStreamFault

__all__ = [
    "JSON",
    "SSE",
    "ConnectionDropped",
    "Headers",
    "Receive",
    "Scope",
    "Send",
    "StreamCut",
    "drop_connection",
    "lifespan",
    "paths",
    "read_body",
    "respond",
    "send_stream",
    "truncating",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"


class StreamCut(ConnectionResetError):
    """Raised by the emulator to break a stream on purpose (``Fault.cut_stream``)."""


class ConnectionDropped(ConnectionResetError):
    """Raised by the emulator to end a request with no response (``Fault.drop_connection``)."""


async def drop_connection(send: Send) -> None:
    """End the request without a response: abort the socket under uvicorn, else raise.

    ASGI has no message for "close without answering": a server whose app returns or raises
    before ``http.response.start`` answers 500 itself. uvicorn's ``send`` is a method of the
    request cycle that holds the socket's transport, so the emulator aborts that (a TCP reset,
    as a crashed upstream gives) and returns once the server has seen the connection go, which
    keeps uvicorn from logging or answering. Elsewhere (an in-process ``ASGITransport``) the
    caller gets :class:`ConnectionDropped`.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise ConnectionDropped("emulator: connection dropped before the response headers")
    transport.abort()
    for _ in range(100):  # connection_lost runs on the loop's next turns
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


def truncating(send: Send, at_bytes: int) -> Send:
    """A ``send`` that cuts a JSON response's body to ``at_bytes`` (``content-length`` too).

    Other responses (streams, binary downloads) pass through untouched.
    """
    started: Message | None = None
    done = False

    async def cut(message: Message) -> None:
        nonlocal started, done
        if message["type"] == "http.response.start":
            kind = dict(message.get("headers", [])).get(b"content-type", b"")
            if kind.startswith(JSON):
                started = message
                return
        elif started is not None and message["type"] == "http.response.body":
            if done:
                return
            done = True
            body = bytes(message.get("body", b""))[:at_bytes]
            headers = [(k, v) for k, v in started["headers"] if k != b"content-length"]
            headers.append((b"content-length", b"%d" % len(body)))
            await send({**started, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send(message)

    return cut


def paths(scope: Scope) -> tuple[str, bytes]:
    """The decoded path and raw path relative to ``root_path`` (when mounted under a prefix)."""
    path: str = scope["path"]
    raw_path: bytes = scope.get("raw_path") or path.encode()
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
        raw_root = root.encode()
        if raw_path.startswith(raw_root):
            raw_path = raw_path[len(raw_root) :]
    return path, raw_path


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send, status: int, body: bytes, headers: Headers, *, content_type: bytes = JSON
) -> None:
    """Send a complete response (JSON unless told otherwise)."""
    start = [(b"content-type", content_type), (b"content-length", b"%d" % len(body)), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_stream(
    send: Send,
    receive: Receive,
    events: list[bytes],
    headers: Headers,
    *,
    delay_s: float = 0.0,
    cut_after: int | None = None,
    hold: HoldStreamFault | None = None,
    content_type: bytes = SSE,
) -> bool:
    """Send ``events`` as an SSE response (or chunks of another type), one body message each.

    Returns True when the stream completed, False when the client went away (an
    ``http.disconnect``, or a ``send`` that failed). Raises :class:`StreamCut` at
    ``cut_after``; waits for ``hold.release`` at ``hold.after_chunks``.
    """
    gone = asyncio.Event()
    # receive() only yields http.disconnect once the body is read: watching it in the
    # background is how a client that went away is noticed between chunks.
    watcher = asyncio.create_task(_watch_disconnect(receive, gone))
    try:
        start = [(b"content-type", content_type), *headers]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        for index in range(len(events) + 1):
            if index == cut_after:
                # Raising after the response started makes a server drop the connection
                # without the chunked terminator, which is what a broken upstream looks like.
                raise StreamCut("emulator: stream cut")
            if hold is not None and index == hold.after_chunks:
                await _first_of(hold.release, gone)
            elif index and delay_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), delay_s)
            if gone.is_set():
                return False
            if index < len(events):
                await send({"type": "http.response.body", "body": events[index], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    except StreamCut:
        raise
    except OSError:
        # The server could not write (uvicorn raises ClientDisconnected): the client is gone.
        return False
    finally:
        watcher.cancel()
        # wait() neither raises the watcher's cancellation nor swallows one aimed at us.
        await asyncio.wait([watcher])


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer lifespan startup and shutdown; the emulator holds nothing to open or close."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
