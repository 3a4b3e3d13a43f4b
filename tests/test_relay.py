"""The relay: which upstream headers reach the caller, and every way an answer can fail once
it is chosen (a break, the deadline, the caller leaving), over both upstream clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from asgiref.testing import ApplicationCommunicator
from hypothesis import given
from hypothesis import strategies as st

from azure_asgi import AzureGateway, _relay
from azure_asgi._relay import _ends_with_terminal, pass_headers

from .conftest import (
    CHAT,
    CLIENT_KEY,
    Scripted,
    http_scope,
    json_step,
    make_config,
    scripted_upstream,
    sse_events,
    sse_step,
    through_gateway,
    wait_for_disconnect_step,
)


def test_pass_headers_keeps_only_what_clients_act_on() -> None:
    headers = [
        (b"retry-after", b"2"),
        (b"retry-after-ms", b"1500"),
        (b"x-ratelimit-remaining-requests", b"9"),
        (b"apim-request-id", b"abc"),
        (b"x-ms-region", b"East US"),
        (b"set-cookie", b"a=b"),
        (b"content-length", b"10"),
        (b"server", b"azure"),
    ]
    expected = [
        b"retry-after",
        b"retry-after-ms",
        b"x-ratelimit-remaining-requests",
        b"apim-request-id",
        b"x-ms-region",
    ]
    # Twice: the second time from the verdicts kept for each name.
    for _ in range(2):
        assert [k for k, _ in pass_headers(headers)] == expected


def test_pass_headers_keeps_deciding_once_its_memory_of_names_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An upstream that invents names cannot grow the gateway's memory: past the bound, names
    # are decided each time, the same way.
    monkeypatch.setattr(_relay, "_VERDICTS", {})
    monkeypatch.setattr(_relay, "_VERDICTS_MAX", 2)
    headers = [(f"x-made-up-{i}".encode(), b"1") for i in range(5)]
    headers += [(b"x-ratelimit-limit-tokens", b"9"), (b"x-ms-region", b"West")]
    for _ in range(2):
        assert pass_headers(headers) == headers[-2:]
    assert len(_relay._VERDICTS) == 2


# -- failure modes, end to end ------------------------------------------------------------

STREAM = {**CHAT, "stream": True}
CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}'


@pytest.fixture(params=["httpx", "aiohttp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_crlf_stream_is_relayed_byte_for_byte(transport: str) -> None:
    events = [
        CHUNK + b"\r\n\r\n",
        b": keep-alive\r\n\r\n",
        CHUNK + b"\r\n\r\n",
        b"data: [DONE]\r\n\r\n",
    ]
    upstream = Scripted(sse_step(*events))
    async with through_gateway(transport, upstream) as c:
        resp = await c.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 200
    assert resp.content == b"".join(events)
    assert len(upstream.requests) == 1


async def test_stream_broken_before_its_first_event_is_retried(transport: str) -> None:
    # The first answer starts (200, event-stream) and dies before any event: the caller has
    # been sent nothing yet, so the gateway tries again and the caller sees one clean stream.
    good = sse_step(CHUNK + b"\n\n", b"data: [DONE]\n\n")
    upstream = Scripted(sse_step(b'data: {"choi', cut=True), good)
    async with through_gateway(transport, upstream) as c:
        resp = await c.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 200
    assert resp.content == CHUNK + b"\n\ndata: [DONE]\n\n"
    assert len(upstream.requests) == 2


async def test_nothing_follows_the_terminal_event_when_the_deadline_passes() -> None:
    # [DONE] is out, then the upstream keeps the connection open past the deadline: the
    # stream is complete, so it just ends; no error event after [DONE].
    upstream = Scripted(sse_step(CHUNK + b"\n\n", b"data: [DONE]\n\n", hold_s=5))
    async with through_gateway("aiohttp", upstream, timeout_s=0.3) as c:
        resp = await c.post("/v1/chat/completions", json=STREAM)
    assert resp.content == CHUNK + b"\n\ndata: [DONE]\n\n"


async def test_deadline_before_the_terminal_event_ends_with_an_error_event() -> None:
    upstream = Scripted(sse_step(CHUNK + b"\n\n", hold_s=5))
    async with through_gateway("aiohttp", upstream, timeout_s=0.3) as c:
        resp = await c.post("/v1/chat/completions", json=STREAM)
    events = sse_events(resp.content)
    assert events[0].raw == CHUNK + b"\n\n"
    error = json.loads(events[-1].data)
    assert error["error"]["code"] == "timeout" and error["status_code"] == 504
    assert "[DONE]" not in resp.text


async def test_a_terminal_event_the_deadline_stopped_from_going_out_is_an_error_event() -> None:
    # The caller reads slowly, so the server's send waits (as a paused transport does) on the
    # block that holds [DONE] until the deadline passes: [DONE] never went out, so the caller is
    # owed an error event, not a body that just ends.
    upstream = Scripted(sse_step(CHUNK + b"\n\n", b"data: [DONE]\n\n"))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if b"[DONE]" in message.get("body", b"") and not any(
            b"[DONE]" in m.get("body", b"") for m in sent
        ):
            sent.append(message)
            await asyncio.Event().wait()  # until the deadline cancels it
        sent.append(message)

    async with (
        scripted_upstream("aiohttp", upstream) as (url, _),
        AzureGateway(make_config(url, timeout_s=0.3)) as gw,
    ):
        request = [{"type": "http.request", "body": json.dumps(STREAM).encode()}]

        async def receive() -> dict[str, Any]:
            if request:
                return request.pop()
            await asyncio.Event().wait()  # the caller stays
            raise AssertionError

        await asyncio.wait_for(gw(_scope(), receive, send), 5)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    error = json.loads(sse_events(bodies[-2]["body"])[-1].data)
    assert error["error"]["code"] == "timeout" and error["status_code"] == 504
    assert bodies[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert len(upstream.requests) == 1


def _scope() -> dict[str, Any]:
    headers = [(b"api-key", CLIENT_KEY.encode()), (b"content-type", b"application/json")]
    return http_scope("/v1/chat/completions", headers=headers)


async def test_caller_leaving_a_json_request_cancels_the_upstream_call_at_once() -> None:
    upstream = Scripted(wait_for_disconnect_step())
    async with (
        scripted_upstream("aiohttp", upstream) as (url, _),
        AzureGateway(make_config(url)) as gw,
    ):
        app = ApplicationCommunicator(gw, _scope())
        await app.send_input({"type": "http.request", "body": json.dumps(CHAT).encode()})
        while not upstream.requests:
            await asyncio.sleep(0.01)
        await app.send_input({"type": "http.disconnect"})
        await asyncio.wait_for(upstream.disconnected.wait(), 5)
        await app.wait(5)  # the gateway's task ended too, answering nobody


async def test_a_body_that_never_arrives_is_408() -> None:
    upstream = Scripted(json_step({"ok": True}))
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url, timeout_s=0.2), http_client=client)
        async with gw:
            app = ApplicationCommunicator(gw, _scope())
            await app.send_input({"type": "http.request", "body": b'{"mod', "more_body": True})
            start = await app.receive_output(5)
            body = await app.receive_output(5)
    assert start["status"] == 408
    error = json.loads(body["body"])
    assert error["error"]["code"] == "request_timeout" and error["status_code"] == 408
    assert upstream.requests == []


async def test_redirects_are_never_followed(transport: str) -> None:
    elsewhere = Scripted(json_step({"stolen": True}))
    async with scripted_upstream("aiohttp", elsewhere) as (evil, _):
        location = [(b"location", f"{evil}/steal".encode())]
        upstream = Scripted(json_step(b"", status=307, headers=location))
        async with through_gateway(transport, upstream) as c:
            resp = await c.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 502
    body = resp.json()
    assert body["error"]["code"] == "upstream_redirect" and body["is_gateway_error"] is True
    assert "steal" not in resp.text  # the target is not echoed either
    assert elsewhere.requests == []  # neither the key nor the body went there


async def test_upstream_client_is_unchanged_for_the_host() -> None:
    # An injected httpx client keeps its own settings: the gateway asks per request.
    client = httpx.AsyncClient(follow_redirects=True)
    AzureGateway(make_config(), http_client=client)
    assert client.follow_redirects is True
    await client.aclose()


async def test_upstream_connections_per_host_are_bounded() -> None:
    # Two requests at once, one connection allowed: the second waits for the first's
    # connection instead of opening another.
    peak = 0
    active = 0

    async def step(send: Any, receive: Any, upstream: Scripted) -> None:
        nonlocal peak, active
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        await json_step({"ok": True})(send, receive, upstream)

    upstream = Scripted(step)
    limits = {"upstream_connections_per_host": 1}
    async with through_gateway("aiohttp", upstream, limits=limits) as c:
        answers = await asyncio.gather(
            *(c.post("/v1/chat/completions", json=CHAT) for _ in range(3))
        )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert peak == 1 and len(upstream.requests) == 3


_PIECES = st.sampled_from([b"data: [DONE]", b"data: x", b"\n", b"\n\n", b" ", b"\r", b"\t", b"["])


@given(st.lists(_PIECES, max_size=12).map(b"".join))
def test_a_blocks_last_event_is_read_for_its_terminal_in_place(block: bytes) -> None:
    # The reference: the last event of the block with its trailing space stripped.
    stripped = block.rstrip()
    last = stripped[stripped.rfind(b"\n\n") + 1 :]
    assert _ends_with_terminal(block, (b"[DONE]",)) == (b"[DONE]" in last)
    assert _ends_with_terminal(block, (b"nothing", b"[DONE]")) == (b"[DONE]" in last)
