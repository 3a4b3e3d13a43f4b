"""The inbound call: its body read within limits, and only what routing needs parsed from it.

This is the one module that reads what the caller sent (body, query, the routing headers);
everything after it works from the :class:`Inbound` it returns.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from . import _json
from ._body import read_body
from ._errors import GatewayError
from ._ids import REQUEST_ID_FIELDS, untag, untag_fields
from ._multipart import Upload, spool_upload
from ._routing import RouteMatch
from ._types import Receive

__all__ = ["Inbound", "read_inbound"]

# Fields the gateway consumes itself and never forwards (docs/routes.md).
_CONSUMED = frozenset({"fallbacks", "endpoint"})
#: The fields a body is looked at again for: those, and the ids that name a resource.
_NOTICED = _CONSUMED | frozenset(REQUEST_ID_FIELDS)


@dataclass(slots=True)
class Inbound:
    """One parsed request: what the upstream needs, and what the gateway consumed from it."""

    route: RouteMatch
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
    #: The resource the ``x-azure-resource`` header names.
    resource_header: str | None = None
    fallbacks: tuple[str, ...] = ()
    #: A direct-key endpoint, from the ``x-bf-azure-endpoint`` header or the body.
    endpoint: str | None = None
    #: True when ``data`` no longer matches ``raw`` (a consumed or tagged field changed).
    dirty: bool = False

    def json_body(self, model: str | None = None) -> bytes:
        """The JSON body to send: the caller's bytes when nothing changed, else re-serialised
        (field order and unknown fields kept), with ``model`` replaced when given."""
        assert self.data is not None
        if model is None or self.data.get("model") == model:
            if not self.dirty:
                return self.raw
            data = self.data
        else:
            data = dict(self.data)
            data["model"] = model
        try:
            return _json.dumps(data)
        except ValueError:
            raise _bad("Request body is nested too deeply.", code="invalid_json") from None

    def close(self) -> None:
        if self.upload is not None:
            self.upload.close()


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


async def read_inbound(
    route: RouteMatch,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    query_string: bytes,
    resources: Collection[str],
    *,
    max_body: int,
    max_upload: int,
) -> Inbound:
    """Read and check a request just enough to route it; fields the gateway ignores stay as
    they are."""
    op = route.operation
    call = Inbound(route)
    if route.deployment is not None:
        call.model = route.deployment
    if query_string:
        _read_query(call, query_string, resources)
    object_id = route.params.get("id")
    if object_id is not None:
        call.object_id, resource = untag(object_id, resources)
        if resource is not None:
            call.pinned.add(resource)
    header = headers.get(b"x-azure-resource")
    if header is not None:
        call.resource_header = header.decode("latin-1").strip()
    endpoint = headers.get(b"x-bf-azure-endpoint")
    if endpoint is not None:
        call.endpoint = endpoint.decode("latin-1")
    body = op.body
    if body == "json_or_multipart":
        # Documented both ways (video creation): multipart only when a file is attached.
        multipart = headers.get(b"content-type", b"")[:19].lower() == b"multipart/form-data"
        body = "multipart" if multipart else "json"
    if body == "multipart":
        call.upload = await spool_upload(receive, headers, max_upload)
        if op.routed_by == "model" and call.model is None:
            try:
                call.model = call.upload.find_model()
                if not call.model:
                    raise _bad("The form field 'model' is required.", "model")
            except BaseException:
                # The caller never gets this Inbound to close: the spooled file is ours to.
                call.close()
                raise
        return call
    raw = await read_body(receive, headers, max_body, "limits.max_body_bytes")
    if body == "json":
        _parse_json(call, raw, resources)
    return call


def _read_query(call: Inbound, query_string: bytes, resources: Collection[str]) -> None:
    if not query_string:
        return
    if query_string.startswith(b"api-version=") and 0x26 not in query_string:  # no "&"
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


def _parse_json(call: Inbound, raw: bytes, resources: Collection[str]) -> None:
    op = call.route.operation
    if not raw or raw.isspace():
        raise _bad("Request body is empty: send a JSON object.", code="invalid_json")
    try:
        data = _json.loads(raw)
    except ValueError as exc:
        raise _bad(f"Request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise _bad("Request body must be a JSON object.", code="invalid_json")
    call.data, call.raw = data, raw

    if op.routed_by == "model" and call.model is None:
        requested = data.get("model")
        if not isinstance(requested, str) or not requested:
            raise _bad("'model' is required: a string naming a model alias or deployment.", "model")
        if not requested.isascii() and not _encodable(requested):
            raise _bad("'model' holds an unpaired UTF-16 surrogate.", "model")
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

    if _NOTICED.isdisjoint(data):
        return  # the usual body: no object id, no field of the gateway's own
    named = untag_fields(data, resources)
    if named:
        call.pinned |= named
        call.dirty = True
    # Only model calls carry gateway fields: a batch's own `endpoint` is Azure's, not ours.
    if op.routed_by == "model" and not _CONSUMED.isdisjoint(data):
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
            if call.endpoint is None:
                call.endpoint = ep


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
