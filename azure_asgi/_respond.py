"""Answering the caller from an upstream response: errors, JSON, SSE or raw bytes.

The relay is chosen by what the upstream sent, not by operation: JSON is read whole and gains
``extra_fields``; SSE and anything else (audio, file content, video) stream through as they
arrive, with the caller's disconnect closing the upstream promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ._calls import Call
from ._dispatch import BufferedResponse
from ._errors import GatewayError
from ._relay import (
    StreamState,
    pass_headers,
    pump_bytes,
    pump_stream,
    send_error,
    send_json,
    send_upstream_error,
    splice_extra_fields,
    stream_error_event,
    tag_events,
    tagged_json,
    upstream_error_object,
)
from ._resources import Target
from ._transport import UpstreamError, UpstreamResponse
from ._types import Receive, Send

__all__ = ["end_stream", "relay"]

logger = logging.getLogger("azure_asgi")


async def relay(
    resp: UpstreamResponse,
    call: Call,
    target: Target,
    receive: Receive,
    send: Send,
    state: StreamState,
    extra: dict[str, Any],
    started: float,
) -> None:
    """Send ``resp`` to the caller, recording in ``state`` how far it got."""
    op = call.match.operation
    resource = target.resource.name
    kind = state.kind = _content_kind(resp)
    if resp.status >= 400:
        body = await resp.read()
        extra["latency_ms"] = _ms(started)
        if isinstance(resp, BufferedResponse) and resp.from_gateway:
            err = upstream_error_object(resp.status, resp.body)
            error = GatewayError(resp.status, err["message"], code=err.get("code"))
            await send_error(send, error, extra)
        else:
            await send_upstream_error(send, resp, body, extra)
        return
    if kind == "sse":
        tagger = tag_events(resource) if op.stateful else None
        await _relay_stream(resp, call, receive, send, state, extra, tagger)
    elif kind == "json":
        body = await resp.read()
        extra["latency_ms"] = _ms(started)
        out = (
            tagged_json(body, resource, extra) if op.stateful else splice_extra_fields(body, extra)
        )
        headers = pass_headers(resp.headers)
        await send_json(send, resp.status, out if out is not None else body, headers)
    else:
        await pump_bytes(resp, send, state)


#: A stream still running after this long gets a task watching for its caller to leave;
#: quicker ones finish before a disconnect could matter, and cost a timer instead of a task.
WATCH_AFTER_S = 0.02


class _CallerWatch:
    """Cancels the relaying task when ``http.disconnect`` arrives, so the upstream is closed at
    once even when no chunk is due for a while."""

    __slots__ = ("_active", "_receive", "_task", "_timer", "_watch", "gone")

    def __init__(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        self._receive = receive
        self._task = task
        self._active = True
        self._watch: asyncio.Task[None] | None = None
        self.gone = False
        loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = loop.call_later(WATCH_AFTER_S, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._active:
            self._watch = asyncio.get_running_loop().create_task(_until_disconnect(self._receive))
            self._watch.add_done_callback(self._left)

    def _left(self, watch: asyncio.Task[None]) -> None:
        if self._active and not watch.cancelled() and watch.exception() is None:
            self.gone = True
            self._task.cancel()

    def stop(self) -> None:
        self._active = False
        if self._timer is not None:
            self._timer.cancel()
        if self._watch is not None:
            self._watch.cancel()


async def _relay_stream(
    resp: UpstreamResponse,
    call: Call,
    receive: Receive,
    send: Send,
    state: StreamState,
    extra: dict[str, Any],
    transform: Callable[[bytes], bytes] | None,
) -> None:
    """Pump the stream in this task, cancelled by a :class:`_CallerWatch` if the caller leaves."""
    task = asyncio.current_task()
    assert task is not None
    watch = _CallerWatch(receive, task)
    terminals = call.match.operation.stream_terminal
    try:
        await pump_stream(resp, send, state, terminals, transform)
    except asyncio.CancelledError:
        if not watch.gone:
            raise  # the deadline, or the server shutting down
        task.uncancel()  # our own cancellation: the caller left, nothing more to do
    except UpstreamError as exc:
        if not state.started:
            raise
        logger.warning("azure-asgi: stream from %s broke: %s", extra.get("resource"), exc)
        error = {
            "message": f"The upstream stream broke off before it was complete ({exc}).",
            "type": "api_error",
            "code": "stream_interrupted",
            "param": None,
        }
        await end_stream(send, error, 502, extra)
    except OSError:
        return  # the caller disconnected while we were sending
    finally:
        watch.stop()


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def end_stream(send: Send, error: dict[str, Any], status: int, extra: dict[str, Any]) -> None:
    """End a started stream with an error event, never a ``[DONE]``."""
    with contextlib.suppress(OSError):
        event = stream_error_event(error, status, extra)
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _content_kind(resp: UpstreamResponse) -> str:
    """How an answer is relayed: whole JSON (with extra_fields), SSE events, or raw bytes."""
    content_type = b""
    for name, value in resp.headers:
        if name == b"content-type":
            content_type = value
            break
    if content_type.startswith(b"text/event-stream"):
        return "sse"
    if b"json" in content_type:
        return "json"
    return "bytes"
