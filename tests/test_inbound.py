"""Reading the inbound call: hostile JSON is a 400 in the contract's shape, never a 500; video
creation takes JSON or multipart."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from azure_asgi import AzureGateway

from .conftest import CHAT, caller, make_config, mock_gateway


def recording_gateway(
    sent: list[httpx.Request], config: dict[str, Any] | None = None
) -> AzureGateway:
    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": "video_1", "object": "video", "ok": True})

    return mock_gateway(upstream, config)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"model": "gpt-4o", "messages": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
    ],
    ids=["deep-array", "deep-object"],
)
async def test_json_nested_too_deeply_is_400(body: bytes) -> None:
    sent: list[httpx.Request] = []
    async with recording_gateway(sent) as gw, caller(gw) as client:
        resp = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_json"
    assert sent == []


async def test_a_lone_surrogate_in_model_is_400_in_the_contract_shape() -> None:
    sent: list[httpx.Request] = []
    body = b'{"model": "gpt-\\ud800", "messages": [{"role": "user", "content": "x"}]}'
    async with recording_gateway(sent) as gw, caller(gw) as client:
        resp = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "model"
    assert sent == []


async def test_a_lone_surrogate_in_a_rewritten_body_goes_upstream_escaped_as_sent() -> None:
    # With api_style v1 the gateway rewrites `model`, so the body is re-serialised: the lone
    # surrogate is written back as the very escape the caller sent, and Azure decides.
    sent: list[httpx.Request] = []
    config = make_config()
    config["resources"][0]["api_style"] = "v1"
    gw = recording_gateway(sent, config)
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "a\\ud800b"}]}'
    async with gw, caller(gw) as client:
        resp = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 200
    (request,) = sent
    assert b'"a\\ud800b"' in request.content
    assert json.loads(request.content)["model"] == "my-gpt4o"


async def test_video_creation_takes_a_json_body() -> None:
    sent: list[httpx.Request] = []
    async with recording_gateway(sent) as gw, caller(gw) as client:
        resp = await client.post(
            "/v1/videos", json={"model": "gpt-4o", "prompt": "a cat", "seconds": "4"}
        )
    assert resp.status_code == 200, resp.text
    (request,) = sent
    assert request.url.path == "/openai/v1/videos"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"model": "my-gpt4o", "prompt": "a cat", "seconds": "4"}
    assert resp.json()["id"] == "video_1~eastus"


async def test_the_gateway_bounds_requests_in_flight() -> None:
    import asyncio

    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return httpx.Response(200, json={"ok": True})

    config = make_config(limits={"max_concurrency": 1})
    gw = mock_gateway(slow, config)
    async with gw, caller(gw) as client:
        first = asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
        await entered.wait()
        second = await client.post("/v1/chat/completions", json=CHAT)
        release.set()
        assert (await first).status_code == 200
        third = await client.post("/v1/chat/completions", json=CHAT)
    assert second.status_code == 503
    assert second.headers["retry-after"] == "1"
    assert second.json()["error"]["code"] == "overloaded"
    assert third.status_code == 200


async def test_a_refused_upload_closes_its_spooled_file() -> None:
    import gc
    import warnings

    sent: list[httpx.Request] = []
    async with recording_gateway(sent) as gw, caller(gw) as client:
        resp = await client.post(
            "/v1/audio/transcriptions", data={"model": ""}, files={"file": ("a.wav", b"RIFF")}
        )
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "model"
    assert sent == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
