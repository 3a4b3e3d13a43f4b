"""Route table and path normalisation (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from azure_asgi._errors import GatewayError
from azure_asgi._routing import RouteTable, route_segments


def scope(path: str, root_path: str = "", raw: bool = True) -> dict[str, Any]:
    s: dict[str, Any] = {"path": path, "root_path": root_path}
    if raw:
        s["raw_path"] = path.encode()
    return s


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/v1/chat/completions", "", ["v1", "chat", "completions"]),
        ("/llm/v1/chat/completions", "/llm", ["v1", "chat", "completions"]),
        ("/a/b/llm/v1", "/a/b/llm", ["v1"]),
        ("//v1///chat", "", ["v1", "chat"]),
        ("/v1/./x/../chat", "", ["v1", "chat"]),
        ("/llm/../../etc", "/llm", ["etc"]),  # never climbs above the mount point
        ("/openai/deployments/a%2Fb/chat", "", ["openai", "deployments", "a/b", "chat"]),
        ("/openai/deployments/a%20b/x", "", ["openai", "deployments", "a b", "x"]),
        ("/v1/chat?x=1", "", ["v1", "chat"]),
    ],
)
def test_route_segments(path: str, root: str, expected: list[str]) -> None:
    assert list(route_segments(scope(path, root))) == expected
    assert list(route_segments(scope(path, root))) == expected  # from the cache, the same


def test_route_segments_without_raw_path() -> None:
    assert route_segments(scope("/llm/v1/chat", "/llm", raw=False)) == ("v1", "chat")


def test_match_families() -> None:
    table = RouteTable()
    unified = table.match("POST", ["v1", "chat", "completions"])
    assert unified.family == "unified" and unified.deployment is None
    assert unified.operation.request_type == "chat_completion"
    v1 = table.match("POST", ["openai", "v1", "chat", "completions"])
    assert v1.family == "azure_v1"
    azure = table.match("POST", ["openai", "deployments", "dep", "chat", "completions"])
    assert azure.family == "azure" and azure.deployment == "dep"


@pytest.mark.parametrize(
    ("method", "segments", "status"),
    [
        ("POST", ["v1", "nope"], 404),
        ("POST", ["openai", "deployments", "dep"], 404),
        ("POST", ["openai", "deployments", "dep", "chat"], 404),
        ("GET", ["v1", "chat", "completions"], 405),
        ("DELETE", ["openai", "deployments", "d", "chat", "completions"], 405),
    ],
)
def test_no_match(method: str, segments: list[str], status: int) -> None:
    with pytest.raises(GatewayError) as info:
        RouteTable().match(method, segments)
    assert info.value.status == status
