"""The one gateway error type and the one error body every failure is rendered as."""

from __future__ import annotations

import secrets
from typing import Any

from . import _json

__all__ = [
    "ClientGone",
    "GatewayError",
    "anthropic_type",
    "error_body",
    "new_event_id",
    "timeout_error",
    "too_large",
]

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
}


#: Anthropic's error ``type`` per status, for errors on the ``/anthropic`` routes: the SDK picks
#: its exception class by status, and callers read this ``type`` (docs/claude.md).
_ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    default = "api_error" if status >= 500 else "invalid_request_error"
    return _ANTHROPIC_TYPE_BY_STATUS.get(status, default)


def new_event_id() -> str:
    """A short random id that ties an error body to the gateway's log line."""
    return secrets.token_hex(8)


class GatewayError(Exception):
    """An error the gateway answers with itself (``is_gateway_error: true``).

    Raise it anywhere on the request path; the app renders it in the contract's shape::

        raise GatewayError(404, "'gpt-5' is not served", code="model_not_found", param="model")
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type or _TYPE_BY_STATUS.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        self.headers = headers or {}

    def error_object(self, api: str = "openai") -> dict[str, Any]:
        """The ``error`` member of the body: the contract's shape, or Anthropic's on the
        ``/anthropic`` routes (with the gateway's ``code`` kept alongside)."""
        if api == "anthropic":
            error = {"type": anthropic_type(self.status), "message": self.message}
            if self.code is not None:
                error["code"] = self.code
            return error
        return {"message": self.message, "type": self.type, "code": self.code, "param": self.param}


def error_body(
    error: dict[str, Any],
    status: int,
    *,
    is_gateway_error: bool,
    extra_fields: dict[str, Any],
    event_id: str | None = None,
    api: str = "openai",
) -> bytes:
    """Serialise the one error envelope (docs/routes.md, "Errors").

    ``error`` is either a gateway error object or the upstream's own ``error`` object, kept
    whole (``innererror`` included) so that clients see what Azure said. On the ``/anthropic``
    routes (``api="anthropic"``) the envelope is Anthropic's, ``{"type": "error", "error": ...}``,
    with the same gateway keys after it.
    """
    envelope: dict[str, Any] = {"type": "error"} if api == "anthropic" else {}
    envelope |= {
        "error": error,
        "status_code": status,
        "is_gateway_error": is_gateway_error,
        "event_id": event_id or new_event_id(),
        "extra_fields": extra_fields,
    }
    try:
        return _json.dumps(envelope)
    except (ValueError, TypeError):
        # Never let the renderer fail: whatever the upstream or caller put in, the caller
        # still gets the one shape.
        envelope["error"] = {
            "message": str(error.get("message", ""))[:500],
            "type": str(error.get("type", "api_error")),
            "code": str(error.get("code")),
        }
        if api != "anthropic":
            envelope["error"]["param"] = None
        envelope["extra_fields"] = {"provider": "azure"}
        return _json.dumps(envelope)


class ClientGone(Exception):
    """The caller disconnected before its request body was complete: nothing to answer."""


def too_large(limit: int, setting: str = "limits.max_body_bytes") -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {limit} bytes "
        f"(raise {setting} in the gateway config to allow more).",
        code="request_too_large",
    )


def timeout_error(timeout_s: float) -> GatewayError:
    return GatewayError(
        504,
        f"The request ran out of its {timeout_s:g} s deadline (timeout_s in the gateway "
        "config), retries included.",
        code="timeout",
    )
