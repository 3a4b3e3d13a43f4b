"""Answering the caller: JSON, SSE, raw bytes and errors, as ASGI messages.

The relay owns every way an answer can fail once it is chosen: the upstream breaking off, the
deadline passing, the caller leaving. Bodies that pass through stay bytes: JSON gains
``extra_fields`` from the family adapter without a re-parse where it can, and SSE is forwarded
event-aligned as it arrives, or translated event by event (never buffered). A stream's
``http.response.start`` goes out with its first event, which the dispatcher already holds, so
a break before it was still retried upstream.

Once a stream's terminal event is sent nothing follows it: it ends the caller's body, and what
the upstream still sends (the chunked body's end) is read in the background (:mod:`._drains`)
so its connection is kept. A stream whose terminal event was not sent, whatever broke, ends
with an error event, never with ``[DONE]`` and never silently.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ._dispatch import Answer, Outcome
from ._drains import Drains
from ._errors import GatewayError, error_body, timeout_error
from ._exchange import Exchange
from ._sse import SSEDecoder, event_boundary
from ._transport import UpstreamError
from ._types import Send
from .families import Adapter, StreamTranslator

__all__ = [
    "answer_headers",
    "pass_headers",
    "relay",
    "send_error",
    "send_json",
]

logger = logging.getLogger("azure_asgi")

# Upstream response headers clients act on (docs/routes.md); everything else stays behind.
_PASS_EXACT = frozenset(
    {
        b"retry-after",
        b"retry-after-ms",
        # Azure's own id for the call; ``x-request-id`` is the gateway's (answer_headers).
        b"apim-request-id",
        b"x-ms-region",
        b"x-ms-client-request-id",
        b"openai-processing-ms",
    }
)
_JSON = (b"content-type", b"application/json")
#: A byte looked for as an int: a memchr, not a buffer taken of a one-byte needle first.
_CR = 0x0D
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Tell nginx-style proxies in front of the host not to buffer the stream either.
    (b"x-accel-buffering", b"no"),
]
_BINARY_PASS = frozenset({b"content-type", b"content-length", b"content-disposition"})


#: Each header name's verdict, decided once: an upstream sends the same dozen names on every
#: answer, so one look-up a header replaces a set test, a slice and a comparison. Bounded,
#: since names are what an upstream chose.
_VERDICTS: dict[bytes, bool] = {}
_VERDICTS_MAX = 1024


def _verdict(name: bytes) -> bool:
    passes = name in _PASS_EXACT or name[:12] == b"x-ratelimit-"
    if len(_VERDICTS) < _VERDICTS_MAX:
        _VERDICTS[name] = passes
    return passes


def pass_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream headers clients act on (docs/routes.md), in the order received."""
    known = _VERDICTS.get
    passed = []
    for header in headers:
        passes = known(header[0])
        if passes is None:
            passes = _verdict(header[0])
        if passes:
            passed.append(header)
    return passed


def answer_headers(
    ex: Exchange, upstream: list[tuple[bytes, bytes]] | None = None
) -> list[tuple[bytes, bytes]]:
    """Headers of every answer: the upstream's that clients act on, and the request id."""
    headers = pass_headers(upstream) if upstream else []
    headers.append((b"x-request-id", ex.request_id.encode()))
    return headers


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    raw = [_JSON, (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, ex: Exchange, error: GatewayError) -> None:
    """The gateway's own error, in the contract's one shape."""
    ex.status = error.status
    ex.error_code = error.code
    body = error_body(
        error.error_object(ex.api),
        error.status,
        is_gateway_error=True,
        extra_fields=ex.extra,
        event_id=ex.request_id,
        api=ex.api,
    )
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send_json(send, error.status, body, answer_headers(ex) + headers)


async def relay(ex: Exchange, outcome: Outcome, send: Send, drains: Drains) -> None:
    """Send the dispatcher's outcome to the caller, whatever breaks on the way; a stream's
    upstream body, once its terminal is sent, is left to ``drains``."""
    if isinstance(outcome, GatewayError):
        ex.extra["latency_ms"] = ex.latency_ms()
        await send_error(send, ex, outcome)
        return
    ex.describe(outcome.target)
    adapter = outcome.adapter
    try:
        if outcome.status >= 400:
            await _upstream_error(ex, outcome, adapter, send)
        elif outcome.kind == "json":
            ex.extra["latency_ms"] = ex.latency_ms()
            if ex.watch is not None:
                ex.watch.answer(outcome.body)
            body = adapter.answer(ex, outcome.target, outcome.body)
            ex.status = outcome.status
            await send_json(send, outcome.status, body, answer_headers(ex, outcome.headers))
        elif outcome.kind == "sse":
            await _stream(ex, outcome, adapter, send, drains)
        else:
            await _bytes(ex, outcome, send)
    finally:
        await outcome.aclose()


async def _upstream_error(ex: Exchange, answer: Answer, adapter: Adapter, send: Send) -> None:
    ex.extra["latency_ms"] = ex.latency_ms()
    ex.status = answer.status
    out = error_body(
        adapter.error(ex, answer.status, answer.body),
        answer.status,
        is_gateway_error=False,
        extra_fields=ex.extra,
        event_id=ex.request_id,
        api=ex.api,
    )
    await send_json(send, answer.status, out, answer_headers(ex, answer.headers))


async def _stream(
    ex: Exchange, answer: Answer, adapter: Adapter, send: Send, drains: Drains
) -> None:
    ex.status = answer.status
    headers = _SSE_HEADERS + answer_headers(ex, answer.headers)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    translator = adapter.translator(ex, answer.target)
    watch = ex.watch
    pump: _Translated | _Passed
    if translator is not None:
        pump = _Translated(translator if watch is None else watch.stream(translator))
    else:
        terminals = adapter.terminals(ex)
        pump = _Passed(terminals, None if watch is None else watch.blocks(terminals))
    failure: GatewayError | None = None
    try:
        try:
            with ex.deadline:
                await pump.run(ex, answer, send)
        except TimeoutError:
            failure = timeout_error(ex.deadline.timeout_s)
        except UpstreamError as exc:
            failure = GatewayError(
                502,
                f"The upstream stream broke off before it was complete ({exc}).",
                code="stream_interrupted",
            )
        # Ended means its terminal event is out, with the end of the body: whatever happened
        # after it, nothing follows.
        if pump.ended:
            response, chunks = answer.response, answer.chunks
            if response is not None and chunks is not None and not response.at_eof():
                answer.response = None  # the drain closes it
                drains.start(response, chunks)
            return
        if pump.complete:  # a stream with no terminal event to wait for
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        reported = translator.failure if translator is not None else None
        if reported is not None:
            # The upstream said why, in its own in-stream error event: pass that on.
            status, error = reported
            logger.warning(
                "azure-asgi: stream from %s failed upstream: %s",
                answer.target.resource.name,
                error.get("type"),
            )
            await _end_stream(ex, send, status, error, is_gateway_error=False)
            return
        if failure is None:
            failure = GatewayError(
                502, "The upstream stream ended before it was complete.", code="stream_interrupted"
            )
        logger.warning(
            "azure-asgi: stream from %s broke: %s", answer.target.resource.name, failure.message
        )
        await _end_stream(ex, send, failure.status, failure.error_object(ex.api))
    except OSError:
        return  # the caller disconnected while we were sending


class _Passed:
    """Relays the upstream's bytes up to the last whole event of each chunk, untouched."""

    __slots__ = ("_tap", "_terminals", "ended")

    def __init__(
        self, terminals: tuple[bytes, ...], tap: Callable[[bytes], bytes] | None = None
    ) -> None:
        self._terminals = terminals
        #: An observer's look at each block (docs/observability.md), returning what to send.
        self._tap = tap
        #: Whether the terminal event was sent, ending the caller's body in the same message.
        self.ended = False

    @property
    def complete(self) -> bool:
        """Whether nothing more is owed to the caller: the terminal is out, or none is due."""
        return self.ended or not self._terminals

    async def run(self, ex: Exchange, answer: Answer, send: Send) -> None:
        assert answer.chunks is not None
        buf = answer.body
        chunks = answer.chunks
        while True:
            end = event_boundary(buf)
            if end:
                if end == len(buf):  # the usual case: the chunk ends on an event boundary
                    out, buf = buf, b""
                else:
                    out, buf = buf[:end], buf[end:]
                await self._send(ex, send, out)
                if self.ended:
                    return
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            buf = buf + chunk if buf else chunk
        if buf.strip():
            # A final event without its blank line: complete it so parsers do not drop it.
            await self._send(ex, send, buf.rstrip(b"\r\n") + b"\n\n")

    async def _send(self, ex: Exchange, send: Send, out: bytes) -> None:
        if self._tap is not None:
            out = self._tap(out)
            if not out:
                return
        if self._terminals and _ends_with_terminal(out, self._terminals):
            # The terminal event: it ends the caller's body in the same message, and nothing
            # more is read (docs/routes.md, "Streaming"). Ended only once it is out: a send cut
            # short by the deadline still owes the caller an error event.
            await _send_last(ex, send, out)
            self.ended = True
        else:
            await _send_part(ex, send, out)


def _ends_with_terminal(block: bytes, terminals: tuple[bytes, ...]) -> bool:
    """Whether the last event of ``block`` is a terminal one: from the blank line before it to
    its end, trailing space aside, read in place (the block may be kilobytes)."""
    end = len(block)
    if block[-2:] == b"\n\n":  # the usual end of a block: one step for its blank line
        end -= 2
    while end and block[end - 1] in b" \t\n\r\x0b\x0c":  # what bytes.rstrip() strips
        end -= 1
    start = block.rfind(b"\n\n", 0, end) + 1
    for terminal in terminals:  # noqa: SIM110 - no generator for one or two terminals
        if block.find(terminal, start, end) >= 0:
            return True
    return False


class _Translated:
    """Relays a stream through the family's translator, one upstream event at a time."""

    __slots__ = ("_translator", "ended")

    def __init__(self, translator: StreamTranslator) -> None:
        self._translator = translator
        #: Whether the caller's body was ended here, with the translation of the terminal.
        self.ended = False

    @property
    def complete(self) -> bool:
        """Whether the translated terminal is out (a translator always has one to send)."""
        return self.ended

    async def run(self, ex: Exchange, answer: Answer, send: Send) -> None:
        assert answer.chunks is not None
        # Made when a chunk needs it: a stream whose events the translator reads raw never does.
        decoder: SSEDecoder | None = None
        translator = self._translator
        feed_raw = getattr(translator, "feed_raw", None)
        chunks = answer.chunks
        chunk = answer.body
        pending = b""
        while True:
            if feed_raw is not None and _CR not in chunk:
                # LF-only events, whole: a translator that reads raw bytes takes them as they
                # are, up to the last blank line; the rest waits for the next chunk.
                buf = pending + chunk if pending else chunk
                end = buf.rfind(b"\n\n") + 2
                if end < 2:
                    pending, out = buf, []
                elif end == len(buf):
                    pending, out = b"", feed_raw(buf)
                else:
                    pending, out = buf[end:], feed_raw(buf[:end])
            else:
                if pending:
                    chunk, pending = pending + chunk, b""
                feed_raw = None  # a CR seen: line ends need the decoder from here on
                if decoder is None:
                    decoder = SSEDecoder()
                out = [piece for event in decoder.feed(chunk) for piece in translator.feed(event)]
            if translator.complete:
                # The terminal's translation and what the translator ends with go out with the
                # end of the caller's body, in one message; nothing more is read.
                await _send_last(ex, send, b"".join(out + translator.end()))
                self.ended = True
                return
            if out:
                await _send_part(ex, send, b"".join(out))
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
        if decoder is None:
            decoder = SSEDecoder()
        rest = decoder.feed(pending) if pending else []
        tail = [piece for event in (*rest, *decoder.end()) for piece in translator.feed(event)]
        tail += translator.end()
        if translator.complete:
            await _send_last(ex, send, b"".join(tail))
            self.ended = True
        elif tail:
            await _send_part(ex, send, b"".join(tail))


async def _send_part(ex: Exchange, send: Send, body: bytes) -> None:
    """One more piece of a started answer; the first one's time is the time to first byte."""
    await send({"type": "http.response.body", "body": body, "more_body": True})
    if ex.first_byte is None:
        ex.first_byte = time.perf_counter()


async def _send_last(ex: Exchange, send: Send, body: bytes) -> None:
    """The last piece of a stream, ending its body in the same message (one write less)."""
    await send({"type": "http.response.body", "body": body, "more_body": False})
    if ex.first_byte is None:
        ex.first_byte = time.perf_counter()


async def _bytes(ex: Exchange, answer: Answer, send: Send) -> None:
    """Relay a binary or text body (audio, file content, video) chunk by chunk."""
    assert answer.response is not None
    headers = [(k, v) for k, v in answer.headers if k in _BINARY_PASS]
    headers += answer_headers(ex, answer.headers)
    started = False
    try:
        with ex.deadline:
            async for chunk in answer.response.iter_chunks():
                if not started:
                    ex.status = answer.status
                    start = {"type": "http.response.start", "status": answer.status}
                    await send({**start, "headers": headers})
                    started = True
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not started:
            ex.status = answer.status
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (TimeoutError, UpstreamError) as exc:
        if not started:
            if isinstance(exc, TimeoutError):
                raise timeout_error(ex.deadline.timeout_s) from None
            raise GatewayError(
                502, f"The upstream answer broke off: {exc}.", code="stream_interrupted"
            ) from None
        # Leaving the body unfinished makes the server drop the connection, so the caller
        # never takes a cut file for a complete one.
        logger.warning("azure-asgi: answer from %s broke off: %s", ex.extra.get("resource"), exc)
    except OSError:
        return


async def _end_stream(
    ex: Exchange, send: Send, status: int, error: dict[str, Any], *, is_gateway_error: bool = True
) -> None:
    """End a started stream with an error event, never a ``[DONE]``: ``data:`` with the error
    envelope, which the openai SDK raises on; ``event: error`` on the ``/anthropic`` routes, as
    the Anthropic SDK expects."""
    ex.status = status
    code = error.get("code") or error.get("type")
    ex.error_code = str(code) if code is not None else None
    body = error_body(
        error,
        status,
        is_gateway_error=is_gateway_error,
        extra_fields=ex.extra,
        event_id=ex.request_id,
        api=ex.api,
    )
    with contextlib.suppress(OSError):
        head = b"event: error\ndata: " if ex.api == "anthropic" else b"data: "
        event = head + body + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
