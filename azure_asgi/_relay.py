"""Relaying upstream answers to the caller as raw ASGI messages: JSON, SSE, errors.

Bodies that pass through stay bytes: ``extra_fields`` is spliced into the upstream JSON object
without parsing it, and SSE is forwarded event-aligned as the bytes arrive.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring as _encode_str
from typing import Any

from ._errors import GatewayError, error_body, new_event_id
from ._objects import tag_ids
from ._transport import UpstreamError, UpstreamResponse
from ._types import Send

__all__ = [
    "StreamState",
    "pass_headers",
    "pump_bytes",
    "pump_stream",
    "send_error",
    "send_json",
    "send_upstream_error",
    "splice_extra_fields",
    "stream_error_event",
    "tag_events",
    "tagged_json",
    "upstream_error_object",
]


# Upstream response headers clients act on (contract section 6); everything else stays behind.
_PASS_EXACT = frozenset(
    {
        b"retry-after",
        b"retry-after-ms",
        b"apim-request-id",
        b"x-request-id",
        b"x-ms-region",
        b"x-ms-client-request-id",
        b"openai-processing-ms",
    }
)
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Tell nginx-style proxies in front of the host not to buffer the stream either.
    (b"x-accel-buffering", b"no"),
]


def pass_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k in _PASS_EXACT or k.startswith(b"x-ratelimit-")]


def splice_extra_fields(body: bytes, extra_fields: dict[str, Any]) -> bytes | None:
    """Insert ``"extra_fields": {...}`` as the last member of a JSON object, bytes untouched.

    Returns None when ``body`` is not a JSON object, so the caller can pass it through as is.
    """
    end = body.rstrip()
    if not end.endswith(b"}") or body.lstrip()[:1] != b"{":
        return None
    head = end[:-1].rstrip()
    sep = b"" if head.endswith(b"{") else b","
    return head + sep + b'"extra_fields":' + encode_fields(extra_fields) + b"}"


def encode_fields(fields: dict[str, Any]) -> bytes:
    """``extra_fields`` as compact JSON; strings and ints by hand (twice as fast as
    ``json.dumps`` with options, which builds a new encoder per call), the rest by json."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, str):
            text = _encode_str(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        parts.append(f"{_encode_str(key)}:{text}")
    return ("{" + ",".join(parts) + "}").encode()


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    raw = [_JSON, (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: GatewayError, extra_fields: dict[str, Any]) -> None:
    body = error_body(
        error.error_object(), error.status, is_gateway_error=True, extra_fields=extra_fields
    )
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send_json(send, error.status, body, headers)


def upstream_error_object(status: int, body: bytes) -> dict[str, Any]:
    """The upstream's own ``error`` object (Azure or Anthropic shape), kept whole."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return err
        if isinstance(err, str):
            return {"message": err, "type": "upstream_error", "code": str(status), "param": None}
    text = body.decode("utf-8", "replace").strip()[:500] or f"upstream answered HTTP {status}"
    return {"message": text, "type": "upstream_error", "code": str(status), "param": None}


async def send_upstream_error(
    send: Send, resp: UpstreamResponse, body: bytes, extra_fields: dict[str, Any]
) -> None:
    out = error_body(
        upstream_error_object(resp.status, body),
        resp.status,
        is_gateway_error=False,
        extra_fields=extra_fields,
    )
    await send_json(send, resp.status, out, pass_headers(resp.headers))


class StreamState:
    """What the stream relay has done so far; read by the app when something fails mid-way."""

    __slots__ = ("kind", "started")

    def __init__(self) -> None:
        #: How the answer is relayed: ``json``, ``sse`` or ``bytes``.
        self.kind = "json"
        self.started = False


def _event_end(buf: bytes) -> int:
    """Index just past the last complete SSE event in ``buf`` (0 if none)."""
    lf = buf.rfind(b"\n\n")
    crlf = buf.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


async def pump_stream(
    resp: UpstreamResponse,
    send: Send,
    state: StreamState,
    terminals: tuple[bytes, ...],
    transform: Callable[[bytes], bytes] | None = None,
) -> None:
    """Relay an upstream SSE body event-aligned, as it arrives; never buffer a whole stream.

    Bytes are forwarded up to the last complete event of every chunk received, so a break can
    never leave a half event in front of the error event that follows it. ``transform`` (ids
    that must carry their resource) sees whole events only. Raises :class:`UpstreamError` when
    the body breaks off or its last event is none of ``terminals``.
    """
    headers = _SSE_HEADERS + pass_headers(resp.headers)
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    state.started = True
    buf = b""
    last = b""
    async for chunk in resp.iter_chunks():
        buf = buf + chunk if buf else chunk
        end = _event_end(buf)
        if end:
            if end == len(buf):  # the usual case: the chunk ends on an event boundary, no copy
                last, buf = buf, b""
            else:
                last, buf = buf[:end], buf[end:]
            out = transform(last) if transform is not None else last
            await send({"type": "http.response.body", "body": out, "more_body": True})
    if buf.strip():
        # A final event without its blank line: complete it so parsers do not drop it.
        last = buf.rstrip(b"\r\n") + b"\n\n"
        out = transform(last) if transform is not None else last
        await send({"type": "http.response.body", "body": out, "more_body": True})
    if terminals:
        body = last.rstrip()
        final = body[body.rfind(b"\n\n") + 1 :]
        if not any(t in final for t in terminals):
            raise UpstreamError("the upstream stream ended before it was complete", started=True)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


_BINARY_PASS = frozenset({b"content-type", b"content-length", b"content-disposition"})


async def pump_bytes(resp: UpstreamResponse, send: Send, state: StreamState) -> None:
    """Relay a binary or text body (audio, file content, video) chunk by chunk."""
    headers = [(k, v) for k, v in resp.headers if k in _BINARY_PASS]
    headers += pass_headers(resp.headers)
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    state.started = True
    async for chunk in resp.iter_chunks():
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def tag_events(resource: str) -> Callable[[bytes], bytes]:
    """An SSE transform tagging stateful ids (``response.created`` and friends) in events."""

    def transform(block: bytes) -> bytes:
        if b'"id"' not in block:
            return block
        events = block.split(b"\n\n")
        for i, event in enumerate(events):
            lines = event.split(b"\n")
            for j, line in enumerate(lines):
                if line.startswith(b"data:") and b'"id"' in line:
                    try:
                        data = json.loads(line[5:])
                    except ValueError:
                        continue
                    if tag_ids(data, resource):
                        lines[j] = b"data: " + _dumps(data)
            events[i] = b"\n".join(lines)
        return b"\n\n".join(events)

    return transform


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def tagged_json(body: bytes, resource: str, extra_fields: dict[str, Any]) -> bytes | None:
    """An Azure JSON answer with stateful ids tagged and ``extra_fields`` added."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    tag_ids(data, resource)
    data["extra_fields"] = extra_fields
    return _dumps(data)


def stream_error_event(error: dict[str, Any], status: int, extra_fields: dict[str, Any]) -> bytes:
    """The SSE event that ends a broken stream: an error, never a ``[DONE]``."""
    body = error_body(
        error, status, is_gateway_error=True, extra_fields=extra_fields, event_id=new_event_id()
    )
    return b"data: " + body + b"\n\n"
