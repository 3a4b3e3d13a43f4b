"""The OpenAI family: Azure OpenAI deployments and OpenAI-compatible servers.

The identity adapter. A caller's JSON goes upstream byte for byte wherever the URL names the
deployment; elsewhere only ``model`` is rewritten. Answers gain ``extra_fields`` spliced into
the upstream bytes, and stateful ids (files, batches, responses...) are tagged with their
resource (docs/operations.md). This is the one place that knows Azure's URL shapes.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import _json
from .._exchange import Exchange, upstream_headers
from .._ids import tag_ids
from .._sse import SSEEvent, encode_event
from .._transport import UpstreamRequest

if TYPE_CHECKING:
    from .._catalog import Resource, Target
    from .._inbound import Inbound
    from .._multipart import Upload
    from .._operations import Operation

__all__ = [
    "ApiVersions",
    "OpenAIAdapter",
    "StreamedBody",
    "encode_fields",
    "splice_extra_fields",
    "upstream_error_object",
]

_USER_AGENT = ("user-agent", "azure-asgi")
_JSON = ("content-type", "application/json")
# No caller header travels upstream (its credentials and cookies must not, whatever they are
# called); the request id goes as the gateway's own (_exchange.upstream_headers).
#: Throttling, timeouts and server-side failures.
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ApiVersions:
    """Which api-version an upstream call carries (docs/routes.md)."""

    default: str
    #: Per ``request_type`` overrides from config.
    overrides: Mapping[str, str]

    def dated(self, call: Inbound, op: Operation) -> str:
        """For ``/openai/deployments/...`` and ``/openai/batches``: the caller's on Azure's own
        routes, else config's override, else the operation's (where GA lacks it), else config's."""
        if call.api_version and call.route.family == "azure":
            return call.api_version
        return self.overrides.get(op.request_type) or op.api_version or self.default

    def v1(self, call: Inbound, op: Operation) -> str | None:
        """For ``/openai/v1/...``: the caller's on ``/openai/v1`` routes, else an override."""
        if call.api_version and call.route.family == "azure_v1":
            return call.api_version
        return self.overrides.get(op.request_type)


class StreamedBody:
    """An upload body sent upstream as a stream of known length (replayable per attempt)."""

    __slots__ = ("_model", "_upload", "length")

    def __init__(self, upload: Upload, model: str | None) -> None:
        self._upload = upload
        self._model = model
        self.length = upload.length(model)

    def stream(self) -> AsyncIterator[bytes]:
        return self._upload.stream(self._model)


@functools.lru_cache(maxsize=1024)
def _quoted(name: str) -> str:
    """A deployment name or API version as a URL segment; a service uses few of them."""
    return quote(name, safe="")


def _join(first: str, rest: str) -> str:
    return f"{first}&{rest}" if rest else first


@functools.lru_cache(maxsize=1024)
def _deployment_url(base: str, deployment: str, deployment_op: str, version: str) -> str:
    """``{base}/openai/deployments/{d}/{op}?api-version=V``: a service calls few of them."""
    dep, version = _quoted(deployment), _quoted(version)
    return f"{base}/openai/deployments/{dep}/{deployment_op}?api-version={version}"


class OpenAIAdapter:
    """Azure OpenAI (deployments or v1 style) and ``kind: openai`` upstreams."""

    family = "openai"
    retryable = _RETRYABLE

    def __init__(self, versions: ApiVersions) -> None:
        self._versions = versions

    # -- requests -------------------------------------------------------------------------------

    def url(self, call: Inbound, target: Target) -> tuple[str, bool]:
        """The upstream URL for ``call`` in its resource's style, and whether the body's
        ``model`` must name the deployment (it must wherever the URL does not)."""
        resource = target.resource
        op = call.route.operation
        path = op.path
        if call.object_id is not None:
            path = path.replace("{id}", quote(call.object_id, safe=""))
        query = call.query
        model_in_body = op.routed_by == "model"
        if resource.kind == "openai":
            # An OpenAI-compatible server: its endpoint already ends in /v1.
            url = f"{resource.base}/{path}"
        elif resource.api_style == "deployments" and op.upstream == "deployment":
            version = self._versions.dated(call, op)
            assert op.deployment_op is not None
            url = _deployment_url(resource.base, target.deployment, op.deployment_op, version)
            return (f"{url}&{query}" if query else url), False
        elif resource.api_style == "deployments" and op.upstream == "batches":
            version = self._versions.dated(call, op)
            url = f"{resource.base}/openai/{path}"
            query = _join(f"api-version={_quoted(version)}", query)
        else:
            url = f"{resource.base}/openai/v1/{path}"
            v1_version = self._versions.v1(call, op)
            if v1_version:
                query = _join(f"api-version={_quoted(v1_version)}", query)
        return (f"{url}?{query}" if query else url), model_in_body

    def prepare(self, ex: Exchange, target: Target, auth: tuple[str, str]) -> UpstreamRequest:
        call = ex.inbound
        assert call is not None
        url, model_in_body = self.url(call, target)
        headers = [_USER_AGENT, auth, *upstream_headers(ex)]
        deployment = target.deployment or None if model_in_body else None
        body: bytes | StreamedBody | None = None
        if call.upload is not None:
            body = StreamedBody(call.upload, deployment)
            headers.append(("content-type", call.upload.content_type))
            headers.append(("content-length", str(body.length)))
        elif call.data is not None:
            body = call.json_body(deployment)
            headers.append(_JSON)
        return UpstreamRequest(call.route.operation.method, url, headers, body)

    @staticmethod
    def models_request(resource: Resource, auth: tuple[str, str]) -> UpstreamRequest:
        """``GET`` of one resource's own model list."""
        if resource.kind == "openai":
            url = f"{resource.base}/models"
        else:
            url = f"{resource.base}/openai/v1/models"
        return UpstreamRequest("GET", url, [_USER_AGENT, auth])

    # -- answers --------------------------------------------------------------------------------

    def answer(self, ex: Exchange, target: Target, body: bytes) -> bytes:
        if ex.operation.stateful:
            tagged = tagged_json(body, target.resource.name, ex.extra)
            if tagged is not None:
                return tagged
        spliced = splice_extra_fields(body, ex.extra)
        return spliced if spliced is not None else body

    def error(self, ex: Exchange, status: int, body: bytes) -> dict[str, Any]:
        return upstream_error_object(status, body)

    def translator(self, ex: Exchange, target: Target) -> _IdTagger | None:
        # Streams pass through untouched unless their events carry ids to tag (Responses).
        if ex.operation.stateful:
            return _IdTagger(target.resource.name, ex.operation.stream_terminal)
        return None

    def terminals(self, ex: Exchange) -> tuple[bytes, ...]:
        return ex.operation.stream_terminal


class _IdTagger:
    """Tags stateful ids (``response.created`` and friends) in each event; the rest untouched."""

    __slots__ = ("_resource", "_terminals", "complete", "failure")

    def __init__(self, resource: str, terminals: tuple[bytes, ...]) -> None:
        self._resource = resource
        self._terminals = terminals
        self.complete = not terminals
        self.failure: tuple[int, dict[str, Any]] | None = None

    def feed(self, event: SSEEvent) -> list[bytes]:
        raw = event.raw
        if any(t in raw for t in self._terminals):
            self.complete = True
        if b'"id"' not in raw:
            return [raw]
        try:
            data = _json.loads(event.data)
        except ValueError:
            return [raw]
        if not tag_ids(data, self._resource):
            return [raw]
        return [encode_event(_json.dumps(data), event=event.event, id=event.id)]

    def end(self) -> list[bytes]:
        return []


def splice_extra_fields(body: bytes, extra_fields: dict[str, Any]) -> bytes | None:
    """Insert ``"extra_fields": {...}`` as the last member of a JSON object, bytes untouched.

    Returns None when ``body`` is not a JSON object, so the caller can pass it through as is.
    """
    # (rstrip and lstrip return the body itself when there is nothing to strip; slices are
    # compared rather than startswith/endswith, whose argument parsing costs more here.)
    end = body.rstrip()
    if end[-1:] != b"}" or body.lstrip()[:1] != b"{":
        return None
    head = end[:-1].rstrip()
    sep = b"" if head[-1:] == b"{" else b","
    return b"".join((head, sep, b'"extra_fields":', encode_fields(extra_fields), b"}"))


#: The encoded front of ``extra_fields`` (up to ``latency_ms``, which differs every time) by
#: its string fields: an answer's fields repeat across requests (provider, request type,
#: alias, deployment, resource). Only all-string fronts are kept, so a hit (an equal tuple) is
#: the same strings; bounded, since ``model_requested`` is what a caller sent.
_FRONTS: dict[tuple[tuple[str, Any], ...], str] = {}
_FRONTS_MAX = 4096


#: The fields of a routed answer, in the order the gateway writes them (docs/routes.md).
_USUAL = ("provider", "request_type", "model_requested", "model_deployment", "resource")
#: Their encoded front, up to the latency's value, by their values (strings, as for _FRONTS).
_USUAL_FRONTS: dict[tuple[Any, ...], bytes] = {}
_USUAL_KEYS = (*_USUAL, "latency_ms")


def encode_fields(fields: dict[str, Any]) -> bytes:
    """``extra_fields`` as compact JSON; strings and ints by hand (twice as fast as a general
    encoder for this small flat object), the rest by :func:`_json.dumps`."""
    if len(fields) == 6 and tuple(fields) == _USUAL_KEYS:
        # The usual answer's fields: one tuple of their values is the key (the names, known,
        # need no hashing), and the latency is written into the cached front.
        values = tuple(fields.values())
        latency = values[5]
        if type(latency) is int:
            key = values[:5]
            try:
                usual = _USUAL_FRONTS.get(key)
            except TypeError:  # a value that cannot be a key: encoded each time
                usual = None
            if usual is None:
                text = "{" + _encode_items(tuple(zip(_USUAL, key, strict=True))) + ',"latency_ms":'
                usual = text.encode("utf-8", "backslashreplace")
                if len(_USUAL_FRONTS) < _FRONTS_MAX and all(type(v) is str for v in key):
                    _USUAL_FRONTS[key] = usual
            return b"%s%d}" % (usual, latency)
    items = tuple(fields.items())
    if items and items[-1][0] == "latency_ms" and type(items[-1][1]) is int:
        # Any other fields ending with the latency: their front kept by its items.
        front_items = items[:-1]
        try:
            front = _FRONTS.get(front_items)
        except TypeError:  # a value that cannot be a key (a list): encoded each time
            front = None
        if front is None:
            front = _encode_items(front_items)
            if len(_FRONTS) < _FRONTS_MAX and all(type(v) is str for _, v in front_items):
                _FRONTS[front_items] = front
        text = f'{{{front}{"," if front else ""}"latency_ms":{items[-1][1]}}}'
    else:
        text = "{" + _encode_items(items) + "}"
    return text.encode("utf-8", "backslashreplace")


def _encode_items(items: tuple[tuple[str, Any], ...]) -> str:
    parts = []
    for key, value in items:
        if isinstance(value, str):
            text = encode_basestring(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = _json.dumps(value).decode()
        parts.append(f"{encode_basestring(key)}:{text}")
    return ",".join(parts)


def tagged_json(body: bytes, resource: str, extra_fields: dict[str, Any]) -> bytes | None:
    """An Azure JSON answer with stateful ids tagged and ``extra_fields`` added."""
    try:
        data = _json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    tag_ids(data, resource)
    data["extra_fields"] = extra_fields
    return _json.dumps(data)


def upstream_error_object(status: int, body: bytes) -> dict[str, Any]:
    """The upstream's own ``error`` object (Azure or Anthropic shape), kept whole."""
    try:
        data = _json.loads(body)
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
