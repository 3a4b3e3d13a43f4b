"""The route table (built once from the operation descriptors) and path normalisation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from ._errors import GatewayError
from ._operations import OPERATIONS, Operation
from ._types import Scope

__all__ = ["RouteFamily", "RouteMatch", "RouteTable", "route_segments"]

#: ``unified``: ``/v1/...``; ``azure_v1``: ``/openai/v1/...``; ``azure``: Azure's pre-v1 routes,
#: ``/openai/deployments/{d}/...`` and ``/openai/<path>?api-version=``; ``anthropic``:
#: Claude's Messages API at ``/anthropic/v1/...``.
RouteFamily = Literal["unified", "azure", "azure_v1", "anthropic"]


_SEGMENTS: dict[tuple[str, bytes], tuple[str, ...]] = {}
_SEGMENTS_MAX = 4096


def route_segments(scope: Scope) -> tuple[str, ...]:
    """The request path below the mount point, as normalised, percent-decoded segments.

    Segments come from ``raw_path`` when the server provides it, so an encoded ``/`` inside a
    deployment name (``my%2Fdep``) stays one segment. Empty and ``.`` segments are dropped and
    ``..`` pops (never above the mount point): ``//v1/./x/../chat/completions`` routes as
    ``/v1/chat/completions``, so no spelling of a path reaches a route by another way in.
    """
    root_path: str = scope.get("root_path", "")
    raw: bytes | None = scope.get("raw_path")
    if raw is not None:
        # A service sees few distinct paths: remember their segments (bounded, so unique
        # paths from a scanner cannot grow it without limit).
        key = (root_path, raw)
        cached = _SEGMENTS.get(key)
        if cached is not None:
            return cached
        segments = _segments(root_path, raw, None)
        if len(_SEGMENTS) >= _SEGMENTS_MAX:
            _SEGMENTS.clear()
        _SEGMENTS[key] = segments
        return segments
    return _segments(root_path, None, scope["path"])


def _segments(root_path: str, raw: bytes | None, path: str | None) -> tuple[str, ...]:
    if raw is not None:
        raw = raw.split(b"?", 1)[0]  # some servers leave the query string on raw_path
        parts = [unquote(p, errors="replace") for p in raw.decode("latin-1").split("/")]
    else:
        assert path is not None
        parts = path.split("/")
    skip = len([p for p in root_path.split("/") if p]) if root_path else 0
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if len(out) > skip:
                out.pop()
            continue
        out.append(part)
    # The mount point itself is matched by the host (Mount or the middleware); what is left
    # is the gateway's own path.
    return tuple(out[skip:])


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: Operation
    family: RouteFamily
    deployment: str | None = None
    params: dict[str, str] = field(default_factory=dict)


_Templates = dict[tuple[str, int], list[Operation]]


class RouteTable:
    """``(method, segments) -> RouteMatch``, precomputed: a request scans only the few
    templates that share its first segment and length."""

    def __init__(self, operations: Iterable[Operation] = OPERATIONS) -> None:
        self._ops: _Templates = {}
        self._anthropic_ops: _Templates = {}
        self._deployment_ops: dict[tuple[str, ...], dict[str, Operation]] = {}
        #: Matches of paths without ids, which a service sees few of: found once, kept
        #: (bounded, like the segments cache). A RouteMatch is frozen, so one serves all.
        self._known: dict[tuple[str, tuple[str, ...]], RouteMatch] = {}
        for op in operations:
            segs = op.segments
            table = self._anthropic_ops if op.api == "anthropic" else self._ops
            table.setdefault((segs[0], len(segs)), []).append(op)
            if op.deployment_op is not None:
                key = tuple(op.deployment_op.split("/"))
                self._deployment_ops.setdefault(key, {})[op.method] = op

    def match(self, method: str, segments: Sequence[str]) -> RouteMatch:
        key = (method, tuple(segments))  # route_segments' tuple already: no copy
        known = self._known.get(key)
        if known is not None:
            return known
        found = self._match(method, segments)
        if not found.params:
            if len(self._known) >= _SEGMENTS_MAX:
                self._known.clear()
            self._known[key] = found
        return found

    def _match(self, method: str, segments: Sequence[str]) -> RouteMatch:
        n = len(segments)
        if n >= 2 and segments[0] == "v1":
            found = self._match_path(method, segments[1:], "unified")
        elif n >= 3 and segments[0] == "openai" and segments[1] == "v1":
            found = self._match_path(method, segments[2:], "azure_v1")
        elif n >= 4 and segments[0] == "openai" and segments[1] == "deployments":
            found = self._match_deployment(method, segments)
        elif n >= 2 and segments[0] == "openai":
            found = self._match_path(method, segments[1:], "azure")
        elif n >= 3 and segments[0] == "anthropic" and segments[1] == "v1":
            found = self._match_path(method, segments[2:], "anthropic", self._anthropic_ops)
        else:
            found = None
        if found is None:
            raise GatewayError(
                404,
                f"No route for {method} /{'/'.join(segments)}. OpenAI-style routes live under "
                "/v1/ (e.g. POST /v1/chat/completions), Azure-style ones under "
                "/openai/deployments/{deployment}/... and /openai/v1/..., Claude's Messages "
                "API at /anthropic/v1/messages; see docs/routes.md.",
                code="route_not_found",
            )
        return found

    def _match_path(
        self,
        method: str,
        segments: Sequence[str],
        family: RouteFamily,
        table: _Templates | None = None,
    ) -> RouteMatch | None:
        allowed: list[str] = []
        ops = self._ops if table is None else table
        for op in ops.get((segments[0], len(segments)), ()):
            params = _bind(op.segments, segments)
            if params is None:
                continue
            if op.method == method:
                return RouteMatch(op, family, None, params)
            allowed.append(op.method)
        if allowed:
            raise _method_not_allowed(method, allowed)
        return None

    def _match_deployment(self, method: str, segments: Sequence[str]) -> RouteMatch | None:
        by_method = self._deployment_ops.get(tuple(segments[3:]))
        if by_method is None:
            return None
        op = by_method.get(method)
        if op is None:
            raise _method_not_allowed(method, list(by_method))
        return RouteMatch(op, "azure", segments[2])


def _bind(template: tuple[str, ...], segments: Sequence[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for want, got in zip(template, segments, strict=True):
        if want[:1] == "{":
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params


def _method_not_allowed(method: str, allowed: list[str]) -> GatewayError:
    names = ", ".join(sorted(set(allowed)))
    return GatewayError(
        405,
        f"Method {method} is not allowed here; use {names}.",
        code="method_not_allowed",
        headers={"allow": names},
    )
