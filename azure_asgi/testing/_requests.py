"""What the emulator records about each request, and which route a request is for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ._asgi import Scope, paths
from ._json import BadJson, parse_json
from ._multipart import Form, parse_form
from ._routes import BODY_FORM, BODY_JSON, STYLE_DEPLOYMENT, Route, route_of

__all__ = ["RecordedRequest", "parse_request"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator received, recorded before auth and faults were applied.

    ::

        req = emulator.last_request
        assert req.headers["api-key"] == "emulator-key"
        assert req.deployment == "gpt-4o" and req.json["messages"][0]["content"] == "hi"

    For ``multipart/form-data`` uploads ``body`` is the raw bytes, and :attr:`form` and
    :attr:`files` are what arrived::

        assert req.form["purpose"] == "batch"
        filename, content_type, data = req.files["file"]
    """

    method: str
    path: str
    raw_path: bytes
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    deployment: str | None

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty, not JSON, or JSON the emulator
        refuses (nested too deep, a lone surrogate)."""
        try:
            return parse_json(self.body)
        except BadJson:
            return None

    def _form(self) -> Form | None:
        return parse_form(self.body, self.headers.get("content-type", ""))

    @property
    def form(self) -> dict[str, str]:
        """The plain fields of a multipart body (a repeated name keeps its last value).

        Empty when the body is not ``multipart/form-data``.
        """
        form = self._form()
        return form.fields() if form is not None else {}

    @property
    def files(self) -> dict[str, tuple[str, str | None, bytes]]:
        """The uploaded files of a multipart body: ``{field: (filename, content_type, data)}``.

        A field sent more than once (``image[]``) keeps its last file; :meth:`file_list`
        has them all.
        """
        return {name: (filename, kind, data) for name, filename, kind, data in self.file_list()}

    def file_list(self) -> list[tuple[str, str, str | None, bytes]]:
        """Every uploaded file in order: ``(field, filename, content_type, data)``."""
        form = self._form()
        if form is None:
            return []
        return [
            (part.name, part.filename or "", part.content_type, part.data) for part in form.files()
        ]


def parse_request(scope: Scope, body: bytes) -> tuple[RecordedRequest, Route | None, Any]:
    """``(record, route, payload)``: the body is parsed once, for the record and the route.

    The payload is the parsed JSON for JSON operations (a :class:`BadJson` saying why when
    the body is refused), a :class:`Form` for multipart ones, and None otherwise.
    """
    path, raw_path = paths(scope)
    method: str = scope["method"]
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    route = route_of(raw_path.decode("latin-1"))
    payload: Any = None
    deployment = route.deployment if route is not None else None
    op = route.ops.get(method) if route is not None else None
    if route is not None and op is not None:
        if op.body == BODY_JSON:
            try:
                payload = parse_json(body)
            except BadJson as exc:
                payload = exc.with_traceback(None)  # kept as the reason, without its frames
            model = payload.get("model") if isinstance(payload, dict) else None
        elif op.body == BODY_FORM:
            payload = parse_form(body, headers.get("content-type", ""))
            model = payload.field("model") if payload is not None else None
        else:
            model = None
        if route.style != STYLE_DEPLOYMENT:
            deployment = model if isinstance(model, str) else None
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), True))
    record = RecordedRequest(method, path, raw_path, query, headers, body, deployment)
    return record, route, payload
