"""Claude's own Messages API on the mount (``/anthropic/v1/messages``), via the anthropic SDKs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    CLIENT_KEY,
    EMULATOR_KEY,
    Scripted,
    caller,
    emulator_gateway,
    json_step,
    make_config,
    scripted_upstream,
    serve,
    sse_events,
    sse_step,
)

CLAUDE = {"deployment": "my-claude", "family": "anthropic"}
ASK = {
    "model": "claude-sonnet",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "hello from claude land"}],
}


#: A Messages stream's first event, for scripted upstreams.
MESSAGE_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
    b'"message","role":"assistant","model":"my-claude","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
)


@contextlib.asynccontextmanager
async def claude_on_loopback(chunk_delay_s: float) -> AsyncIterator[str]:
    """The gateway's URL on a loopback port, in front of a paced emulator on loopback too."""
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,), chunk_delay_s=chunk_delay_s)
    async with (
        serve(emulator) as upstream_url,
        AzureGateway(claude_config(upstream_url)) as gw,
        serve(gw) as url,
    ):
        yield url


def claude_config(endpoint: str = "http://emulator", **overrides: Any) -> dict[str, Any]:
    config = make_config(endpoint, **overrides)
    config["resources"][0]["deployments"]["claude-sonnet"] = CLAUDE
    return config


def foundry(gateway: Any) -> anthropic.AsyncAnthropicFoundry:
    return anthropic.AsyncAnthropicFoundry(
        base_url="http://gateway/anthropic",
        api_key=CLIENT_KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway)),
        max_retries=0,
    )


def plain(gateway: Any, api_key: str = CLIENT_KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://gateway/anthropic",
        api_key=api_key,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway)),
        max_retries=0,
    )


def upstream_body(emulator: AzureEmulator) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(emulator.last_request.body)
    return body


async def test_foundry_client_create_reaches_the_deployment_with_the_body_untouched() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw:
        client = foundry(gw)
        message = await client.messages.create(
            **ASK, system="be brief", metadata={"user_id": "u-1"}, extra_body={"top_k": 3}
        )
    assert message.type == "message" and message.role == "assistant"
    assert "hello from claude land" in "".join(b.text for b in message.content if b.type == "text")
    sent = emulator.last_request
    assert sent.path == "/anthropic/v1/messages"
    assert upstream_body(emulator) == {
        **ASK,
        "model": "my-claude",
        "system": "be brief",
        "metadata": {"user_id": "u-1"},
        "top_k": 3,
    }
    assert sent.headers["x-api-key"] == EMULATOR_KEY
    assert sent.headers["user-agent"] == "azure-asgi"  # the SDK's stays behind
    # The SDK's own version passes on (raw callers that name none get 2023-06-01).
    assert sent.headers["anthropic-version"] == client.default_headers["anthropic-version"]
    # The caller's own key never travels upstream.
    assert CLIENT_KEY not in json.dumps(sent.headers)
    assert "api-key" not in sent.headers


async def test_anthropic_client_presents_its_key_as_x_api_key() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw:
        message = await plain(gw).messages.create(**ASK)
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await plain(gw, api_key="wrong").messages.create(**ASK)
    assert message.content[0].type == "text"
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert body["is_gateway_error"] is True and body["status_code"] == 401
    assert len(emulator.requests) == 1


async def test_x_api_key_is_a_client_key_only_on_the_anthropic_routes() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with (
        emulator_gateway(emulator, claude_config()) as gw,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gw),
            base_url="http://gateway",
            headers={"x-api-key": CLIENT_KEY},
        ) as client,
    ):
        openai_shaped = await client.post("/v1/chat/completions", json={"model": "gpt-4o"})
        native = await client.post("/anthropic/v1/messages", json=ASK)
    assert openai_shaped.status_code == 401
    assert native.status_code == 200


async def test_a_caller_naming_no_version_gets_the_default() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw, caller(gw) as client:
        resp = await client.post("/anthropic/v1/messages", json=ASK)
    assert resp.status_code == 200, resp.text
    assert emulator.last_request.headers["anthropic-version"] == "2023-06-01"


async def test_caller_version_and_beta_pass_on_and_other_headers_stay() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw, caller(gw) as client:
        resp = await client.post(
            "/anthropic/v1/messages",
            json=ASK,
            headers={
                "anthropic-version": "2023-01-01",
                "anthropic-beta": "prompt-caching-2024-07-31",
                "cookie": "session=secret",
                "x-custom": "private",
            },
        )
    assert resp.status_code == 200, resp.text
    sent = emulator.last_request.headers
    assert sent["anthropic-version"] == "2023-01-01"
    assert sent["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert "cookie" not in sent and "x-custom" not in sent


async def test_stream_is_relayed_event_by_event_and_parsed_by_the_sdk() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with (
        emulator_gateway(emulator, claude_config()) as gw,
        foundry(gw).messages.stream(**ASK) as stream,
    ):
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds
    assert "hello from claude land" in "".join(b.text for b in final.content if b.type == "text")
    assert upstream_body(emulator)["stream"] is True
    assert upstream_body(emulator)["model"] == "my-claude"


async def test_stream_bytes_pass_through_untouched() -> None:
    events = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
        b'"message","role":"assistant","model":"my-claude","content":[],"stop_reason":null,'
        b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
        b'event: ping\ndata: {"type": "ping"}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    upstream = Scripted(sse_step(*events))
    async with (
        scripted_upstream("httpx", upstream) as (url, client),
        AzureGateway(claude_config(url), http_client=client) as gw,
        caller(gw) as c,
    ):
        resp = await c.post("/anthropic/v1/messages", json={**ASK, "stream": True})
    assert resp.status_code == 200
    assert resp.content == b"".join(events)
    assert upstream.requests[0]["path"] == "/anthropic/v1/messages"


async def test_slow_stream_reaches_the_client_before_the_upstream_finishes() -> None:
    long_ask = {**ASK, "messages": [{"role": "user", "content": " ".join(["word"] * 30)}]}
    async with claude_on_loopback(0.05) as url:
        client = anthropic.AsyncAnthropic(base_url=f"{url}/anthropic", api_key=CLIENT_KEY)
        started = time.perf_counter()
        arrivals = []
        async with client.messages.stream(**long_ask) as stream:
            async for event in stream:
                if event.type == "content_block_delta":
                    arrivals.append(time.perf_counter() - started)
        await client.close()
    assert len(arrivals) >= 10
    # Event by event: the first delta well before the last.
    assert arrivals[-1] - arrivals[0] > 0.25


async def test_count_tokens_goes_to_the_deployment() -> None:
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"input_tokens": 7})

    transport = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    async with AzureGateway(claude_config(), http_client=transport) as gw:
        counted = await foundry(gw).messages.count_tokens(
            model="claude-sonnet", messages=ASK["messages"]
        )
    assert counted.input_tokens == 7
    assert seen[0].url.path == "/anthropic/v1/messages/count_tokens"
    assert json.loads(seen[0].content) == {"model": "my-claude", "messages": ASK["messages"]}


async def test_unknown_model_is_an_anthropic_not_found_error() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw:
        with pytest.raises(anthropic.NotFoundError) as missing:
            await foundry(gw).messages.create(**{**ASK, "model": "claude-nope"})
    body = missing.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert body["error"]["code"] == "model_not_found"
    assert body["event_id"] and body["extra_fields"]["request_type"] == "messages"
    assert emulator.requests == []


async def test_a_gpt_deployment_is_refused_on_the_messages_route() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await foundry(gw).messages.create(**{**ASK, "model": "gpt-4o"})
    body = refused.value.body
    assert isinstance(body, dict) and body["error"]["code"] == "unsupported_operation"
    assert emulator.requests == []


async def test_bad_json_and_unknown_routes_answer_in_anthropic_shape() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    async with emulator_gateway(emulator, claude_config()) as gw, caller(gw) as client:
        bad = await client.post("/anthropic/v1/messages", content=b"{not json")
        nowhere = await client.post("/anthropic/v1/complete", json=ASK)
        wrong_method = await client.get("/anthropic/v1/messages")
    for resp, status in ((bad, 400), (nowhere, 404), (wrong_method, 405)):
        assert resp.status_code == status
        body = resp.json()
        assert body["type"] == "error" and isinstance(body["error"]["message"], str)
        assert body["status_code"] == status and body["is_gateway_error"] is True
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert nowhere.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_upstream_errors_keep_anthropic_shape_and_529_is_retried(kind: str) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream = Scripted(json_step(overloaded, status=529))
    async with (
        scripted_upstream(kind, upstream) as (url, client),
        AzureGateway(claude_config(url), http_client=client) as gw,
        caller(gw) as c,
    ):
        resp = await c.post("/anthropic/v1/messages", json=ASK)
    assert resp.status_code == 529
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"] == overloaded["error"]
    assert body["is_gateway_error"] is False and body["status_code"] == 529
    assert len(upstream.requests) == 3  # 529 is Anthropic's "retry later"


async def test_sdk_raises_on_a_stream_that_breaks_with_an_error_event() -> None:
    start = MESSAGE_START
    upstream = Scripted(sse_step(start, cut=True))
    async with (
        scripted_upstream("aiohttp", upstream) as (url, client),
        AzureGateway(claude_config(url), http_client=client) as gw,
        caller(gw) as c,
    ):
        resp = await c.post("/anthropic/v1/messages", json={**ASK, "stream": True})
        events = sse_events(resp.content)
        assert events[-1].event == "error"
        error = json.loads(events[-1].data)
        assert error["type"] == "error" and error["error"]["type"] == "api_error"
        assert error["error"]["code"] == "stream_interrupted"
        assert b"message_stop" not in resp.content
        with pytest.raises(anthropic.APIStatusError):
            await drain(foundry(gw))


async def drain(client: anthropic.AsyncAnthropicFoundry) -> None:
    async with client.messages.stream(**ASK) as stream:
        async for _ in stream:
            pass


async def test_emulator_fault_on_the_messages_route_reaches_the_caller_after_retries() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    emulator.inject(Fault.status(429, retry_after_ms=1), times=3)
    async with emulator_gateway(emulator, claude_config()) as gw:
        with pytest.raises(anthropic.RateLimitError) as limited:
            await foundry(gw).messages.create(**ASK)
    assert len(emulator.requests) == 3
    body = limited.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
    await asyncio.sleep(0)
