"""One request on its way through an operation handler, and the ways to answer it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ._asgi import Headers, Receive, Send, respond, send_stream
from ._fault_queue import Effects
from ._json import json_bytes
from ._replies import azure_error
from ._requests import RecordedRequest
from ._routes import Route
from ._store import Store

__all__ = ["RATE", "Exchange", "Handler", "Host", "positive_int", "text_of"]

# Rate-limit headers as Azure sends them, so gateways can be tested passing them through.
RATE: Headers = [
    (b"x-ratelimit-remaining-requests", b"999"),
    (b"x-ratelimit-remaining-tokens", b"999999"),
    (b"x-ms-region", b"emulator"),
]
# Binary downloads (speech, file and video content) go out in body messages of this size.
CHUNK = 16 * 1024


class Host(Protocol):
    """What handlers need from the emulator."""

    def model_for(self, deployment: str | None, default: str) -> str: ...

    def deployed_models(self) -> list[str]: ...

    async def _stream(self, request: Exchange, events: list[bytes]) -> None: ...


@dataclass(slots=True)
class Exchange:
    """A request being answered: its record, route, parsed payload and response headers."""

    send: Send
    receive: Receive
    record: RecordedRequest
    route: Route
    payload: Any
    ids: Headers
    effects: Effects | None
    seq: int
    host: Host
    store: Store

    @property
    def now(self) -> int:
        return int(time.time())

    def model(self, default: str) -> str:
        """The model the deployment maps to (``default`` without a ``deployments`` mapping)."""
        return self.host.model_for(self.record.deployment, default)

    @property
    def object_id(self) -> str:
        return self.route.object_id or ""

    async def json(self, body: Any, status: int = 200) -> None:
        """Answer with ``body`` (serialised unless it is bytes already)."""
        data = body if isinstance(body, bytes) else json_bytes(body)
        await respond(self.send, status, data, [*self.ids, *RATE])

    async def text(self, body: str, content_type: bytes) -> None:
        await respond(self.send, 200, body.encode(), [*self.ids, *RATE], content_type=content_type)

    async def error(self, status: int, body: bytes) -> None:
        await respond(self.send, status, body, self.ids)

    async def invalid(
        self, message: str, param: str | None, code: str = "invalid_value", status: int = 400
    ) -> None:
        """A 400 ``invalid_request_error`` naming the parameter at fault."""
        error = azure_error(code, message, type="invalid_request_error", param=param)
        await self.error(status, error)

    async def missing(self, param: str) -> None:
        message = f"Missing required parameter: '{param}'."
        await self.invalid(message, param, "missing_required_parameter")

    async def not_found(self, kind: str, object_id: str) -> None:
        """Azure's 404 for an id the store does not hold."""
        await self.invalid(f"{kind} with id '{object_id}' not found.", None, "404", 404)

    async def sse(self, events: list[bytes]) -> None:
        await self.host._stream(self, events)

    async def binary(self, data: bytes, content_type: bytes) -> None:
        """Send ``data`` in several body messages; stream faults (slow, cut, hold) apply."""
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        effects = self.effects or Effects()
        await send_stream(
            self.send,
            self.receive,
            chunks,
            [*self.ids, *RATE, (b"content-length", b"%d" % len(data))],
            delay_s=effects.chunk_delay_s or 0.0,
            cut_after=effects.cut_after,
            hold=effects.hold,
            content_type=content_type,
        )


Handler = Callable[[Exchange], Awaitable[None]]


def text_of(value: Any) -> str:
    """A field's text when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def positive_int(value: Any, default: int) -> int | None:
    """``value`` as a positive integer (``default`` when absent), None when it is not one."""
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return None
    return value
