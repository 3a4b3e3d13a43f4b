"""Faults the emulator can inject: error statuses, content filtering, slow and broken streams."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from ._json import json_bytes
from ._messages import anthropic_error, error_type_for

__all__ = ["Effects", "Fault", "FaultQueue"]

FaultKind = Literal["status", "slow", "slow_stream", "cut_stream", "hold_stream"]

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


@dataclass(frozen=True, eq=False)
class Fault:
    """Something to go wrong with the next request(s); build one with a classmethod.

    ::

        emulator.inject(Fault.status(429, retry_after_ms=200), times=2)
        emulator.inject(Fault.cut_stream(after_chunks=3), path_contains="/chat/")
        held = Fault.hold_stream(after_chunks=2)
        emulator.inject(held)
        ...  # read the first chunks, then
        held.release.set()

    Stream faults count SSE events: the first event of a chat stream is Azure's
    ``prompt_filter_results`` chunk. A stream fault taken by a non-streaming request has no
    effect. Instances compare by identity, so each ``hold_stream`` has its own ``release``.
    """

    kind: FaultKind
    status_code: int = 0
    code: str | None = None
    message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error: Mapping[str, Any] | None = None  # a complete Azure error object (content filter)
    delay_s: float = 0.0
    after_chunks: int = 0
    # Only hold_stream waits on it; every Fault gets its own so `release` is never None.
    release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @classmethod
    def status(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after_ms: int | None = None,
    ) -> Fault:
        """Answer with an Azure error body of this status (Anthropic's shape on its route).

        ``retry_after_ms`` adds ``retry-after-ms: N`` and ``retry-after: ceil(N/1000)``::

            emulator.inject(Fault.status(429, retry_after_ms=50))
        """
        extra = dict(headers or {})
        if retry_after_ms is not None:
            extra["retry-after-ms"] = str(retry_after_ms)
            extra["retry-after"] = str(math.ceil(retry_after_ms / 1000))
        return cls(
            "status", status_code=status, code=code, message=message, headers=tuple(extra.items())
        )

    @classmethod
    def content_filter(cls) -> Fault:
        """Answer with Azure's 400 ``content_filter`` error (``innererror`` included)::

        emulator.inject(Fault.content_filter())
        """
        return cls("status", status_code=400, error=_CONTENT_FILTER_ERROR)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Wait ``delay_s`` seconds before sending the response headers::

        emulator.inject(Fault.slow(0.1))
        """
        return cls("slow", delay_s=delay_s)

    @classmethod
    def slow_stream(cls, chunk_delay_s: float) -> Fault:
        """Pause ``chunk_delay_s`` seconds between the SSE events of that stream::

        emulator.inject(Fault.slow_stream(0.02))
        """
        return cls("slow_stream", delay_s=chunk_delay_s)

    @classmethod
    def cut_stream(cls, after_chunks: int) -> Fault:
        """Send ``after_chunks`` SSE events, then break the connection (no ``[DONE]``).

        The app raises :class:`ConnectionResetError`: uvicorn then closes the connection
        without the chunked terminator (aiohttp raises ``ClientPayloadError``), and an
        in-process ``ASGITransport`` raises it to its caller::

            emulator.inject(Fault.cut_stream(after_chunks=3))
        """
        return cls("cut_stream", after_chunks=after_chunks)

    @classmethod
    def hold_stream(cls, after_chunks: int) -> Fault:
        """Send ``after_chunks`` SSE events, then wait until ``fault.release`` is set.

        A client that disconnects meanwhile ends the wait too. ``release`` is an
        :class:`asyncio.Event`: set it from the loop serving the emulator (from another
        thread, ``loop.call_soon_threadsafe(fault.release.set)``)::

            fault = Fault.hold_stream(after_chunks=1)
            emulator.inject(fault)
            ...  # the first chunk has arrived; the stream is still open
            fault.release.set()
        """
        return cls("hold_stream", after_chunks=after_chunks)

    def _render(
        self, *, anthropic: bool, api_version: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The ``(status, headers, body)`` of a status fault, for the route's error shape."""
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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


_GROUPS = {
    "status": "error",
    "slow": "delay",
    "slow_stream": "stream",
    "cut_stream": "stream",
    "hold_stream": "stream",
}


@dataclass(slots=True)
class Effects:
    """The combined effect of the faults one request took."""

    delay_s: float = 0.0
    error: Fault | None = None
    chunk_delay_s: float | None = None
    cut_after: int | None = None
    hold: Fault | None = None


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int
    path_contains: str | None


class FaultQueue:
    """Injected faults waiting for matching requests, in injection order."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def __bool__(self) -> bool:
        return bool(self._armed)

    def add(self, fault: Fault, times: int, path_contains: str | None) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self._armed.append(_Armed(fault, times, path_contains))

    def clear(self) -> None:
        self._armed.clear()

    def take(self, path: str) -> Effects:
        """Consume the first armed fault of each kind matching ``path``; combine their effects.

        One request takes at most one error, one delay and one stream fault, so faults of a
        kind injected one after the other hit successive requests, while a delay and an
        error injected together hit the same one.
        """
        effects = Effects()
        taken: set[str] = set()
        for armed in list(self._armed):
            fault = armed.fault
            group = _GROUPS[fault.kind]
            if group in taken or (armed.path_contains or "") not in path:
                continue
            taken.add(group)
            armed.remaining -= 1
            if armed.remaining == 0:
                self._armed.remove(armed)
            if fault.kind == "status":
                effects.error = fault
            elif fault.kind == "slow":
                effects.delay_s = fault.delay_s
            elif fault.kind == "slow_stream":
                effects.chunk_delay_s = fault.delay_s
            elif fault.kind == "cut_stream":
                effects.cut_after = fault.after_chunks
            else:
                effects.hold = fault
        return effects
