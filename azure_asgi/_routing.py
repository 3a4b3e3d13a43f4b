"""The route table (built once from the operation descriptors) and model resolution."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from ._errors import GatewayError
from ._operations import OPERATIONS, Operation
from ._types import Scope

__all__ = ["RouteMatch", "RouteTable", "route_segments"]

RouteFamily = Literal["unified", "azure", "azure_v1"]


def route_segments(scope: Scope) -> list[str]:
    """The request path below the mount point, as normalised, percent-decoded segments.

    Segments come from ``raw_path`` when the server provides it, so an encoded ``/`` inside a
    deployment name (``my%2Fdep``) stays one segment. Empty and ``.`` segments are dropped and
    ``..`` pops (never above the mount point): ``//v1/./x/../chat/completions`` routes as
    ``/v1/chat/completions``, so no spelling of a path reaches a route by another way in.
    """
    root_path: str = scope.get("root_path", "")
    raw: bytes | None = scope.get("raw_path")
    if raw is not None:
        raw = raw.split(b"?", 1)[0]  # some servers leave the query string on raw_path
        parts = [unquote(p, errors="surrogateescape") for p in raw.decode("latin-1").split("/")]
    else:
        parts = scope["path"].split("/")
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
    return out[skip:]


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: Operation
    family: RouteFamily
    deployment: str | None = None


class RouteTable:
    """``(method, segments) -> RouteMatch``, precomputed so a request does one dict look-up."""

    def __init__(self, operations: Iterable[Operation] = OPERATIONS) -> None:
        self._static: dict[tuple[str, ...], tuple[RouteFamily, dict[str, Operation]]] = {}
        self._deployment_ops: dict[tuple[str, ...], dict[str, Operation]] = {}
        for op in operations:
            unified = tuple(op.unified_path.strip("/").split("/"))
            self._add_static(unified, "unified", op)
            self._add_static(("openai", *unified), "azure_v1", op)
            self._deployment_ops.setdefault(tuple(op.deployment_op.split("/")), {})[op.method] = op

    def _add_static(self, key: tuple[str, ...], family: RouteFamily, op: Operation) -> None:
        entry = self._static.setdefault(key, (family, {}))
        entry[1][op.method] = op

    def match(self, method: str, segments: Sequence[str]) -> RouteMatch:
        key = tuple(segments)
        static = self._static.get(key)
        if static is not None:
            family, by_method = static
            op = by_method.get(method)
            if op is None:
                raise _method_not_allowed(method, by_method)
            return RouteMatch(op, family)
        if len(key) >= 4 and key[0] == "openai" and key[1] == "deployments":
            by_method = self._deployment_ops.get(key[3:])  # type: ignore[assignment]
            if by_method is not None:
                op = by_method.get(method)
                if op is None:
                    raise _method_not_allowed(method, by_method)
                return RouteMatch(op, "azure", deployment=key[2])
        raise GatewayError(
            404,
            f"No route for {method} /{'/'.join(segments)}. Chat completions are served at "
            "POST /v1/chat/completions (OpenAI-style) and "
            "POST /openai/deployments/{deployment}/chat/completions?api-version=... (Azure-style).",
            code="route_not_found",
        )


def _method_not_allowed(method: str, by_method: dict[str, Operation]) -> GatewayError:
    allowed = ", ".join(sorted(by_method))
    return GatewayError(
        405,
        f"Method {method} is not allowed here; use {allowed}.",
        code="method_not_allowed",
        headers={"allow": allowed},
    )
