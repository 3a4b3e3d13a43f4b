"""The access log (``azure_asgi.access``) and the request id on every log line of a request.

One INFO record per request, its fields as record attributes for JSON formatters and in a
readable message. Nothing in it comes from a header value, a key, a token or a body: the
principal's subject, the route, the model name, the outcome and the counts only
(docs/observability.md). When the logger is not enabled for INFO nothing is built.

Every record of the ``azure_asgi`` logger made while a request runs carries ``request_id`` (a
filter reads it from a context variable the shell sets), and its message ends with it.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._exchange import Exchange
    from ._usage import Counts

__all__ = ["ACCESS", "CURRENT", "RequestIdFilter", "install_request_ids", "log_access"]

ACCESS = logging.getLogger("azure_asgi.access")
#: The exchange whose request the running task serves (set by the shell, per request).
CURRENT: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar(
    "azure_asgi_exchange", default=None
)


class RequestIdFilter(logging.Filter):
    """Adds the running request's ``request_id`` to a record (attribute and message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ex = CURRENT.get()
        if ex is not None and not hasattr(record, "request_id"):
            record.request_id = ex.request_id
            record.msg = f"{record.msg} [request_id={ex.request_id}]"
        return True


_FILTER = RequestIdFilter()


def install_request_ids() -> None:
    """Put the filter on the ``azure_asgi`` logger once (a logger's filters see only records
    made on it, which is where the gateway logs; the access log sets the id itself)."""
    logger = logging.getLogger("azure_asgi")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


def log_access(ex: Exchange, counts: Counts, status: int) -> None:
    """The request's one access record (call only when :data:`ACCESS` is enabled for INFO)."""
    route = ex.route
    target = ex.target
    first = ex.first_byte
    fields: dict[str, Any] = {
        "request_id": ex.request_id,
        "principal": ex.principal.subject if ex.principal is not None else None,
        "method": ex.scope.get("method"),
        "path": ex.scope.get("path"),
        "request_type": route.operation.request_type if route is not None else None,
        "model": ex.extra.get("model_requested"),
        "resource": target.resource.name if target is not None else None,
        "deployment": target.deployment if target is not None else None,
        "status": status,
        "latency_ms": round(((ex.ended or ex.started) - ex.started) * 1000, 1),
        "ttft_ms": round((first - ex.started) * 1000, 1) if first is not None else None,
        "input_tokens": counts.input_tokens,
        "output_tokens": counts.output_tokens,
        "attempts": len(ex.attempts),
    }
    ACCESS.info(
        "%(method)s %(path)s %(status)s %(latency_ms)sms request_id=%(request_id)s "
        "principal=%(principal)s type=%(request_type)s model=%(model)s "
        "resource=%(resource)s deployment=%(deployment)s ttft_ms=%(ttft_ms)s "
        "tokens=%(input_tokens)s/%(output_tokens)s attempts=%(attempts)s",
        fields,
        extra=fields,
    )
