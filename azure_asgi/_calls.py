"""The inbound call: its body read within limits, and only what routing needs parsed from it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ._errors import GatewayError
from ._routing import RouteMatch
from ._types import Receive

__all__ = ["Call", "ClientGone", "parse_call", "read_body"]


# Fields the gateway consumes itself and never forwards (contract section 5).
_CONSUMED = ("fallbacks", "endpoint")


class ClientGone(Exception):
    """The caller disconnected before its request body was complete: nothing to answer."""


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes:
    """The whole request body, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {limit} bytes "
        "(raise limits.max_body_bytes in the gateway config to allow more).",
        code="request_too_large",
    )


@dataclass(slots=True)
class Call:
    """One parsed request: what the upstream needs, and what the gateway consumed from it."""

    match: RouteMatch
    model: str
    stream: bool
    data: dict[str, Any]
    raw: bytes
    api_version: str
    fallbacks: tuple[str, ...] = ()
    endpoint: str | None = None
    #: True when ``data`` no longer matches ``raw`` (a consumed field was removed).
    dirty: bool = False

    def body_for(self, deployment: str) -> bytes:
        """The upstream body with ``model`` naming the deployment.

        The caller's bytes go out untouched when nothing needs changing (the common case for
        ``AzureOpenAI`` clients); otherwise the parsed object is re-serialised, keeping the
        caller's field order and every unknown field.
        """
        if not self.dirty and self.data.get("model") == deployment:
            return self.raw
        data = dict(self.data)
        data["model"] = deployment
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


def parse_call(match: RouteMatch, raw: bytes, query_string: bytes, api_version: str) -> Call:
    """Validate a JSON body just enough to route it; never touch fields the gateway ignores."""
    op = match.operation
    if not raw.strip():
        raise _bad("Request body is empty: send a JSON object.", code="invalid_json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"Request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise _bad("Request body must be a JSON object.", code="invalid_json")

    model = match.deployment
    if model is None:
        requested = data.get("model")
        if not isinstance(requested, str) or not requested:
            raise _bad("'model' is required: a string naming a model alias or deployment.", "model")
        model = requested
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool) or (stream and not op.streamable):
        raise _bad("'stream' must be true or false.", "stream")
    for name, kind in op.required:
        value = data.get(name)
        if value is None:
            raise _bad(f"'{name}' is required.", name)
        if not isinstance(value, kind) or (kind is list and not value):
            article = "a non-empty array" if kind is list else f"of type {kind.__name__}"
            raise _bad(f"'{name}' must be {article}.", name)

    dirty = False
    fallbacks: tuple[str, ...] = ()
    endpoint = None
    if any(k in data for k in _CONSUMED):
        dirty = True
        fb = data.pop("fallbacks", None)
        if fb is not None:
            if not isinstance(fb, list) or not all(isinstance(x, str) and x for x in fb):
                raise _bad("'fallbacks' must be an array of model names.", "fallbacks")
            fallbacks = tuple(fb)
        ep = data.pop("endpoint", None)
        if ep is not None:
            if not isinstance(ep, str):
                raise _bad("'endpoint' must be a URL string.", "endpoint")
            endpoint = ep

    if match.family != "unified" and query_string:
        # Azure-compatible routes forward the caller's api-version; /v1 routes use config's.
        for key, value in parse_qsl(query_string.decode("latin-1")):
            if key == "api-version" and value:
                api_version = value
    return Call(match, model, stream, data, raw, api_version, fallbacks, endpoint, dirty)
