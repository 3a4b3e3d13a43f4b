"""Typed faults and who takes them (Match), reset(), seeding and the scripted mode."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from azure_asgi.testing import (
    AzureEmulator,
    CutStreamFault,
    DropConnectionFault,
    Fault,
    HoldStreamFault,
    MalformedJsonFault,
    Match,
    Reply,
    SlowFault,
    SlowStreamFault,
    StatusFault,
    StreamErrorFault,
    ToolCall,
    TruncatedJsonFault,
    emulator_gateway,
)

from .conftest import API_VERSION, CLIENT_KEY, EMULATOR_KEY, make_config, sse_events, sse_json

CHAT = f"/openai/deployments/gpt-4o/chat/completions?api-version={API_VERSION}"
MINI = f"/openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION}"
EMBED = f"/openai/deployments/emb/embeddings?api-version={API_VERSION}"
MESSAGES = "/anthropic/v1/messages"
USER = {"messages": [{"role": "user", "content": "hello big world"}]}
CLAUDE = {
    "model": "claude",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hello big world"}],
}
CLAUDE_HEADERS = {"anthropic-version": "2023-06-01"}


def raw(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator",
        headers={"api-key": EMULATOR_KEY},
    )


def azure(app: Any, base: str = "http://emulator") -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=base,
        api_key=EMULATOR_KEY,
        api_version=API_VERSION,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        max_retries=0,
    )


def v1(app: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://emulator/openai/v1",
        api_key=EMULATOR_KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        max_retries=0,
    )


# ---------------------------------------------------------------- the classes


def test_each_factory_builds_its_own_frozen_kind() -> None:
    built = {
        Fault.status(500): (StatusFault, "status"),
        Fault.content_filter(): (StatusFault, "status"),
        Fault.overloaded(): (StatusFault, "status"),
        Fault.slow(0.1): (SlowFault, "slow"),
        Fault.slow_stream(0.1): (SlowStreamFault, "slow_stream"),
        Fault.cut_stream(2): (CutStreamFault, "cut_stream"),
        Fault.hold_stream(2): (HoldStreamFault, "hold_stream"),
        Fault.drop_connection(): (DropConnectionFault, "drop_connection"),
        Fault.malformed_json(): (MalformedJsonFault, "malformed_json"),
        Fault.truncated_json(10): (TruncatedJsonFault, "truncated_json"),
        Fault.stream_error(): (StreamErrorFault, "stream_error"),
    }
    for fault, (cls, kind) in built.items():
        assert type(fault) is cls and isinstance(fault, Fault) and fault.kind == kind
    status = Fault.status(429, retry_after_ms=1500)
    with pytest.raises(AttributeError):
        status.status_code = 500  # type: ignore[misc]
    assert dict(status.headers) == {"retry-after-ms": "1500", "retry-after": "2"}


def test_every_fault_has_a_release_and_each_hold_its_own() -> None:
    cut = Fault.cut_stream(1)
    cut.release.set()  # harmless: code that releases whatever it injected needs no type check
    assert cut.release is cut.release and cut.release.is_set()
    assert Fault.hold_stream(1).release is not Fault.hold_stream(1).release


def test_bad_arguments_are_refused_with_the_fix() -> None:
    emulator = AzureEmulator()
    with pytest.raises(ValueError, match="at least 1"):
        emulator.inject(Fault.status(500), times=0)
    with pytest.raises(ValueError, match="nth counts from 1"):
        Match(nth=0)
    with pytest.raises(TypeError, match="takes a Fault"):
        emulator.inject("500")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a Fault"):
        emulator.inject(Fault())  # the base class does nothing: a factory builds a kind
    with pytest.raises(ValueError, match="must not be negative"):
        Fault.truncated_json(-1)


# ---------------------------------------------------------------- match=


async def test_match_by_path_substring_regex_method_and_deployment() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.status(501), match=Match(path="/embeddings"))
    emulator.inject(Fault.status(502), match=Match(path=re.compile(r"/gpt-4o-mini/")))
    emulator.inject(Fault.status(503), match=Match(method="get"))
    emulator.inject(Fault.status(504), match=Match(deployment="gpt-4o"))
    async with raw(emulator) as c:
        assert (await c.post(CHAT, json=USER)).status_code == 504
        assert (await c.post(MINI, json=USER)).status_code == 502
        assert (await c.get(f"/openai/files?api-version={API_VERSION}")).status_code == 503
        assert (await c.post(EMBED, json={"input": "x"})).status_code == 501
        assert (await c.post(CHAT, json=USER)).status_code == 200
    assert emulator.faults_armed == 0


async def test_v1_deployment_match_reads_the_model_from_the_body() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.status(500), match=Match(deployment="gpt-4o-mini"))
    async with raw(emulator) as c:
        body = {"model": "gpt-4o", **USER}
        assert (await c.post("/openai/v1/chat/completions", json=body)).status_code == 200
        body["model"] = "gpt-4o-mini"
        assert (await c.post("/openai/v1/chat/completions", json=body)).status_code == 500


async def test_nth_skips_the_earlier_matching_requests_only() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.status(500), times=2, match=Match(path="/chat/completions", nth=2))
    async with raw(emulator) as c:
        seen = [(await c.post(EMBED, json={"input": "x"})).status_code]  # not counted
        seen += [(await c.post(CHAT, json=USER)).status_code for _ in range(4)]
    assert seen == [200, 200, 500, 500, 200]


async def test_times_none_hits_every_matching_request_until_reset() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.status(503), times=None, match=Match(path="/embeddings"))
    async with raw(emulator) as c:
        for _ in range(5):
            assert (await c.post(EMBED, json={"input": "x"})).status_code == 503
        assert (await c.post(CHAT, json=USER)).status_code == 200
        emulator.reset()
        assert (await c.post(EMBED, json={"input": "x"})).status_code == 200


async def test_a_callable_predicate_and_path_contains_combine() -> None:
    emulator = AzureEmulator()

    def streaming(request: Any) -> bool:
        return bool((request.json or {}).get("stream"))

    emulator.inject(Fault.status(500), match=streaming, path_contains="gpt-4o-mini")
    async with raw(emulator) as c:
        assert (await c.post(CHAT, json={**USER, "stream": True})).status_code == 200
        assert (await c.post(MINI, json=USER)).status_code == 200
        assert (await c.post(MINI, json={**USER, "stream": True})).status_code == 500


# ---------------------------------------------------------------- new kinds


async def test_drop_connection_raises_in_process() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.drop_connection())
    async with raw(emulator) as c:
        with pytest.raises(ConnectionResetError):
            await c.post(CHAT, json=USER)
        assert (await c.post(CHAT, json=USER)).status_code == 200  # only the one request
    assert len(emulator.requests) == 2


async def test_drop_connection_over_loopback_resets_without_a_500_or_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.drop_connection())
    caplog.set_level(logging.INFO, logger="uvicorn")
    async with (
        emulator.serve() as url,
        httpx.AsyncClient(base_url=url, headers={"api-key": EMULATOR_KEY}) as c,
    ):
        with pytest.raises(httpx.TransportError):
            await c.post(CHAT, json=USER)
        assert (await c.post(CHAT, json=USER)).status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_drop_connection_reaches_the_sdk_and_a_gateway_retries_it() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.drop_connection())
    with pytest.raises(ConnectionResetError):  # in-process, the SDK passes it through
        await azure(emulator).chat.completions.create(model="gpt-4o", **USER)
    emulator.inject(Fault.drop_connection())
    async with (
        emulator_gateway(emulator, make_config()) as gateway,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway)) as client,
    ):
        resp = await client.post(
            "http://gw/v1/chat/completions",
            json={"model": "gpt-4o", **USER},
            headers={"api-key": CLIENT_KEY},
        )
    assert resp.status_code == 200 and len(emulator.requests) == 3


async def test_malformed_json_is_a_200_that_does_not_parse() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.malformed_json())
    emulator.inject(Fault.malformed_json(b"<html>Bad Gateway</html>", status=502))
    async with raw(emulator) as c:
        first = await c.post(CHAT, json=USER)
        second = await c.post(CHAT, json=USER)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        first.json()
    assert first.content.startswith(b'{"id"')
    assert second.status_code == 502 and second.content == b"<html>Bad Gateway</html>"


async def test_malformed_json_fails_the_openai_sdk() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.malformed_json())
    with pytest.raises(json.JSONDecodeError):
        await azure(emulator).chat.completions.create(model="gpt-4o", **USER)


async def test_truncated_json_keeps_a_prefix_of_the_real_body() -> None:
    emulator = AzureEmulator()
    async with raw(emulator) as c:
        whole = (await c.post(EMBED, json={"input": "x"})).content
        emulator.reset()  # same request sequence, same body
        emulator.inject(Fault.truncated_json(at_bytes=40))
        cut = await c.post(EMBED, json={"input": "x"})
        streamed = await c.post(CHAT, json={**USER, "stream": True})  # the fault is spent
    assert cut.status_code == 200 and cut.content == whole[:40]
    assert cut.headers["content-length"] == "40"
    assert sse_json(streamed.content)  # untouched


async def test_truncated_json_leaves_streams_alone_but_is_taken() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.truncated_json(at_bytes=5))
    async with raw(emulator) as c:
        streamed = await c.post(CHAT, json={**USER, "stream": True})
    assert sse_events(streamed.content)[-1].data == "[DONE]"
    assert emulator.faults_armed == 0


async def test_anthropic_stream_error_event_then_the_stream_ends() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.stream_error(after_chunks=2), match=Match(path="/anthropic/"))
    async with raw(emulator) as c:
        resp = await c.post(MESSAGES, json={**CLAUDE, "stream": True}, headers=CLAUDE_HEADERS)
    events = sse_events(resp.content)
    assert resp.status_code == 200
    assert [e.event for e in events] == ["message_start", "content_block_start", "error"]
    assert json.loads(events[-1].data) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert emulator.streams_completed == 0 and emulator.streams_cancelled == 0


async def test_anthropic_sdk_raises_the_mid_stream_overload() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.stream_error(after_chunks=3))
    client = anthropic.AsyncAnthropic(
        base_url="http://emulator/anthropic",
        api_key=EMULATOR_KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator)),
        max_retries=0,
    )

    async def consume() -> None:
        async with client.messages.stream(**CLAUDE) as stream:
            async for _ in stream:
                pass

    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        await consume()


async def test_azure_stream_error_is_an_openai_api_error() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.stream_error(after_chunks=2, error_type="server_error", message="boom"))
    stream = await azure(emulator).chat.completions.create(model="gpt-4o", stream=True, **USER)
    with pytest.raises(openai.APIError, match="boom"):
        async for _ in stream:
            pass


async def test_overloaded_is_529_in_each_routes_shape() -> None:
    emulator = AzureEmulator()
    emulator.inject(Fault.overloaded(), times=2)
    async with raw(emulator) as c:
        claude = await c.post(MESSAGES, json=CLAUDE, headers=CLAUDE_HEADERS)
        chat = await c.post(CHAT, json=USER)
    assert claude.status_code == 529
    assert claude.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert chat.status_code == 529 and chat.json()["error"]["code"] == "529"


# ---------------------------------------------------------------- reset() and the store


async def test_reset_clears_requests_faults_counters_objects_and_scripts() -> None:
    emulator = AzureEmulator()
    async with raw(emulator) as c:
        await c.post(CHAT, json={**USER, "stream": True})
        upload = await c.post(
            f"/openai/files?api-version={API_VERSION}",
            data={"purpose": "batch"},
            files={"file": ("a.jsonl", b"{}\n")},
        )
        emulator.inject(Fault.status(500), times=None)
        emulator.script("never said")
        assert emulator.streams_completed == 1 and emulator.store.files
        emulator.reset()
        assert emulator.requests == [] and emulator.faults_armed == 0
        assert emulator.scripted == 0 and emulator.streams_completed == 0
        assert emulator.streams_cancelled == 0 and not emulator.store.files
        again = await c.post(CHAT, json=USER)
        assert again.status_code == 200 and again.headers["x-request-id"] == "emu-1"
        assert again.json()["choices"][0]["message"]["content"] == "hello big world"
        gone = await c.get(f"/openai/files/{upload.json()['id']}?api-version={API_VERSION}")
        assert gone.status_code == 404


async def test_seeded_files_are_served_and_uploads_can_be_inspected() -> None:
    emulator = AzureEmulator()
    seeded = emulator.seed_file("notes.txt", b"remember", purpose="assistants")
    client = v1(emulator)
    got = await client.files.retrieve(seeded["id"])
    assert got.filename == "notes.txt" and got.bytes == 8 and got.purpose == "assistants"
    assert (await client.files.content(seeded["id"])).content == b"remember"
    uploaded = await client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    tracked = emulator.store.files[uploaded.id]
    assert tracked.data == b"{}\n" and tracked.obj["purpose"] == "batch"
    assert list(emulator.store.files) == [seeded["id"], uploaded.id]


# ---------------------------------------------------------------- script()


async def test_scripted_chat_replies_are_taken_in_order_then_the_echo_returns() -> None:
    emulator = AzureEmulator()
    emulator.script("first", Reply(text="second", finish_reason="length"))
    client = azure(emulator)
    replies = [await client.chat.completions.create(model="gpt-4o", **USER) for _ in range(3)]
    assert [r.choices[0].message.content for r in replies] == ["first", "second", "hello big world"]
    assert replies[1].choices[0].finish_reason == "length"
    assert emulator.scripted == 0


async def test_a_scripted_tool_call_has_exactly_those_arguments() -> None:
    emulator = AzureEmulator()
    emulator.script(
        Reply(
            tool_calls=(
                ToolCall("get_weather", {"city": "Paris", "unit": "c"}),
                ToolCall("get_time", '{"tz": "CET"}', id="call_fixed"),
            )
        )
    )
    reply = await v1(emulator).chat.completions.create(model="gpt-4o", **USER)
    choice = reply.choices[0]
    calls = choice.message.tool_calls or []
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "unit": "c"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert calls[1].id == "call_fixed"


async def test_scripted_stream_chunks_arrive_exactly_as_given() -> None:
    emulator = AzureEmulator()
    emulator.script(Reply(chunks=("Hel", "lo, ", "wor", "ld")), ToolCall("f", {"a": [1, 2]}))
    client = azure(emulator)
    stream = await client.chat.completions.create(
        model="gpt-4o", stream=True, stream_options={"include_usage": True}, **USER
    )
    deltas = [c.choices[0].delta.content async for c in stream if c.choices]
    assert [d for d in deltas if d] == ["Hel", "lo, ", "wor", "ld"]
    async with client.chat.completions.stream(model="gpt-4o", **USER) as tool_stream:
        final = await tool_stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "f" and json.loads(call.function.arguments) == {"a": [1, 2]}


async def test_scripted_responses_json_and_stream() -> None:
    emulator = AzureEmulator()
    emulator.script(
        Reply(text="Sunny.", tool_calls=(ToolCall("lookup", {"q": "weather"}),)),
        Reply(chunks=("It ", "is ", "sunny.")),
    )
    client = v1(emulator)
    first = await client.responses.create(model="gpt-4o", input="weather?")
    assert first.output_text == "Sunny."
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("lookup", {"q": "weather"})]
    assert (await client.responses.retrieve(first.id)).output_text == "Sunny."
    stream = await client.responses.create(model="gpt-4o", input="again", stream=True)
    kinds, deltas = [], []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
    assert deltas == ["It ", "is ", "sunny."] and kinds[-1] == "response.completed"


async def test_script_leaves_other_operations_alone_and_checks_still_apply() -> None:
    emulator = AzureEmulator()
    emulator.script("scripted")
    async with raw(emulator) as c:
        assert (await c.post(EMBED, json={"input": "x"})).status_code == 200
        denied = await c.post(CHAT, json=USER, headers={"api-key": "wrong"})
        assert denied.status_code == 401
        assert emulator.scripted == 1
        ok = await c.post(CHAT, json=USER)
    assert ok.json()["choices"][0]["message"]["content"] == "scripted"


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="needs text"):
        Reply()
    with pytest.raises(ValueError, match="join to exactly"):
        Reply(text="ab", chunks=("a", "c"))
    with pytest.raises(TypeError, match="Reply, ToolCall or str"):
        AzureEmulator().script(42)  # type: ignore[arg-type]
