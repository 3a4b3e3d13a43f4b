"""The merged model list on its own: configured aliases first, then every resource's models;
capabilities from the upstream, else read from the names; a failing resource named, not fatal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from azure_asgi import GatewayConfig
from azure_asgi._catalog import Catalog
from azure_asgi._identity import build_auth
from azure_asgi._model_list import list_models
from azure_asgi._transport import make_transport

from .conftest import caller, mock_gateway

CHAT_CAPS = {"chat_completion": True, "completion": True, "responses": True}
Answer = Callable[[httpx.Request], httpx.Response]


def resource(name: str, deployments: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "endpoint": f"https://{name}.example",
        "auth": {"api_key": f"key-{name}"},
        "deployments": deployments,
        **more,
    }


def catalog(*resources: dict[str, Any]) -> Catalog:
    config = GatewayConfig.coerce({"resources": list(resources)})
    return Catalog(config, {r.name: build_auth(r) for r in config.resources})


def listing(*models: dict[str, Any]) -> Answer:
    return lambda request: httpx.Response(200, json={"object": "list", "data": list(models)})


class Upstreams:
    """Answers each resource's ``GET .../models`` by host name, recording every request."""

    def __init__(self, **by_host: Answer) -> None:
        self.by_host = by_host
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.by_host[request.url.host.split(".")[0]](request)

    def transport(self) -> Any:
        return make_transport(httpx.AsyncClient(transport=httpx.MockTransport(self)))


async def test_aliases_come_first_in_name_order_then_each_resources_models() -> None:
    cat = catalog(
        resource("a", {"gpt-4o": "dep-a", "embed": "text-embedding-3-small"}),
        resource("b", {"gpt-4o": "dep-b", "mini": "mini-b"}),
    )
    upstreams = Upstreams(
        a=listing({"id": "gpt-4o", "owned_by": "a"}, {"id": "only-a"}),
        b=listing({"id": "gpt-4o", "owned_by": "b"}, {"id": "only-b"}),
    )
    result = await list_models(cat, upstreams.transport())
    assert [m["id"] for m in result["data"]] == [
        "azure/embed",
        "azure/gpt-4o",
        "azure/mini",
        "gpt-4o",
        "only-a",
        "only-b",
    ]
    assert result["resources_failed"] == []
    alias = result["data"][1]
    assert alias == {
        "id": "azure/gpt-4o",
        "object": "model",
        "created": 0,
        "owned_by": "azure",
        "deployment": "dep-a",
        "family": "openai",
        "resources": ["a", "b"],
        "capabilities": CHAT_CAPS,
    }
    # An upstream id listed by two resources is the first one's, tagged with where it came from.
    assert result["data"][3] == {"id": "gpt-4o", "owned_by": "a", "resource": "a"}
    sent = sorted((r.method, str(r.url), r.headers["api-key"]) for r in upstreams.requests)
    assert sent == [
        ("GET", "https://a.example/openai/v1/models", "key-a"),
        ("GET", "https://b.example/openai/v1/models", "key-b"),
    ]


async def test_capabilities_are_the_upstreams_for_the_deployment_then_the_alias() -> None:
    by_deployment = {"embeddings": True, "source": "deployment"}
    by_alias = {"chat_completion": True, "source": "alias"}
    cat = catalog(resource("a", {"x": "dep-x", "y": "dep-y"}))
    upstreams = Upstreams(
        a=listing(
            {"id": "dep-x", "capabilities": by_deployment},
            {"id": "x", "capabilities": by_alias},
            {"id": "y", "capabilities": by_alias},
            {"id": "dep-y", "capabilities": "not an object"},  # ignored
        )
    )
    result = await list_models(cat, upstreams.transport())
    caps = {m["id"]: m["capabilities"] for m in result["data"][:2]}
    assert caps == {"azure/x": by_deployment, "azure/y": by_alias}


@pytest.mark.parametrize(
    ("alias", "deployment", "expected"),
    [
        ("embed", "text-embedding-3-large", {"embeddings": True}),
        ("stt", "whisper", {"transcription": True, "translation": True}),
        ("gpt-4o-transcribe", "dep", {"transcription": True}),
        ("voice", "tts-hd", {"speech": True}),
        ("img", "dall-e-3", {"image_generation": True}),
        ("gpt-image-1", "dep", {"image_generation": True, "image_edit": True}),
        ("video", "sora", {"video": True}),
        ("gpt-4o", "dep", CHAT_CAPS),
        ("claude-sonnet", "dep", {"chat_completion": True, "responses": True, "messages": True}),
    ],
)
async def test_without_upstream_capabilities_they_are_read_from_the_names(
    alias: str, deployment: str, expected: dict[str, bool]
) -> None:
    cat = catalog(resource("a", {alias: deployment}))
    result = await list_models(cat, Upstreams(a=listing()).transport())
    (entry,) = result["data"]
    assert entry["capabilities"] == expected


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: httpx.Response(500, json={"error": {"code": "boom"}}),
        lambda request: httpx.Response(200, content=b"<html>not json</html>"),
        lambda request: (_ for _ in ()).throw(httpx.ConnectError("down")),
    ],
    ids=["500", "not-json", "unreachable"],
)
async def test_a_failing_resource_is_named_and_the_rest_still_listed(answer: Answer) -> None:
    cat = catalog(resource("a", {"gpt-4o": "dep-a"}), resource("b", {"gpt-4o": "dep-b"}))
    upstreams = Upstreams(a=answer, b=listing({"id": "from-b"}))
    result = await list_models(cat, upstreams.transport())
    assert result["resources_failed"] == ["a"]
    assert [m["id"] for m in result["data"]] == ["azure/gpt-4o", "from-b"]
    assert result["data"][0]["resources"] == ["a", "b"]  # configured, whatever its list said


@pytest.mark.parametrize(
    "body",
    [{"data": "nope"}, [1, 2], {"object": "list"}, {"data": [1, "x", None, {"id": 5}]}],
    ids=["data-not-a-list", "not-an-object", "no-data", "entries-without-string-ids"],
)
async def test_an_odd_listing_adds_nothing_and_is_not_a_failure(body: Any) -> None:
    cat = catalog(resource("a", {"gpt-4o": "dep-a"}))
    answer = lambda request: httpx.Response(200, content=json.dumps(body).encode())  # noqa: E731
    result = await list_models(cat, Upstreams(a=answer).transport())
    assert result["resources_failed"] == []
    assert [m["id"] for m in result["data"]] == ["azure/gpt-4o"]


async def test_one_alias_is_described_from_its_own_resources_lists_only() -> None:
    cat = catalog(
        resource("a", {"gpt-4o": "dep-a"}),
        resource("b", {"mini": "mini-b", "gpt-4o": "dep-b"}),
        resource("c", {"mini": "mini-c"}),
    )
    caps = {"chat_completion": True, "from": "b"}
    upstreams = Upstreams(
        a=listing(), b=listing({"id": "mini-b", "capabilities": caps}), c=listing()
    )
    result = await list_models(cat, upstreams.transport(), "mini")
    assert result["resources_failed"] == []
    (entry,) = result["data"]
    assert (entry["id"], entry["resources"], entry["capabilities"]) == (
        "azure/mini",
        ["b", "c"],
        caps,
    )
    assert sorted(r.url.host for r in upstreams.requests) == ["b.example", "c.example"]


async def test_the_gateway_answers_with_the_list_and_its_failures_in_extra_fields() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.host == "b.example":
            return httpx.Response(503)
        return httpx.Response(200, json={"data": [{"id": "from-a"}]})

    config = {
        "resources": [resource("a", {"gpt-4o": "dep-a"}), resource("b", {"mini": "mini-b"})],
        "clients": {"anonymous": True},
    }
    async with mock_gateway(upstream, config) as gw, caller(gw) as client:
        listed = await client.get("/v1/models")
        one = await client.get("/v1/models/azure%2Fmini")  # as the SDKs encode it
    assert listed.status_code == one.status_code == 200
    body = listed.json()
    assert [m["id"] for m in body["data"]] == ["azure/gpt-4o", "azure/mini", "from-a"]
    assert body["extra_fields"]["resources_failed"] == ["b"]
    assert isinstance(body["extra_fields"]["latency_ms"], int)
    assert one.json()["id"] == "azure/mini"
    assert one.json()["extra_fields"]["resources_failed"] == ["b"]
