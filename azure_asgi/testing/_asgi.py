"""ASGI plumbing for the emulator: reading bodies, answering, and sending SSE streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._faults import Fault

__all__ = [
    "JSON",
    "SSE",
    "Headers",
    "Receive",
    "Scope",
    "Send",
    "StreamCut",
    "lifespan",
    "paths",
    "read_body",
    "respond",
    "send_stream",
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
    hold: Fault | None = None,
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
