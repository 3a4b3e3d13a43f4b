"""What the emulator records about each request, and which route a request is for."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from ._asgi import Scope, paths

__all__ = ["ROUTE_DEPLOYMENT", "ROUTE_MESSAGES", "ROUTE_V1", "RecordedRequest", "parse_request"]

ROUTE_DEPLOYMENT, ROUTE_V1, ROUTE_MESSAGES = "deployment", "v1", "messages"
_DEPLOYMENT_SHAPE = ["", "openai", "deployments", "chat", "completions"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator received, recorded before auth and faults were applied.

    ::

        req = emulator.last_request
        assert req.headers["api-key"] == "emulator-key"
        assert req.deployment == "gpt-4o" and req.json["messages"][0]["content"] == "hi"
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
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def route_of(raw_path: str) -> tuple[str | None, str | None]:
    """``(route, deployment)`` for a raw path; the deployment segment is percent-decoded."""
    path = raw_path.rstrip("/")
    if path == "/openai/v1/chat/completions":
        return ROUTE_V1, None
    if path == "/anthropic/v1/messages":
        return ROUTE_MESSAGES, None
    parts = path.split("/")
    # ["", "openai", "deployments", <deployment>, "chat", "completions"]: the deployment is
    # taken from the raw path so that an encoded "/" stays inside the name.
    if len(parts) == 6 and parts[3] and parts[:3] + parts[4:] == _DEPLOYMENT_SHAPE:
        return ROUTE_DEPLOYMENT, unquote(parts[3])
    return None, None


def parse_request(scope: Scope, body: bytes) -> tuple[RecordedRequest, str | None, Any]:
    """``(record, route, payload)``: the body is parsed once, for the record and the route."""
    path, raw_path = paths(scope)
    route, deployment = route_of(raw_path.decode("latin-1"))
    payload: Any = None
    if route is not None:
        with contextlib.suppress(ValueError):
            payload = json.loads(body)
        if route != ROUTE_DEPLOYMENT and isinstance(payload, dict):
            model = payload.get("model")
            deployment = model if isinstance(model, str) else None
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), True))
    record = RecordedRequest(scope["method"], path, raw_path, query, headers, body, deployment)
    return record, route, payload
