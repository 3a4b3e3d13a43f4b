"""Usage records: ``on_usage`` exactly once per routed request, with the upstream's tokens, and
the caller's stream unchanged when the gateway asked upstream for usage itself."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from hypothesis import given
from hypothesis import strategies as st

from azure_asgi import AzureGateway, Principal, UsageRecord
from azure_asgi._usage import Counts, find_usage, merge_usage, usage_counts
from azure_asgi.testing import AzureEmulator, Fault
from azure_asgi.testing._completions import CompletionReply, completion_events
from azure_asgi.testing._replies import ChatReply, chat_events

from .conftest import (
    CHAT,
    CLIENT_KEY,
    Scripted,
    caller,
    emulator_gateway,
    eventually,
    http_scope,
    json_step,
    make_config,
    request_body,
    scripted_upstream,
    serve,
    sse_json,
)

REPLY = ChatReply(
    id="chatcmpl-fixed",
    created=1700000000,
    model="gpt-4o-2024-11-20",
    n=1,
    text="four little words here",
    tool_name=None,
    arguments="",
    call_ids=(),
    finish_reason="stop",
    prompt_tokens=11,
    completion_tokens=4,
)
COMPLETION = CompletionReply(
    id="cmpl-fixed",
    created=1700000000,
    model="gpt-35-turbo-instruct",
    n=1,
    text="two words",
    finish_reason="stop",
    prompt_tokens=3,
    completion_tokens=2,
)


class Fixed:
    """An upstream answering every stream with fixed events, with usage only when asked, as
    Azure does; it records the request bodies it got."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = json.loads(await request_body(receive))
        self.bodies.append(body)
        asked = (body.get("stream_options") or {}).get("include_usage") is True
        if scope["path"].endswith("/chat/completions"):
            events = chat_events(REPLY, include_usage=asked)
        else:
            events = completion_events(COMPLETION, include_usage=asked)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def recorder() -> tuple[list[UsageRecord], Any]:
    records: list[UsageRecord] = []

    async def on_usage(record: UsageRecord) -> None:
        records.append(record)

    return records, on_usage


async def test_a_json_answer_gives_one_record_with_its_tokens() -> None:
    records, on_usage = recorder()
    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)), on_usage=on_usage)
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
        await eventually(lambda: len(records) == 1)
    usage = resp.json()["usage"]
    record = records[0]
    assert record.principal == Principal(subject="client-key")
    assert record.request_id == resp.headers["x-request-id"]
    assert (record.request_type, record.model) == ("chat_completion", "gpt-4o")
    assert (record.deployment, record.resource, record.status) == ("my-gpt4o", "eastus", 200)
    assert record.input_tokens == usage["prompt_tokens"] > 0
    assert record.output_tokens == usage["completion_tokens"] > 0
    assert (record.cached_tokens, record.reasoning_tokens) == (0, 0)
    assert record.attempts == 1
    assert not record.stream
    assert record.ttft_ms is None
    assert record.latency_ms >= 0


async def test_embeddings_and_responses_count_their_tokens() -> None:
    records, on_usage = recorder()
    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)), on_usage=on_usage)
    async with gw, caller(gw) as client:
        emb = await client.post("/v1/embeddings", json={"model": "gpt-4o", "input": "a b c"})
        resp = await client.post("/v1/responses", json={"model": "gpt-4o", "input": "hi there"})
        streamed = await client.post(
            "/v1/responses", json={"model": "gpt-4o", "input": "hi there", "stream": True}
        )
        await eventually(lambda: len(records) == 3)
    by_type = sorted(records, key=lambda r: (r.request_type, r.stream))
    assert by_type[0].request_type == "embedding"
    assert by_type[0].input_tokens == emb.json()["usage"]["prompt_tokens"] > 0
    assert by_type[0].output_tokens == 0
    usage = resp.json()["usage"]
    assert (by_type[1].input_tokens, by_type[1].output_tokens) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    completed = [e for e in sse_json(streamed.content) if e["type"] == "response.completed"]
    final = completed[0]["response"]["usage"]
    assert by_type[2].stream
    assert (by_type[2].input_tokens, by_type[2].output_tokens) == (
        final["input_tokens"],
        final["output_tokens"],
    )
    assert by_type[2].ttft_ms is not None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {**CHAT, "stream": True}),
        ("/v1/completions", {"model": "gpt-4o", "prompt": "say it", "stream": True}),
    ],
)
async def test_a_stream_whose_caller_did_not_ask_for_usage_is_byte_identical(
    path: str, body: dict[str, Any]
) -> None:
    upstream = Fixed()
    records, on_usage = recorder()
    async with scripted_upstream("httpx", upstream) as (url, client):  # type: ignore[arg-type]
        gw = AzureGateway(make_config(url), http_client=client, on_usage=on_usage)
        async with gw, caller(gw) as c:
            resp = await c.post(path, json=body)
            await eventually(lambda: len(records) == 1)
    chat = path.endswith("chat/completions")
    plain = chat_events(REPLY) if chat else completion_events(COMPLETION)
    assert resp.content == b"".join(plain)
    assert upstream.bodies[0]["stream_options"] == {"include_usage": True}
    reply = REPLY if chat else COMPLETION
    assert (records[0].input_tokens, records[0].output_tokens) == (
        reply.prompt_tokens,
        reply.completion_tokens,
    )
    assert records[0].stream


async def test_a_stream_whose_caller_asked_for_usage_keeps_it() -> None:
    upstream = Fixed()
    records, on_usage = recorder()
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with scripted_upstream("httpx", upstream) as (url, client):  # type: ignore[arg-type]
        gw = AzureGateway(make_config(url), http_client=client, on_usage=on_usage)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json=body)
            await eventually(lambda: len(records) == 1)
    assert resp.content == b"".join(chat_events(REPLY, include_usage=True))
    assert (records[0].input_tokens, records[0].output_tokens) == (11, 4)


async def test_without_an_observer_the_stream_is_not_asked_for_usage() -> None:
    upstream = Fixed()
    async with scripted_upstream("httpx", upstream) as (url, client):  # type: ignore[arg-type]
        gw = AzureGateway(make_config(url), http_client=client)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert resp.content == b"".join(chat_events(REPLY))
    assert "stream_options" not in upstream.bodies[0]


async def test_a_failed_request_gives_one_record_with_every_attempt() -> None:
    upstream = Scripted(json_step({"error": {"code": "500", "message": "down"}}, status=500))
    records, on_usage = recorder()
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client, on_usage=on_usage)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json=CHAT)
            await eventually(lambda: len(records) == 1)
            await asyncio.sleep(0.05)  # and no second one
    assert resp.status_code == 500
    assert len(records) == 1
    assert (records[0].status, records[0].attempts) == (500, 3)
    assert (records[0].input_tokens, records[0].output_tokens) == (0, 0)


async def test_a_refused_caller_gives_no_record_but_a_gateway_error_does() -> None:
    records, on_usage = recorder()
    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)), on_usage=on_usage)
    async with gw, caller(gw, **{"api-key": "wrong"}) as bad, caller(gw) as good:
        assert (await bad.post("/v1/chat/completions", json=CHAT)).status_code == 401
        unknown = await good.post("/v1/chat/completions", json={**CHAT, "model": "nope"})
        assert unknown.status_code == 404
        await eventually(lambda: len(records) == 1)
        await asyncio.sleep(0.05)
    assert len(records) == 1
    assert (records[0].status, records[0].model, records[0].attempts) == (404, "nope", 0)


async def test_retries_and_a_fallback_make_one_record_counting_every_attempt() -> None:
    async def step(send: Any, receive: Any, upstream: Scripted) -> None:
        request = upstream.requests[-1]
        if "my-gpt4o" in request["path"]:
            await json_step({"error": {"code": "429", "message": "busy"}}, status=429)(
                send, receive, upstream
            )
        else:
            answer = {"id": "chatcmpl-1", "choices": [], "usage": _chat_usage()}
            await json_step(answer)(send, receive, upstream)

    upstream = Scripted(step)
    config = make_config("http://upstream", retries={"max_attempts": 2, "initial_backoff_ms": 1})
    config["resources"][0]["deployments"]["gpt-4o"] = {
        "deployment": "my-gpt4o",
        "fallbacks": ["gpt-4o-mini"],
    }
    records, on_usage = recorder()
    async with scripted_upstream("httpx", upstream) as (_, client):
        gw = AzureGateway(config, http_client=client, on_usage=on_usage)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json=CHAT)
            await eventually(lambda: len(records) == 1)
    assert resp.status_code == 200
    record = records[0]
    assert (record.model, record.deployment, record.attempts) == ("gpt-4o", "my-mini", 3)
    assert (record.input_tokens, record.output_tokens, record.cached_tokens) == (7, 5, 2)
    assert record.reasoning_tokens == 1


def _chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": 7,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }


async def test_a_caller_leaving_mid_stream_gives_one_record() -> None:
    emulator = AzureEmulator(api_keys=("emulator-key",))
    emulator.inject(Fault.hold_stream(after_chunks=2))
    records, on_usage = recorder()
    headers = [(b"api-key", CLIENT_KEY.encode()), (b"content-type", b"application/json")]
    async with serve(emulator) as url, AzureGateway(make_config(url), on_usage=on_usage) as gw:
        comm = ApplicationCommunicator(gw, http_scope("/v1/chat/completions", headers=headers))
        body = json.dumps({**CHAT, "stream": True}).encode()
        await comm.send_input({"type": "http.request", "body": body})
        start = await comm.receive_output(timeout=5)
        assert start["status"] == 200
        await comm.receive_output(timeout=5)
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(timeout=5)
        await eventually(lambda: len(records) == 1)
        await asyncio.sleep(0.05)
    assert len(records) == 1
    assert records[0].stream
    assert records[0].status == 200
    assert records[0].output_tokens == 0  # the stream never reached its usage


async def test_a_slow_hook_does_not_hold_the_answer_and_close_waits_for_it() -> None:
    release = asyncio.Event()
    done: list[UsageRecord] = []

    async def slow(record: UsageRecord) -> None:
        await release.wait()
        done.append(record)

    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)), on_usage=slow)
    async with caller(gw) as client:
        resp = await asyncio.wait_for(client.post("/v1/chat/completions", json=CHAT), 5)
        assert resp.status_code == 200
        assert done == []
        closing = asyncio.create_task(gw.aclose())
        await asyncio.sleep(0.01)
        release.set()
        await closing
    assert len(done) == 1


async def test_a_failing_sync_hook_is_logged_and_never_fails_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    threads: list[str] = []

    def broken(record: UsageRecord) -> None:
        threads.append(threading.current_thread().name)
        raise RuntimeError("database down")

    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)), on_usage=broken)
    with caplog.at_level(logging.ERROR, logger="azure_asgi"):
        async with gw, caller(gw) as client:
            resp = await client.post("/v1/chat/completions", json=CHAT)
            await eventually(lambda: any("on_usage failed" in r.message for r in caplog.records))
    assert resp.status_code == 200
    assert threads and threads[0] != threading.main_thread().name
    (logged,) = [r for r in caplog.records if "on_usage failed" in r.message]
    assert resp.headers["x-request-id"] in logged.getMessage()


# -- usage_counts, pure ---------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=10**9)


@given(counts, counts, counts, counts)
def test_every_shape_gives_the_same_counts(inp: int, out: int, cached: int, reason: int) -> None:
    chat = {
        "prompt_tokens": inp,
        "completion_tokens": out,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reason},
    }
    responses = {
        "input_tokens": inp,
        "output_tokens": out,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reason},
    }
    expected = Counts(inp, out, cached, reason)
    assert usage_counts(chat) == expected
    assert usage_counts({"choices": [], "usage": chat}) == expected
    assert usage_counts(responses) == expected
    assert usage_counts({"type": "response.completed", "response": {"usage": responses}}) == (
        expected
    )


@given(counts, counts, counts, counts)
def test_anthropic_usage_counts_cached_input_too(
    base: int, read: int, created: int, out: int
) -> None:
    start = {
        "input_tokens": base,
        "output_tokens": 1,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": created,
    }
    merged: dict[str, Any] = {}
    merge_usage(merged, start)
    merge_usage(merged, {"output_tokens": out, "input_tokens": None})
    expected = Counts(base + read + created, out, read, None)
    assert usage_counts(merged) == expected
    assert usage_counts({"type": "message_start", "message": {"usage": start}}).input_tokens == (
        base + read + created
    )


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
def test_anything_else_counts_nothing_and_never_raises(value: object) -> None:
    result = usage_counts(value)
    assert isinstance(result, Counts)
    assert usage_counts({"usage": None}) == Counts()
    assert usage_counts({"usage": {"prompt_tokens": True, "completion_tokens": -1}}) == Counts()


texts = st.text(alphabet=st.sampled_from('ab"{}:\\, usage'), max_size=30)


@given(texts, texts, counts, counts)
def test_find_usage_reads_the_answers_own_usage_whatever_its_text_holds(
    content: str, ident: str, inp: int, out: int
) -> None:
    usage = {"prompt_tokens": inp, "completion_tokens": out}
    body = {
        "id": ident,
        "choices": [{"message": {"content": content, "usage": content}}],
        "usage": usage,
    }
    for raw in (json.dumps(body).encode(), json.dumps(body, separators=(",", ":")).encode()):
        assert find_usage(raw) == usage
    assert find_usage(json.dumps({"id": ident, "text": content}).encode()) is None
