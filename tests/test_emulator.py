"""The built-in emulator, driven by the real openai and anthropic SDKs and by raw ASGI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
import anthropic
import httpx
import httpx2
import openai
import pytest
from asgiref.testing import ApplicationCommunicator

from azure_asgi.testing import AzureEmulator, Fault, RecordedRequest

from .conftest import API_VERSION, serve, sse_data, sse_events
from .conftest import EMULATOR_KEY as KEY  # the conftest emulator fixture's key
from .conftest import http_scope as scope_for

CHAT_PATH = f"/openai/deployments/gpt-4o/chat/completions?api-version={API_VERSION}"
USER = [{"role": "user", "content": "hello big wide world"}]
TOOLS = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}},
]
CLAUDE_TOOLS = [{"name": "lookup", "input_schema": {"type": "object"}}]


# ---------------------------------------------------------------- helpers


def azure(app: Any, **kwargs: Any) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://emulator",
        api_key=kwargs.pop("api_key", KEY),
        api_version=API_VERSION,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        **kwargs,
    )


def claude(app: Any, **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://emulator/anthropic",
        api_key=kwargs.pop("api_key", KEY),
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        **kwargs,
    )


def raw(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", headers={"api-key": KEY}
    )


def http_scope(path: str = "/openai/deployments/gpt-4o/chat/completions") -> dict[str, Any]:
    return scope_for(
        path,
        query=f"api-version={API_VERSION}".encode(),
        headers=[(b"api-key", KEY.encode()), (b"content-type", b"application/json")],
    )


async def start_stream(app: AzureEmulator, **body: Any) -> ApplicationCommunicator:
    """Start a streamed chat request on the raw ASGI app; returns after the response start."""
    comm = ApplicationCommunicator(app, http_scope())
    payload = {"messages": USER, "stream": True, **body}
    await comm.send_input({"type": "http.request", "body": json.dumps(payload).encode()})
    start = await comm.receive_output(timeout=2)
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    return comm


async def read_bodies(comm: ApplicationCommunicator, into: list[bytes]) -> None:
    """Collect response body messages until the last one (or the app's exception)."""
    while True:
        message = await comm.receive_output(timeout=2)
        into.append(message["body"])
        if not message["more_body"]:
            return


async def read_payload(resp: aiohttp.ClientResponse, into: bytearray) -> None:
    async for chunk in resp.content.iter_any():
        into += chunk


# ---------------------------------------------------------------- chat completions: JSON


async def test_json_reply_echoes_the_last_user_message_in_azures_shape(
    emulator: AzureEmulator,
) -> None:
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert reply.choices[0].message.content == "hello big wide world"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    assert reply.model == "gpt-4o-2024-11-20"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 4)
    assert reply.usage.total_tokens == 8
    body = reply.model_dump()
    assert body["prompt_filter_results"][0]["prompt_index"] == 0
    prompt_filters = body["prompt_filter_results"][0]["content_filter_results"]
    assert prompt_filters["jailbreak"] == {"filtered": False, "detected": False}
    assert prompt_filters["hate"] == {"filtered": False, "severity": "safe"}
    choice_filters = body["choices"][0]["content_filter_results"]
    assert set(choice_filters) >= {"hate", "self_harm", "sexual", "violence"}
    assert choice_filters["protected_material_text"] == {"filtered": False, "detected": False}


async def test_raw_json_body_has_every_azure_field(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        resp = await client.post(CHAT_PATH, json={"messages": USER})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-ratelimit-remaining-requests"]
    body = resp.json()
    assert set(body) == {
        "choices",
        "created",
        "id",
        "model",
        "object",
        "prompt_filter_results",
        "system_fingerprint",
        "usage",
    }
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["logprobs"] is None and choice["index"] == 0
    assert choice["message"] == {
        "annotations": [],
        "content": "hello big wide world",
        "refusal": None,
        "role": "assistant",
    }


async def test_content_parts_are_joined_and_the_last_user_message_wins(
    emulator: AzureEmulator,
) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "this picture"},
            ],
        },
    ]
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=messages)
    assert reply.choices[0].message.content == "look at this picture"


async def test_n_gives_that_many_identical_choices(emulator: AzureEmulator) -> None:
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=USER, n=2)
    assert [c.index for c in reply.choices] == [0, 1]
    assert {c.message.content for c in reply.choices} == {"hello big wide world"}
    assert reply.usage is not None and reply.usage.completion_tokens == 8


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_token_limit_truncates_to_words_with_finish_reason_length(
    emulator: AzureEmulator, field: str
) -> None:
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=USER, **{field: 2})
    assert reply.choices[0].message.content == "hello big"
    assert reply.choices[0].finish_reason == "length"


async def test_named_tool_choice_calls_that_tool_with_the_echo(emulator: AzureEmulator) -> None:
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "search"}},
        )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "search"
    assert json.loads(call.function.arguments) == {"text": "hello big wide world"}


async def test_required_and_auto_tool_choice_call_the_first_tool_and_none_answers_text(
    emulator: AzureEmulator,
) -> None:
    # Since schema-true replies, "auto" calls a tool too when the last message is the user's
    # (so agent loops can be tested); "none" is how to get text with tools offered.
    async with azure(emulator) as client:
        forced = await client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            tools=TOOLS,
            tool_choice="required",
        )
        auto = await client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)
        none = await client.chat.completions.create(
            model="gpt-4o", messages=USER, tools=TOOLS, tool_choice="none"
        )
    for reply in (forced, auto):
        assert reply.choices[0].message.tool_calls is not None
        assert reply.choices[0].message.tool_calls[0].function.name == "lookup"
    assert none.choices[0].message.content == "hello big wide world"


async def test_v1_api_takes_the_deployment_from_the_body_and_a_bearer_key(
    emulator: AzureEmulator,
) -> None:
    client = openai.AsyncOpenAI(
        base_url="http://emulator/openai/v1",
        api_key=KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)),
    )
    async with client:
        reply = await client.chat.completions.create(model="my-dep", messages=USER)
    assert reply.choices[0].message.content == "hello big wide world"
    seen = emulator.last_request
    assert seen.path == "/openai/v1/chat/completions"
    assert seen.deployment == "my-dep"
    assert seen.headers["authorization"] == f"Bearer {KEY}"


# ---------------------------------------------------------------- chat completions: streaming


async def test_sdk_stream_reassembles_the_text_exactly_with_usage(emulator: AzureEmulator) -> None:
    text = "  spaced   out\nlines and\ttabs, h\u00e9llo \u2603 "
    async with azure(emulator) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": text}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == text
    assert chunks[0].choices == []
    assert chunks[0].model_dump()["prompt_filter_results"][0]["prompt_index"] == 0
    assert chunks[1].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert emulator.streams_completed == 1 and emulator.open_streams == 0


async def test_raw_stream_follows_azures_event_order(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        resp = await client.post(CHAT_PATH, json={"messages": USER, "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_data(resp.content)
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first == {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": first["prompt_filter_results"],
    }
    role = json.loads(events[1])
    assert role["object"] == "chat.completion.chunk"
    assert role["choices"][0]["delta"] == {"content": "", "refusal": None, "role": "assistant"}
    assert role["choices"][0]["content_filter_results"] == {}
    words = [json.loads(e) for e in events[2:-2]]
    assert ["".join(w["choices"][0]["delta"]["content"] for w in words)] == ["hello big wide world"]
    assert all(
        w["choices"][0]["content_filter_results"]["hate"]["severity"] == "safe" for w in words
    )
    finish = json.loads(events[-2])
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in finish  # no include_usage: no usage fields at all


async def test_each_event_is_its_own_asgi_body_message(emulator: AzureEmulator) -> None:
    comm = await start_stream(emulator)
    bodies: list[bytes] = []
    await read_bodies(comm, bodies)
    await comm.wait()
    assert bodies[-1] == b""
    assert all(b.startswith(b"data: ") and b.endswith(b"\n\n") for b in bodies[:-1])
    assert bodies[-2] == b"data: [DONE]\n\n"
    assert len(bodies) == 1 + 1 + 4 + 1 + 1 + 1  # filters, role, 4 words, finish, DONE, end


async def test_tool_call_stream_uses_openais_delta_shape(emulator: AzureEmulator) -> None:
    async with azure(emulator) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            tools=TOOLS,
            tool_choice="required",
            stream=True,
        )
        chunks = [chunk async for chunk in stream if chunk.choices]
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id and calls[0].id.startswith("call_") and calls[0].type == "function"
    assert calls[0].function is not None and calls[0].function.name == "lookup"
    assert len(calls) > 2  # the arguments arrive in pieces
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == {"text": "hello big wide world"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# ---------------------------------------------------------------- errors and auth


async def test_wrong_key_is_401_in_azures_shape(emulator: AzureEmulator) -> None:
    async with azure(emulator, api_key="wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.status_code == 401
    body = caught.value.response.json()
    assert body["error"]["code"] == "401"
    assert body["error"]["message"].startswith("Access denied due to invalid subscription key")
    assert emulator.last_request.headers["api-key"] == "wrong"  # recorded although rejected


async def test_entra_tokens_are_accepted_and_keys_are_not_bearer_tokens_on_deployments() -> None:
    emulator = AzureEmulator(api_keys=(), tokens=("token-1",))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator"
    ) as client:
        good = await client.post(
            CHAT_PATH, json={"messages": USER}, headers={"authorization": "Bearer token-1"}
        )
        bad = await client.post(
            CHAT_PATH, json={"messages": USER}, headers={"authorization": "Bearer nope"}
        )
    assert (good.status_code, bad.status_code) == (200, 401)

    keyed = AzureEmulator(api_keys=(KEY,))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=keyed), base_url="http://emulator"
    ) as client:
        bearer = {"authorization": f"Bearer {KEY}"}
        deployments = await client.post(CHAT_PATH, json={"messages": USER}, headers=bearer)
        v1 = await client.post(
            "/openai/v1/chat/completions", json={"model": "m", "messages": USER}, headers=bearer
        )
    assert (deployments.status_code, v1.status_code) == (401, 200)


async def test_api_keys_none_accepts_any_request() -> None:
    emulator = AzureEmulator(api_keys=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator"
    ) as client:
        resp = await client.post(CHAT_PATH, json={"messages": USER})
    assert resp.status_code == 200


async def test_missing_api_version_is_azures_404(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        resp = await client.post(
            "/openai/deployments/gpt-4o/chat/completions", json={"messages": USER}
        )
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "404", "message": "Resource not found"}}


async def test_deployment_mapping_serves_only_its_deployments_and_names_the_model() -> None:
    emulator = AzureEmulator(deployments={"gpt-4o": "gpt-4o-2024-08-06"})
    async with azure(emulator, max_retries=0) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=USER)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="unknown", messages=USER)
    assert reply.model == "gpt-4o-2024-08-06"
    assert caught.value.response.json()["error"]["code"] == "DeploymentNotFound"


async def test_percent_encoded_deployment_is_recorded_decoded(emulator: AzureEmulator) -> None:
    async with azure(emulator) as client:
        await client.chat.completions.create(model="team/dep one", messages=USER)
    seen = emulator.last_request
    assert seen.raw_path == b"/openai/deployments/team%2Fdep%20one/chat/completions"
    assert seen.deployment == "team/dep one"


async def test_bad_bodies_are_400(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        not_json = await client.post(
            CHAT_PATH, content=b"{nope", headers={"content-type": "application/json"}
        )
        missing = await client.post(CHAT_PATH, json={"model": "x"})
        empty = await client.post(CHAT_PATH, json={"messages": []})
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "BadRequest"
    assert (missing.status_code, missing.json()["error"]["param"]) == (400, "messages")
    assert (empty.status_code, empty.json()["error"]["param"]) == (400, "messages")
    assert empty.json()["error"]["code"] == "empty_array"


async def test_unknown_routes_are_404_and_wrong_methods_405(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        unknown = await client.post(f"/openai/deployments/gpt-4o/nothing?api-version={API_VERSION}")
        get = await client.get(CHAT_PATH)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert get.status_code == 405 and get.headers["allow"] == "POST"


# ---------------------------------------------------------------- recording


async def test_requests_are_recorded_in_order_with_everything(emulator: AzureEmulator) -> None:
    with pytest.raises(LookupError, match="not received any request"):
        emulator.last_request  # noqa: B018
    async with raw(emulator) as client:
        await client.post(CHAT_PATH, json={"messages": USER}, headers={"X-Trace": "a"})
        await client.post(CHAT_PATH + "&x=1&x=2", content=b"not json")
    first, second = emulator.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path) == ("POST", "/openai/deployments/gpt-4o/chat/completions")
    assert first.query == {"api-version": API_VERSION}
    assert first.headers["x-trace"] == "a" and first.headers["api-key"] == KEY
    assert json.loads(first.body) == {"messages": USER}
    assert first.json == {"messages": USER} and first.deployment == "gpt-4o"
    assert second.query == {"api-version": API_VERSION, "x": "2"}  # last value wins
    assert (second.body, second.json) == (b"not json", None)
    assert emulator.last_request is second
    emulator.inject(Fault.status(500))
    emulator.reset()
    assert emulator.requests == []
    async with raw(emulator) as client:
        assert (await client.post(CHAT_PATH, json={"messages": USER})).status_code == 200


async def test_lifespan_startup_and_shutdown_complete(emulator: AzureEmulator) -> None:
    comm = ApplicationCommunicator(emulator, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await comm.send_input({"type": "lifespan.startup"})
    assert await comm.receive_output(timeout=1) == {"type": "lifespan.startup.complete"}
    await comm.send_input({"type": "lifespan.shutdown"})
    assert await comm.receive_output(timeout=1) == {"type": "lifespan.shutdown.complete"}
    await comm.wait()


# ---------------------------------------------------------------- faults


async def test_status_429_has_retry_after_headers_and_azures_message(
    emulator: AzureEmulator,
) -> None:
    emulator.inject(Fault.status(429, retry_after_ms=1500))
    async with azure(emulator, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
        after = await client.chat.completions.create(model="gpt-4o", messages=USER)
    response = caught.value.response
    assert response.headers["retry-after-ms"] == "1500"
    assert response.headers["retry-after"] == "2"
    error = response.json()["error"]
    assert error["code"] == "429"
    assert f"API version {API_VERSION} have exceeded token rate limit" in error["message"]
    assert "Please retry after 2 seconds" in error["message"]
    assert after.choices[0].message.content == "hello big wide world"  # times=1 by default
    assert len(emulator.requests) == 2


async def test_status_500_and_custom_codes_and_headers(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.status(500))
    emulator.inject(Fault.status(503, code="Busy", message="later", headers={"x-ms-region": "r"}))
    async with raw(emulator) as client:
        internal = await client.post(CHAT_PATH, json={"messages": USER})
        busy = await client.post(CHAT_PATH, json={"messages": USER})
    assert internal.status_code == 500
    assert internal.json()["error"]["code"] == "InternalServerError"
    assert busy.status_code == 503
    assert busy.json() == {"error": {"code": "Busy", "message": "later"}}
    assert busy.headers["x-ms-region"] == "r"


async def test_content_filter_fault_is_azures_400_with_innererror(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.content_filter())
    async with azure(emulator, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.code == "content_filter"
    error = caught.value.response.json()["error"]
    assert error["message"].startswith("The response was filtered due to the prompt triggering")
    assert (error["type"], error["param"], error["status"]) == (None, "prompt", 400)
    inner = error["innererror"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}
    assert inner["content_filter_result"]["jailbreak"] == {"filtered": False, "detected": False}
    assert set(inner["content_filter_result"]) == {
        "hate",
        "jailbreak",
        "self_harm",
        "sexual",
        "violence",
    }


async def test_slow_delays_the_response_headers(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.slow(0.15))
    async with raw(emulator) as client:
        began = time.monotonic()
        resp = await client.post(CHAT_PATH, json={"messages": USER})
        slow = time.monotonic() - began
        began = time.monotonic()
        await client.post(CHAT_PATH, json={"messages": USER})
        fast = time.monotonic() - began
    assert resp.status_code == 200
    assert slow >= 0.15 > fast


async def test_slow_stream_and_chunk_delay_pause_between_chunks() -> None:
    emulator = AzureEmulator(chunk_delay_s=0.01)
    emulator.inject(Fault.slow_stream(0.03))
    async with raw(emulator) as client:
        began = time.monotonic()
        await client.post(CHAT_PATH, json={"messages": USER, "stream": True})
        faulted = time.monotonic() - began
        began = time.monotonic()
        await client.post(CHAT_PATH, json={"messages": USER, "stream": True})
        default = time.monotonic() - began
    # 8 events, 7 pauses each: 0.21 s with the fault, 0.07 s with the emulator's delay.
    assert faulted >= 0.2
    assert 0.07 <= default < 0.2


async def test_cut_stream_breaks_after_n_chunks_with_no_done(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.cut_stream(after_chunks=3))
    comm = await start_stream(emulator)
    received: list[bytes] = []
    with pytest.raises(ConnectionResetError, match="stream cut"):
        await read_bodies(comm, received)
    assert len(received) == 3
    assert all(b"[DONE]" not in body for body in received)
    assert (emulator.open_streams, emulator.streams_completed, emulator.streams_cancelled) == (
        0,
        0,
        0,
    )


async def test_cut_stream_surfaces_an_error_to_in_process_clients(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.cut_stream(after_chunks=2), times=2)
    async with raw(emulator) as client:
        with pytest.raises(ConnectionResetError):
            await client.post(CHAT_PATH, json={"messages": USER, "stream": True})
    # The SDK wraps only httpx2's own transport errors; the app's exception reaches it as is.
    async with azure(emulator, max_retries=0) as sdk:
        with pytest.raises(ConnectionResetError):
            await sdk.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    assert emulator.streams_completed == 0


async def test_hold_stream_waits_for_release_mid_stream(emulator: AzureEmulator) -> None:
    hold = Fault.hold_stream(after_chunks=1)
    assert Fault.hold_stream(after_chunks=1).release is not hold.release
    emulator.inject(hold)
    comm = await start_stream(emulator)
    first = await comm.receive_output(timeout=2)
    assert b'"prompt_filter_results"' in first["body"] and first["more_body"] is True
    await asyncio.sleep(0.02)  # give a (wrongly) unheld stream time to run on
    assert emulator.open_streams == 1
    assert emulator.streams_completed == 0
    hold.release.set()
    rest: list[bytes] = []
    await read_bodies(comm, rest)
    await comm.wait()
    assert rest[-2] == b"data: [DONE]\n\n"
    assert (emulator.open_streams, emulator.streams_completed) == (0, 1)


async def test_times_and_path_contains_select_the_requests(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.status(500), times=2, path_contains="/deployments/other/")
    other = f"/openai/deployments/other/chat/completions?api-version={API_VERSION}"
    async with raw(emulator) as client:
        statuses = [
            (await client.post(CHAT_PATH, json={"messages": USER})).status_code,
            (await client.post(other, json={"messages": USER})).status_code,
            (await client.post(CHAT_PATH, json={"messages": USER})).status_code,
            (await client.post(other, json={"messages": USER})).status_code,
            (await client.post(other, json={"messages": USER})).status_code,
        ]
    assert statuses == [200, 500, 200, 500, 200]
    with pytest.raises(ValueError, match="times"):
        emulator.inject(Fault.status(500), times=0)


async def test_a_client_that_goes_away_is_counted_as_cancelled(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.slow_stream(0.05))
    comm = await start_stream(emulator)
    first = await comm.receive_output(timeout=2)
    assert first["more_body"] is True
    assert emulator.open_streams == 1
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=1)
    assert (emulator.open_streams, emulator.streams_cancelled, emulator.streams_completed) == (
        0,
        1,
        0,
    )

    # A held stream notices the disconnect too, without being released.
    emulator.inject(Fault.hold_stream(after_chunks=2))
    comm = await start_stream(emulator)
    await comm.receive_output(timeout=2)
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=1)
    assert emulator.streams_cancelled == 2


async def test_a_cancelled_task_is_counted_as_cancelled(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.hold_stream(after_chunks=1))
    comm = await start_stream(emulator)
    await comm.receive_output(timeout=2)
    comm.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await comm.future
    assert (emulator.open_streams, emulator.streams_cancelled) == (0, 1)


# ---------------------------------------------------------------- Anthropic Messages


async def test_anthropic_json_reply(emulator: AzureEmulator) -> None:
    async with claude(emulator) as client:
        message = await client.messages.create(
            model="claude-dep",
            max_tokens=100,
            system="be brief",
            messages=[
                {"role": "user", "content": "earlier"},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hello"},
                        {"type": "text", "text": "claude"},
                    ],
                },
            ],
        )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "claude-dep"
    assert message.content[0].type == "text" and message.content[0].text == "hello claude"
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (6, 2)
    seen = emulator.last_request
    assert seen.path == "/anthropic/v1/messages" and seen.deployment == "claude-dep"
    # This SDK sends its api_key as a bearer token; AnthropicFoundry sends x-api-key.
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert "anthropic-version" in seen.headers


async def test_anthropic_foundry_client_with_x_api_key(emulator: AzureEmulator) -> None:
    client = anthropic.AsyncAnthropicFoundry(
        base_url="http://emulator/anthropic/",
        api_key=KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)),
    )
    async with client:
        message = await client.messages.create(model="claude-dep", max_tokens=10, messages=USER)
    assert message.content[0].text == "hello big wide world"
    seen = emulator.last_request
    assert seen.headers["x-api-key"] == KEY and "authorization" not in seen.headers


async def test_anthropic_max_tokens_truncates(emulator: AzureEmulator) -> None:
    async with claude(emulator) as client:
        message = await client.messages.create(model="c", max_tokens=1, messages=USER)
    assert message.content[0].text == "hello"
    assert message.stop_reason == "max_tokens"


async def test_anthropic_stream_reassembles_the_text(emulator: AzureEmulator) -> None:
    client = claude(emulator)
    async with client, client.messages.stream(model="c", max_tokens=100, messages=USER) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert final.content[0].text == "hello big wide world"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert emulator.streams_completed == 1


async def test_anthropic_raw_stream_event_order(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        resp = await client.post(
            "/anthropic/v1/messages",
            json={"model": "c", "max_tokens": 9, "messages": USER, "stream": True},
            headers={"anthropic-version": "2023-06-01"},
        )
    blocks = sse_events(resp.content)
    names = [b.event for b in blocks]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    datas = [json.loads(b.data) for b in blocks]
    assert all(d["type"] == n for d, n in zip(datas, names, strict=True))
    start = datas[0]["message"]
    assert (start["content"], start["stop_reason"]) == ([], None)
    assert datas[3]["delta"] == {"type": "text_delta", "text": "hello"}
    assert datas[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 4},
    }


async def test_anthropic_tool_use_json_and_stream(emulator: AzureEmulator) -> None:
    async with claude(emulator) as client:
        message = await client.messages.create(
            model="c",
            max_tokens=100,
            messages=USER,
            tools=CLAUDE_TOOLS,
            tool_choice={"type": "tool", "name": "lookup"},
        )
        async with client.messages.stream(
            model="c",
            max_tokens=100,
            messages=USER,
            tools=CLAUDE_TOOLS,
            tool_choice={"type": "any"},
        ) as stream:
            streamed = await stream.get_final_message()
    for reply in (message, streamed):
        block = reply.content[0]
        assert block.type == "tool_use"
        assert block.id.startswith("toolu_") and block.name == "lookup"
        assert block.input == {"text": "hello big wide world"}
        assert reply.stop_reason == "tool_use"


async def test_anthropic_errors_use_anthropics_shape(emulator: AzureEmulator) -> None:
    path = "/anthropic/v1/messages"
    version = {"anthropic-version": "2023-06-01"}
    async with raw(emulator) as client:
        no_version = await client.post(path, json={"model": "c", "max_tokens": 5, "messages": USER})
        no_max = await client.post(path, json={"model": "c", "messages": USER}, headers=version)
        bad_key = await client.post(
            path,
            json={"model": "c", "max_tokens": 5, "messages": USER},
            headers={**version, "api-key": "wrong"},
        )
    assert no_version.status_code == 400
    assert no_version.json()["type"] == "error"
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    assert "anthropic-version" in no_version.json()["error"]["message"]
    assert no_max.status_code == 400 and "max_tokens" in no_max.json()["error"]["message"]
    assert bad_key.status_code == 401
    assert bad_key.json()["error"]["type"] == "authentication_error"


async def test_anthropic_faults_and_bearer_tokens(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.status(429, retry_after_ms=100), path_contains="/anthropic/")
    async with claude(emulator, max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="c", max_tokens=5, messages=USER)
    assert caught.value.response.headers["retry-after-ms"] == "100"
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "retry after 1 seconds" in body["error"]["message"]

    entra = AzureEmulator(api_keys=(), tokens=("tok",))
    async with claude(entra, api_key=None, auth_token="tok") as client:
        message = await client.messages.create(model="c", max_tokens=5, messages=USER)
    assert message.content[0].text == "hello big wide world"
    assert entra.last_request.headers["authorization"] == "Bearer tok"


# ---------------------------------------------------------------- over real loopback


async def test_served_by_uvicorn_streams_chunk_by_chunk_to_aiohttp(emulator: AzureEmulator) -> None:
    hold = Fault.hold_stream(after_chunks=2)
    emulator.inject(hold)
    async with serve(emulator, lifespan="on") as url, aiohttp.ClientSession(url) as session:
        body = {"messages": USER, "stream": True}
        async with session.post(CHAT_PATH, json=body, headers={"api-key": KEY}) as resp:
            assert resp.status == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            first = await resp.content.readuntil(b"\n\n")
            assert b'"prompt_filter_results"' in first
            assert emulator.open_streams == 1 and emulator.streams_completed == 0
            hold.release.set()
            rest = await resp.content.read()
        json_reply = await session.post(
            CHAT_PATH, json={"messages": USER}, headers={"api-key": KEY}
        )
        assert (await json_reply.json())["choices"][0]["message"][
            "content"
        ] == "hello big wide world"
    events = sse_data(first + rest)
    assert events[-1] == "[DONE]"
    text = "".join(
        json.loads(e)["choices"][0]["delta"].get("content") or ""
        for e in events[1:-1]
        if json.loads(e)["choices"]
    )
    assert text == "hello big wide world"
    assert emulator.streams_completed == 1


async def test_cut_stream_over_loopback_is_a_client_payload_error(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.cut_stream(after_chunks=3))
    received = bytearray()
    async with serve(emulator, lifespan="on") as url, aiohttp.ClientSession(url) as session:
        body = {"messages": USER, "stream": True}
        async with session.post(CHAT_PATH, json=body, headers={"api-key": KEY}) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await read_payload(resp, received)
    # uvicorn flushes what was written, then closes without the chunked terminator.
    assert len(sse_data(bytes(received))) == 3
    assert b"[DONE]" not in received
