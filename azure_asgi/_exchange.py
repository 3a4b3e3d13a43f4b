"""The per-request object: one :class:`Exchange` from the first byte in to the last byte out.

Every stage of a request reads and fills the same exchange instead of passing loose values
along: the shell creates it; the callers stage sets ``principal``; routing sets ``route``;
reading the body sets ``inbound``; resolution sets ``targets``; the dispatcher appends one
:class:`Attempt` per upstream try and sets ``target``; the relay sets ``status`` and the
timings. It is also what observers (telemetry, usage records, limits) look at when a request
finishes, so they need no hook of their own into any stage (docs/architecture.md).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._callers import Principal
    from ._catalog import Target
    from ._deadlines import Deadline
    from ._inbound import Inbound
    from ._observe import Watch
    from ._operations import Operation
    from ._routing import RouteMatch
    from ._types import Scope

__all__ = ["Attempt", "Exchange", "upstream_headers"]


@dataclass(slots=True)
class Attempt:
    """One upstream try: where it went and how it ended."""

    target: Target
    started: float
    #: HTTP status from the upstream, or None when none answered.
    status: int | None = None
    #: Why the next attempt was made (``status_429``, ``unreachable``, ``auth_failed``...),
    #: or None for the attempt whose answer was used.
    retry_reason: str | None = None
    ended: float = 0.0


class Exchange:
    """One request through the gateway; what every stage fills in and every observer reads."""

    __slots__ = (
        "_request_id",
        "api",
        "attempts",
        "deadline",
        "ended",
        "error_code",
        "extra",
        "first_byte",
        "headers",
        "inbound",
        "principal",
        "route",
        "scope",
        "started",
        "status",
        "target",
        "targets",
        "usage",
        "watch",
    )

    def __init__(self, scope: Scope, deadline: Deadline) -> None:
        self.scope = scope
        #: Request headers; names are lower-case bytes (ASGI), the last value of a name wins.
        self.headers: dict[bytes, bytes] = dict(scope["headers"])
        self.started = time.perf_counter()
        self.deadline = deadline
        self.principal: Principal | None = None
        self.route: RouteMatch | None = None
        self.inbound: Inbound | None = None
        self.targets: list[Target] = []
        #: The target whose answer the caller got.
        self.target: Target | None = None
        self.attempts: list[Attempt] = []
        #: ``perf_counter`` times: first byte relayed to the caller, answer ended.
        self.first_byte: float | None = None
        self.ended: float | None = None
        #: The HTTP status the caller got (0 until an answer started).
        self.status = 0
        #: The upstream's ``usage`` object, when an observer asked for it.
        self.usage: dict[str, Any] | None = None
        #: ``extra_fields`` of the answer (contract: provider, request_type, model...).
        self.extra: dict[str, Any] = {"provider": "azure"}
        #: The gateway error code the caller got (``upstream_unreachable``...), if any.
        self.error_code: str | None = None
        #: This request's observers, or None when nothing observes it (docs/observability.md).
        self.watch: Watch | None = None
        self._request_id: str | None = None
        #: The API the caller speaks, which shapes its errors: ``openai`` or ``anthropic``
        #: (the ``/anthropic`` routes), known from the path before routing.
        self.api = "openai"

    @property
    def operation(self) -> Operation:
        assert self.route is not None, "no route yet"
        return self.route.operation

    @property
    def request_id(self) -> str:
        """The caller's ``x-request-id`` / ``x-ms-client-request-id``, else a new random id."""
        request_id = self._request_id
        if request_id is None:
            headers = self.headers
            given = headers.get(b"x-request-id") or headers.get(b"x-ms-client-request-id")
            if given and len(given) <= 128:
                text = given.decode("latin-1")
                # Only a plain token is taken: it is echoed in headers, bodies and log lines.
                if text.isascii() and text.isprintable() and not text.isspace():
                    request_id = text
            if request_id is None:
                # Unique, not secret: 64 random bits without a system call for each.
                request_id = f"{random.getrandbits(64):016x}"
            self._request_id = request_id
        return request_id

    def latency_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)

    def describe(self, target: Target) -> None:
        """Record the target that answers: in ``extra_fields`` and for observers."""
        self.target = target
        self.extra["model_deployment"] = target.deployment
        self.extra["resource"] = target.resource.name


def upstream_headers(ex: Exchange) -> list[tuple[str, str]]:
    """Headers every upstream attempt carries, whatever its family: the request id as
    ``x-ms-client-request-id`` (Azure logs it), and the attempt's W3C trace context."""
    headers = [("x-ms-client-request-id", ex.request_id)]
    if ex.watch is not None:
        ex.watch.attempt(ex, headers)
    return headers
