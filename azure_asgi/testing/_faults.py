"""Faults the emulator can inject: one small frozen class per kind, built with ``Fault.<kind>()``.

The kinds, and what a request that takes one sees, are tabled in docs/testing.md.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar

from ._json import json_bytes
from ._messages import anthropic_error, error_type_for

__all__ = [
    "CutStreamFault",
    "DropConnectionFault",
    "Fault",
    "HoldStreamFault",
    "MalformedJsonFault",
    "SlowFault",
    "SlowStreamFault",
    "StatusFault",
    "StreamErrorFault",
    "TruncatedJsonFault",
]

# What one request can take at most one of: an answer in place of the real one, a delay
# before the headers, something done to a stream, something done to a JSON body.
GROUP_ANSWER, GROUP_DELAY, GROUP_STREAM, GROUP_BODY = "answer", "delay", "stream", "body"

_INTERNAL_ERROR = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through an Azure support request at: "
    "https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error."
)
_FILTERED = {"filtered": False, "severity": "safe"}
_CONTENT_FILTER_ERROR: dict[str, Any] = {
    "message": (
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry. To learn more about our "
        "content filtering policies please read our documentation: "
        "https://go.microsoft.com/fwlink/?linkid=2198766"
    ),
    "type": None,
    "param": "prompt",
    "code": "content_filter",
    "status": 400,
    "innererror": {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            "hate": {"filtered": True, "severity": "high"},
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": _FILTERED,
            "sexual": _FILTERED,
            "violence": _FILTERED,
        },
    },
}
# A chat completion cut off mid-string: what a proxy that gave up half-way delivers.
_BROKEN_JSON = b'{"id": "chatcmpl-emu", "object": "chat.completion", "choices": [{"index": 0, "mes'
_OVERLOADED = "Overloaded"

Rendered = tuple[int, list[tuple[bytes, bytes]], bytes]


@dataclass(frozen=True, eq=False)
class Fault:
    """Something to go wrong with the next request(s); build one with a classmethod.

    ::

        emulator.inject(Fault.status(429, retry_after_ms=200), times=2)
        emulator.inject(Fault.cut_stream(after_chunks=3), match=Match(path="/chat/"))
        held = Fault.hold_stream(after_chunks=2)
        emulator.inject(held)
        ...  # read the first chunks, then
        held.release.set()

    Each classmethod returns an instance of one small frozen class (:class:`StatusFault`,
    :class:`CutStreamFault`, ...); ``kind`` names it. Stream faults count SSE events: the
    first event of a chat stream is Azure's ``prompt_filter_results`` chunk. A stream fault
    taken by a non-streaming request has no effect. Instances compare by identity, so each
    ``hold_stream`` has its own ``release``.
    """

    kind: ClassVar[str] = "fault"
    group: ClassVar[str] = GROUP_ANSWER

    @functools.cached_property
    def release(self) -> asyncio.Event:
        """Only :class:`HoldStreamFault` waits on it; every fault has one, so code that
        releases whatever it injected needs no type check."""
        return asyncio.Event()

    @classmethod
    def status(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after_ms: int | None = None,
    ) -> StatusFault:
        """Answer with an Azure error body of this status (Anthropic's shape on its route).

        ``retry_after_ms`` adds ``retry-after-ms: N`` and ``retry-after: ceil(N/1000)``::

            emulator.inject(Fault.status(429, retry_after_ms=50))
        """
        extra = dict(headers or {})
        if retry_after_ms is not None:
            extra["retry-after-ms"] = str(retry_after_ms)
            extra["retry-after"] = str(math.ceil(retry_after_ms / 1000))
        return StatusFault(status, code=code, message=message, headers=tuple(extra.items()))

    @classmethod
    def overloaded(cls) -> StatusFault:
        """Answer 529 ``overloaded_error``, as Anthropic does when Claude is saturated::

        emulator.inject(Fault.overloaded(), match=Match(path="/anthropic/"))
        """
        return StatusFault(529, code="529", message=_OVERLOADED)

    @classmethod
    def content_filter(cls) -> StatusFault:
        """Answer with Azure's 400 ``content_filter`` error (``innererror`` included)::

        emulator.inject(Fault.content_filter())
        """
        return StatusFault(400, error=_CONTENT_FILTER_ERROR)

    @classmethod
    def drop_connection(cls) -> DropConnectionFault:
        """Close the connection before any response header is sent.

        Served by uvicorn the socket is aborted (the client sees a reset or "server
        disconnected"); over an in-process ``ASGITransport`` the app raises
        :class:`ConnectionResetError` to the caller::

            emulator.inject(Fault.drop_connection())
        """
        return DropConnectionFault()

    @classmethod
    def malformed_json(cls, body: bytes = _BROKEN_JSON, *, status: int = 200) -> MalformedJsonFault:
        """Answer ``status`` (200) with ``body`` as ``application/json``: by default a chat
        completion cut off mid-string, whatever was asked::

            emulator.inject(Fault.malformed_json())
            emulator.inject(Fault.malformed_json(b"<html>Bad Gateway</html>"))
        """
        return MalformedJsonFault(body, status)

    @classmethod
    def truncated_json(cls, at_bytes: int) -> TruncatedJsonFault:
        """Answer as usual, but keep only the first ``at_bytes`` bytes of a JSON body
        (``content-length`` says so, so the client reads a complete, broken body)::

            emulator.inject(Fault.truncated_json(at_bytes=40))
        """
        if at_bytes < 0:
            raise ValueError("at_bytes must not be negative")
        return TruncatedJsonFault(at_bytes)

    @classmethod
    def slow(cls, delay_s: float) -> SlowFault:
        """Wait ``delay_s`` seconds before sending the response headers::

        emulator.inject(Fault.slow(0.1))
        """
        return SlowFault(delay_s)

    @classmethod
    def slow_stream(cls, chunk_delay_s: float) -> SlowStreamFault:
        """Pause ``chunk_delay_s`` seconds between the SSE events of that stream::

        emulator.inject(Fault.slow_stream(0.02))
        """
        return SlowStreamFault(chunk_delay_s)

    @classmethod
    def cut_stream(cls, after_chunks: int) -> CutStreamFault:
        """Send ``after_chunks`` SSE events, then break the connection (no ``[DONE]``).

        The app raises :class:`ConnectionResetError`: uvicorn then closes the connection
        without the chunked terminator (aiohttp raises ``ClientPayloadError``), and an
        in-process ``ASGITransport`` raises it to its caller::

            emulator.inject(Fault.cut_stream(after_chunks=3))
        """
        return CutStreamFault(after_chunks)

    @classmethod
    def hold_stream(cls, after_chunks: int) -> HoldStreamFault:
        """Send ``after_chunks`` SSE events, then wait until ``fault.release`` is set.

        A client that disconnects meanwhile ends the wait too. ``release`` is an
        :class:`asyncio.Event`: set it from the loop serving the emulator (from another
        thread, ``loop.call_soon_threadsafe(fault.release.set)``)::

            fault = Fault.hold_stream(after_chunks=1)
            emulator.inject(fault)
            ...  # the first chunk has arrived; the stream is still open
            fault.release.set()
        """
        return HoldStreamFault(after_chunks)

    @classmethod
    def stream_error(
        cls,
        after_chunks: int = 1,
        *,
        error_type: str = "overloaded_error",
        message: str = _OVERLOADED,
    ) -> StreamErrorFault:
        """Send ``after_chunks`` SSE events, then an error event, then end the stream cleanly.

        On ``/anthropic`` routes the event is Anthropic's ``event: error`` (by default
        ``overloaded_error``); on Azure routes it is ``data: {"error": {...}}``, which the
        openai SDK raises as ``APIError``::

            emulator.inject(Fault.stream_error(after_chunks=3), match=Match(path="/anthropic/"))
        """
        return StreamErrorFault(after_chunks, error_type, message)


@dataclass(frozen=True, eq=False)
class StatusFault(Fault):
    """An error status in the route's error shape (Azure's, or Anthropic's on its route)."""

    kind: ClassVar[str] = "status"
    group: ClassVar[str] = GROUP_ANSWER
    status_code: int
    code: str | None = None
    message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error: Mapping[str, Any] | None = None  # a complete Azure error object (content filter)

    def _render(self, *, anthropic: bool, api_version: str) -> Rendered:
        """The ``(status, headers, body)`` of the answer, for the route's error shape."""
        status = self.status_code
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if self.error is not None:
            message = str(self.error.get("message", ""))
        elif self.message is not None:
            message = self.message
        elif status == 429:
            seconds = next((v for k, v in self.headers if k.lower() == "retry-after"), "1")
            message = (
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                f"{api_version} have exceeded token rate limit of your current AIServices S0 "
                f"pricing tier. Please retry after {seconds} seconds. Please contact Azure support "
                "service if you would like to further increase the default rate limit."
            )
        elif status == 500:
            message = _INTERNAL_ERROR
        else:
            message = _phrase(status)
        if anthropic:
            return status, headers, anthropic_error(error_type_for(status), message)
        if self.error is not None:
            error = dict(self.error)
        else:
            default_code = "InternalServerError" if status == 500 else str(status)
            error = {"code": self.code or default_code, "message": message}
        return status, headers, json_bytes({"error": error})


@dataclass(frozen=True, eq=False)
class DropConnectionFault(Fault):
    """The connection closes before the response headers."""

    kind: ClassVar[str] = "drop_connection"
    group: ClassVar[str] = GROUP_ANSWER


@dataclass(frozen=True, eq=False)
class MalformedJsonFault(Fault):
    """A JSON content type over a body that is not JSON."""

    kind: ClassVar[str] = "malformed_json"
    group: ClassVar[str] = GROUP_ANSWER
    body: bytes = _BROKEN_JSON
    status_code: int = 200

    def _render(self, *, anthropic: bool, api_version: str) -> Rendered:
        return self.status_code, [], self.body


@dataclass(frozen=True, eq=False)
class TruncatedJsonFault(Fault):
    """The real JSON answer, cut after ``at_bytes`` bytes."""

    kind: ClassVar[str] = "truncated_json"
    group: ClassVar[str] = GROUP_BODY
    at_bytes: int


@dataclass(frozen=True, eq=False)
class SlowFault(Fault):
    """A pause before the response headers."""

    kind: ClassVar[str] = "slow"
    group: ClassVar[str] = GROUP_DELAY
    delay_s: float


@dataclass(frozen=True, eq=False)
class SlowStreamFault(Fault):
    """A pause between the events of a stream."""

    kind: ClassVar[str] = "slow_stream"
    group: ClassVar[str] = GROUP_STREAM
    delay_s: float


@dataclass(frozen=True, eq=False)
class CutStreamFault(Fault):
    """A stream broken after ``after_chunks`` events, without its terminator."""

    kind: ClassVar[str] = "cut_stream"
    group: ClassVar[str] = GROUP_STREAM
    after_chunks: int


@dataclass(frozen=True, eq=False)
class HoldStreamFault(Fault):
    """A stream that stops after ``after_chunks`` events until ``release`` is set."""

    kind: ClassVar[str] = "hold_stream"
    group: ClassVar[str] = GROUP_STREAM
    after_chunks: int
    release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass(frozen=True, eq=False)
class StreamErrorFault(Fault):
    """A stream that sends an error event after ``after_chunks`` events, then ends."""

    kind: ClassVar[str] = "stream_error"
    group: ClassVar[str] = GROUP_STREAM
    after_chunks: int = 1
    error_type: str = "overloaded_error"
    message: str = _OVERLOADED

    def _event(self, *, anthropic: bool) -> bytes:
        """The error event in the route's stream dialect."""
        if anthropic:
            data = anthropic_error(self.error_type, self.message)
            return b"event: error\ndata: " + data + b"\n\n"
        error = {"code": self.error_type, "message": self.message, "type": "server_error"}
        return b"data: " + json_bytes({"error": error}) + b"\n\n"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"
