"""The inbound call: its body read within limits, and only what routing needs parsed from it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from ._body import body_chunks
from ._errors import GatewayError
from ._multipart import Upload, spool_upload
from ._objects import untag, untag_fields
from ._routing import RouteMatch
from ._types import Receive

__all__ = ["Body", "Call", "StreamedBody", "read_body", "read_call"]

# Fields the gateway consumes itself and never forwards (contract section 5).
_CONSUMED = ("fallbacks", "endpoint")


class StreamedBody:
    """An upload body sent upstream as a stream of known length (replayable per attempt)."""

    __slots__ = ("_model", "_upload", "length")

    def __init__(self, upload: Upload, model: str | None) -> None:
        self._upload = upload
        self._model = model
        self.length = upload.length(model)

    def stream(self) -> AsyncIterator[bytes]:
        return self._upload.stream(self._model)


Body = bytes | StreamedBody | None


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes:
    """The whole request body, refused with 413 as soon as it is known to exceed ``limit``."""
    chunks = [c async for c in body_chunks(receive, headers, limit, "limits.max_body_bytes")]
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@dataclass(slots=True)
class Call:
    """One parsed request: what the upstream needs, and what the gateway consumed from it."""

    match: RouteMatch
    #: The model the caller asked for (model-routed operations), as sent.
    model: str | None = None
    stream: bool = False
    data: dict[str, Any] | None = None
    raw: bytes = b""
    upload: Upload | None = None
    #: The caller's ``api-version``, when it gave one.
    api_version: str | None = None
    #: The caller's other query parameters, ids untagged.
    query: str = ""
    #: The path's object id, untagged.
    object_id: str | None = None
    #: Resources named by the ids the call carries (path, body, cursors).
    pinned: set[str] = field(default_factory=set)
    fallbacks: tuple[str, ...] = ()
    endpoint: str | None = None
    #: True when ``data`` no longer matches ``raw`` (a consumed or tagged field changed).
    dirty: bool = False

    def body_for(self, deployment: str | None, *, rewrite_model: bool) -> Body:
        """The upstream body; with ``rewrite_model``, ``model`` names ``deployment``.

        Where the URL names the deployment (Azure's deployments style) the body's ``model`` is
        not read upstream, so the caller's bytes go out untouched unless the gateway consumed a
        field. Otherwise the parsed object is re-serialised, keeping the caller's field order
        and every unknown field.
        """
        if self.upload is not None:
            return StreamedBody(self.upload, deployment if rewrite_model else None)
        if self.data is None:
            return None
        if not rewrite_model or deployment is None or self.data.get("model") == deployment:
            if not self.dirty:
                return self.raw
            data = self.data
        else:
            data = dict(self.data)
            data["model"] = deployment
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def close(self) -> None:
        if self.upload is not None:
            self.upload.close()


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


async def read_call(
    match: RouteMatch,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    query_string: bytes,
    resources: Collection[str],
    *,
    max_body: int,
    max_upload: int,
) -> Call:
    """Read and check a request just enough to route it; fields the gateway ignores stay as
    they are."""
    op = match.operation
    call = Call(match)
    if match.deployment is not None:
        call.model = match.deployment
    _read_query(call, query_string, resources)
    object_id = match.params.get("id")
    if object_id is not None:
        call.object_id, resource = untag(object_id, resources)
        if resource is not None:
            call.pinned.add(resource)
    if op.body == "multipart":
        call.upload = await spool_upload(receive, headers, max_upload)
        if op.routed_by == "model" and call.model is None:
            try:
                call.model = call.upload.find_model()
            finally:
                if call.model is None:
                    call.upload.close()
            if not call.model:
                raise _bad("The form field 'model' is required.", "model")
        return call
    raw = await read_body(receive, headers, max_body)
    if op.body == "json":
        _parse_json(call, raw, resources)
    return call


def _read_query(call: Call, query_string: bytes, resources: Collection[str]) -> None:
    if not query_string:
        return
    if query_string.startswith(b"api-version=") and b"&" not in query_string:
        # The common case on Azure routes, without parse_qsl's general machinery.
        call.api_version = unquote(query_string[12:].decode("latin-1")) or None
        return
    kept = []
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == "api-version":
            call.api_version = value or None
            continue
        if key in ("after", "before"):
            value, resource = untag(value, resources)
            if resource is not None:
                call.pinned.add(resource)
        kept.append((key, value))
    call.query = urlencode(kept)


def _parse_json(call: Call, raw: bytes, resources: Collection[str]) -> None:
    op = call.match.operation
    if not raw.strip():
        raise _bad("Request body is empty: send a JSON object.", code="invalid_json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"Request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise _bad("Request body must be a JSON object.", code="invalid_json")
    call.data, call.raw = data, raw

    if op.routed_by == "model" and call.model is None:
        requested = data.get("model")
        if not isinstance(requested, str) or not requested:
            raise _bad("'model' is required: a string naming a model alias or deployment.", "model")
        call.model = requested
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool) or (stream and not op.streamable):
        raise _bad("'stream' must be true or false.", "stream")
    call.stream = stream
    for name, kind in op.required:
        value = data.get(name)
        if value is None:
            raise _bad(f"'{name}' is required.", name)
        if not isinstance(value, kind) or (kind is list and not value):
            article = "a non-empty array" if kind is list else "of the right type"
            raise _bad(f"'{name}' must be {article}.", name)

    named = untag_fields(data, resources)
    if named:
        call.pinned |= named
        call.dirty = True
    # Only model calls carry gateway fields: a batch's own `endpoint` is Azure's, not ours.
    if op.routed_by == "model" and any(k in data for k in _CONSUMED):
        call.dirty = True
        fb = data.pop("fallbacks", None)
        if fb is not None:
            if not isinstance(fb, list) or not all(isinstance(x, str) and x for x in fb):
                raise _bad("'fallbacks' must be an array of model names.", "fallbacks")
            call.fallbacks = tuple(fb)
        ep = data.pop("endpoint", None)
        if ep is not None:
            if not isinstance(ep, str):
                raise _bad("'endpoint' must be a URL string.", "endpoint")
            call.endpoint = ep
