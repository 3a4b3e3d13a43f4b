"""The Anthropic family's adapter: Claude deployments on Azure AI Foundry's Messages API.

Three kinds of caller reach a Claude deployment: the native ``/anthropic/v1/messages`` routes
(the body passes byte for byte but for ``model``; answers and streams pass through), and
OpenAI-shaped Chat Completions and Responses calls, translated to Messages and back by the pure
functions of the ``_chat_*`` and ``_responses_*`` modules (docs/claude.md).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ... import _json
from ..._errors import GatewayError, anthropic_type
from ..._exchange import Exchange, upstream_headers
from ..._transport import UpstreamRequest
from ..openai import splice_extra_fields
from ._chat_answer import messages_to_chat
from ._chat_request import chat_to_messages
from ._chat_stream import ChatStream
from ._common import anthropic_error
from ._responses_answer import messages_to_response
from ._responses_request import responses_to_messages
from ._responses_stream import ResponsesStream

if TYPE_CHECKING:
    from ..._catalog import Target
    from .._adapter import StreamTranslator

__all__ = ["ANTHROPIC_VERSION", "AnthropicAdapter"]

#: The Messages API version sent when the caller names none.
ANTHROPIC_VERSION = "2023-06-01"
_USER_AGENT = ("user-agent", "azure-asgi")
_JSON = ("content-type", "application/json")
#: The one caller header the upstream may see as it is (an allow-list, as for the OpenAI
#: family): the beta flags the caller chose (its version is read separately, with a default).
#: The request id and trace context are the gateway's own (``_exchange.upstream_headers``).
_BETA = b"anthropic-beta"
#: Throttling, timeouts, server failures, and Anthropic's 529 ``overloaded_error``.
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})
_STOP = (b"message_stop",)


def _token(value: bytes) -> str | None:
    """A header value safe to send on: printable ASCII only."""
    if value.isascii():
        text = value.decode()
        if text.isprintable():
            return text
    return None


class AnthropicAdapter:
    """Claude on Foundry: ``POST {endpoint}/anthropic/v1/messages`` (and ``/count_tokens``)."""

    family = "anthropic"
    retryable = _RETRYABLE

    # -- requests -------------------------------------------------------------------------------

    def prepare(self, ex: Exchange, target: Target, auth: tuple[str, str]) -> UpstreamRequest:
        call = ex.inbound
        assert call is not None
        version = ex.headers.get(b"anthropic-version")
        headers = [
            _USER_AGENT,
            auth,
            _JSON,
            ("anthropic-version", (_token(version) if version else None) or ANTHROPIC_VERSION),
            *upstream_headers(ex),
        ]
        beta = ex.headers.get(_BETA)
        text = _token(beta) if beta is not None else None
        if text is not None:
            headers.append(("anthropic-beta", text))
        op = call.route.operation
        base = target.resource.base
        if op.api == "anthropic":
            return UpstreamRequest(
                "POST", f"{base}/anthropic/v1/{op.path}", headers, call.json_body(target.deployment)
            )
        data = _body(ex)
        if op.request_type == "responses":
            messages = responses_to_messages(data, target.deployment, max_tokens=target.max_tokens)
        else:
            messages = chat_to_messages(data, target.deployment, max_tokens=target.max_tokens)
        return UpstreamRequest(
            "POST", f"{base}/anthropic/v1/messages", headers, _json.dumps(messages)
        )

    # -- answers --------------------------------------------------------------------------------

    def answer(self, ex: Exchange, target: Target, body: bytes) -> bytes:
        op = ex.operation
        if op.api == "anthropic":
            spliced = splice_extra_fields(body, ex.extra)
            return spliced if spliced is not None else body
        try:
            message = _json.loads(body)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise GatewayError(
                502,
                f"Claude deployment '{target.deployment}' on resource '{target.resource.name}' "
                "answered with a body that is not a Messages API object, so it cannot be "
                "translated.",
                code="upstream_invalid_response",
            )
        created = int(time.time())
        model = _requested(ex)
        if op.request_type == "responses":
            out = messages_to_response(message, model=model, created=created, request=_body(ex))
        else:
            out = messages_to_chat(message, model=model, created=created)
        out["extra_fields"] = ex.extra
        return _json.dumps(out)

    def error(self, ex: Exchange, status: int, body: bytes) -> dict[str, Any]:
        if ex.api != "anthropic":
            return anthropic_error(status, body)
        # The native route keeps Anthropic's own error object, as the SDK reads it.
        try:
            data = _json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error: dict[str, Any] = data["error"]
            return error
        text = body.decode("utf-8", "replace").strip()[:500] or f"upstream answered HTTP {status}"
        return {"type": anthropic_type(status), "message": text}

    def translator(self, ex: Exchange, target: Target) -> StreamTranslator | None:
        call = ex.inbound
        assert call is not None
        op = call.route.operation  # (as prepare reads it: a property call less a stream)
        if op.api == "anthropic":
            return None
        created = int(time.time())
        model = _requested(ex)
        data = _body(ex)
        if op.request_type == "responses":
            return ResponsesStream(model=model, created=created, request=data)
        options = data.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return ChatStream(model, created, include_usage)

    def terminals(self, ex: Exchange) -> tuple[bytes, ...]:
        return _STOP


def _body(ex: Exchange) -> dict[str, Any]:
    """The caller's JSON body (every operation this family serves has one)."""
    assert ex.inbound is not None
    assert ex.inbound.data is not None
    return ex.inbound.data


def _requested(ex: Exchange) -> str:
    """The model name the caller used (an alias, or the deployment in an Azure-style path)."""
    return str(ex.extra.get("model_requested") or "")
