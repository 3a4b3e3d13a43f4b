"""SSE relay: chunk by chunk as it arrives, Azure's annotation chunks kept, breaks made visible.

Incremental delivery is proven with ``asgiref.testing.ApplicationCommunicator`` (httpx's
ASGITransport would buffer the whole response) against upstreams that hold their stream open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgiref.testing import ApplicationCommunicator

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    CHAT,
    CLIENT_KEY,
    caller,
    emulator_gateway,
    eventually,
    http_scope,
    make_config,
    mock_gateway,
    serve,
    sse_data,
)

STREAM = {**CHAT, "stream": True}


def gateway_scope(path: str = "/v1/chat/completions") -> dict[str, Any]:
    headers = [(b"api-key", CLIENT_KEY.encode()), (b"content-type", b"application/json")]
    return http_scope(path, headers=headers)


async def test_stream_relays_azure_chunks_in_order(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_data(resp.content)
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first["choices"] == [] and "prompt_filter_results" in first  # Azure's annotation chunk
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in map(json.loads, events[1:-1])
        if c["choices"]
    )
    assert text == "hello there world"
    assert emulator.last_request.json["stream"] is True


async def test_cut_stream_ends_with_an_error_event_not_done(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.cut_stream(after_chunks=2))
    async with serve(emulator) as url, AzureGateway(make_config(url)) as gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 200
    events = sse_data(resp.content)
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["code"] == "stream_interrupted"
    assert last["is_gateway_error"] is True
    assert all(json.loads(e).get("choices") is not None for e in events[:-1])  # no half event


async def test_stream_cut_before_any_byte_arrived_is_retried(emulator: AzureEmulator) -> None:
    # httpx's ASGITransport buffers: the cut surfaces before the gateway has relayed anything,
    # so the attempt counts as failed and the next one serves the stream whole.
    emulator.inject(Fault.cut_stream(after_chunks=2))
    async with emulator_gateway(emulator) as gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=STREAM)
    assert sse_data(resp.content)[-1] == "[DONE]"
    assert len(emulator.requests) == 2


async def test_upstream_error_before_stream_is_json(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    emulator.inject(Fault.content_filter())
    async with caller(gateway) as client:
        resp = await client.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "content_filter"


async def _read_until(comm: ApplicationCommunicator, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        message = await comm.receive_output(timeout=5)
        assert message["type"] == "http.response.body"
        seen += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return seen


async def test_first_chunk_arrives_before_upstream_finishes_over_aiohttp(
    emulator: AzureEmulator,
) -> None:
    hold = Fault.hold_stream(after_chunks=2)
    emulator.inject(hold)
    async with serve(emulator) as url, AzureGateway(make_config(url)) as gw:
        comm = ApplicationCommunicator(gw, gateway_scope())
        await comm.send_input({"type": "http.request", "body": json.dumps(STREAM).encode()})
        start = await comm.receive_output(timeout=5)
        assert start["type"] == "http.response.start" and start["status"] == 200
        early = await _read_until(comm, b"assistant")
        # The client holds the first chunks while the upstream is still mid-stream.
        assert emulator.open_streams == 1
        assert b"[DONE]" not in early
        hold.release.set()
        rest = await _read_until(comm, b"[DONE]")
        assert b"data: [DONE]" in rest
        await comm.wait(timeout=5)
    assert emulator.streams_completed == 1


async def test_first_chunk_arrives_before_upstream_finishes_over_httpx_mock() -> None:
    gate = asyncio.Event()
    finished = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b'data: {"choices": [], "prompt_filter_results": []}\n\n'
        await gate.wait()
        yield b'data: {"choices": [{"delta": {"content": "late"}}]}\n\ndata: [DONE]\n\n'
        finished.set()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with mock_gateway(handler) as gw:
        comm = ApplicationCommunicator(gw, gateway_scope())
        await comm.send_input({"type": "http.request", "body": json.dumps(STREAM).encode()})
        assert (await comm.receive_output(timeout=5))["status"] == 200
        first = await comm.receive_output(timeout=5)
        assert first["body"] == b'data: {"choices": [], "prompt_filter_results": []}\n\n'
        assert first["more_body"] is True
        assert not finished.is_set()
        gate.set()
        rest = await _read_until(comm, b"[DONE]")
        assert b"late" in rest
        await comm.wait(timeout=5)


async def test_events_split_across_chunks_are_relayed_whole() -> None:
    pieces = [b'data: {"a":', b" 1}\n", b"\ndata: {", b'"b": 2}\n\ndata: [DO', b"NE]\n\n"]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with mock_gateway(handler) as gw:
        comm = ApplicationCommunicator(gw, gateway_scope())
        await comm.send_input({"type": "http.request", "body": json.dumps(STREAM).encode()})
        await comm.receive_output(timeout=5)
        bodies = []
        while True:
            message = await comm.receive_output(timeout=5)
            bodies.append(message["body"])
            if not message["more_body"]:
                break
    # The terminal event ends the body in the same message: no empty message after it.
    assert bodies == [b'data: {"a": 1}\n\n', b'data: {"b": 2}\n\n', b"data: [DONE]\n\n"]


async def test_client_disconnect_closes_the_upstream_stream(emulator: AzureEmulator) -> None:
    hold = Fault.hold_stream(after_chunks=2)
    emulator.inject(hold)
    async with serve(emulator) as url, AzureGateway(make_config(url)) as gw:
        comm = ApplicationCommunicator(gw, gateway_scope())
        await comm.send_input({"type": "http.request", "body": json.dumps(STREAM).encode()})
        await comm.receive_output(timeout=5)
        await _read_until(comm, b"assistant")
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(timeout=5)  # the gateway returns promptly
        await eventually(lambda: emulator.streams_cancelled == 1)
    assert emulator.streams_completed == 0


async def test_deadline_during_stream_ends_with_timeout_event(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.hold_stream(after_chunks=3))
    async with (
        serve(emulator) as url,
        AzureGateway(make_config(url, timeout_s=0.3)) as gw,
        caller(gw) as client,
    ):
        resp = await client.post("/v1/chat/completions", json=STREAM)
    assert resp.status_code == 200  # the stream had started: the break is an event, not a status
    events = sse_data(resp.content)
    assert "[DONE]" not in events
    assert json.loads(events[-1])["error"]["code"] == "timeout"


_CLAUDE_EVENTS = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":2}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.mark.parametrize(
    ("model", "events", "last"),
    [
        ("gpt-4o", b'data: {"a": 1}\n\ndata: [DONE]\n\n', b'data: {"a": 1}\n\ndata: [DONE]\n\n'),
        ("claude-sonnet", _CLAUDE_EVENTS, b"data: [DONE]\n\n"),
    ],
    ids=["relayed", "translated"],
)
async def test_the_terminal_event_ends_the_callers_stream_at_once(
    model: str, events: bytes, last: bytes
) -> None:
    # An upstream that keeps its stream open after the terminal event: the caller's body ends
    # with the terminal, in the same message, while the upstream is still open.
    ended = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield events
        await ended.wait()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    config = make_config()
    claude = {"deployment": "claude-x", "family": "anthropic"}
    config["resources"][0]["deployments"]["claude-sonnet"] = claude
    async with mock_gateway(handler, config) as gw:
        comm = ApplicationCommunicator(gw, gateway_scope())
        request = {**STREAM, "model": model}
        await comm.send_input({"type": "http.request", "body": json.dumps(request).encode()})
        start = await comm.receive_output(timeout=5)
        assert start["status"] == 200
        messages = []
        while not messages or messages[-1]["more_body"]:
            messages.append(await comm.receive_output(timeout=5))
        await comm.wait(timeout=5)  # the gateway is done with the request
        ended.set()
    assert messages[-1]["body"].endswith(last)
    assert [m["more_body"] for m in messages] == [False]  # one message: the whole answer


class _LateEnd:
    """A loopback upstream on HTTP/1.1 keep-alive whose chunked streams send their events, then
    the chunked body's end ``delay_s`` later (or never), counting the connections it accepts."""

    def __init__(self, delay_s: float | None) -> None:
        self.delay_s = delay_s
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.Task[None]] = set()

    @property
    def open(self) -> int:
        """Connections open right now."""
        return len(self._open)

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._open:
            task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                events = b'data: {"a": 1}\n\ndata: [DONE]\n\n'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                    + f"{len(events):x}\r\n".encode()
                    + events
                    + b"\r\n"
                )
                await writer.drain()
                if self.delay_s is None:
                    await asyncio.Event().wait()  # the body never ends
                await asyncio.sleep(self.delay_s)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._open.discard(task)
            writer.close()


def _late_end_clients() -> list[Any]:
    return [pytest.param(lambda: None, id="aiohttp"), pytest.param(httpx.AsyncClient, id="httpx")]


async def _stream_ended_at_done(gw: AzureGateway) -> None:
    """One streamed request whose caller's body ends with [DONE], in one message, and whose
    request the gateway then finishes."""
    comm = ApplicationCommunicator(gw, gateway_scope())
    await comm.send_input({"type": "http.request", "body": json.dumps(STREAM).encode()})
    assert (await comm.receive_output(timeout=5))["status"] == 200
    message = await comm.receive_output(timeout=5)
    assert message["more_body"] is False  # ended at [DONE], before the body's end
    assert message["body"].endswith(b"data: [DONE]\n\n")
    # The host's call ends with its answer: the upstream body's end is read in the background.
    await comm.wait(timeout=5)


@pytest.mark.parametrize("client", _late_end_clients())
async def test_a_stream_whose_body_ends_after_its_terminal_keeps_its_connection(
    client: Any,
) -> None:
    # Azure often sends the chunked body's end in a later packet than [DONE]: the caller's body
    # ends at [DONE], and the gateway reads on for the end, so the next request reuses the
    # connection instead of opening another.
    upstream = _LateEnd(delay_s=0.02)
    http_client = client()
    async with upstream as url, AzureGateway(make_config(url), http_client=http_client) as gw:
        for _ in range(3):
            await _stream_ended_at_done(gw)
            await gw._drains.wait()
    if http_client is not None:
        await http_client.aclose()
    assert upstream.requests == 3
    assert upstream.connections == 1


@pytest.mark.parametrize("client", _late_end_clients())
async def test_a_stream_whose_body_never_ends_after_its_terminal_drops_its_connection(
    client: Any,
) -> None:
    upstream = _LateEnd(delay_s=None)
    http_client = client()
    async with upstream as url, AzureGateway(make_config(url), http_client=http_client) as gw:
        await _stream_ended_at_done(gw)
        # The call ended while its upstream connection is still open, being drained.
        assert upstream.open == 1
        await gw._drains.wait()  # given up after a quarter second
        await _stream_ended_at_done(gw)
    if http_client is not None:
        await http_client.aclose()
    assert upstream.requests == 2
    assert upstream.connections == 2  # the first connection was given up, not reused
