"""Bounded chaos over real loopback sockets.

Two emulated Azure resources (``AzureEmulator`` under uvicorn) both serve ``gpt-4o`` and an
embedding alias; the gateway runs under uvicorn too, with tiny retry backoffs and a short
``timeout_s``. While a few thousand requests (chat JSON, chat streams, embeddings) run with
bounded concurrency through a real ``httpx.AsyncClient``, random faults are injected into both
resources: throttling with ``retry-after-ms``, 5xx, content filtering, slow headers, slow,
cut and held streams. For every request the status, the time it took and every SSE ``data:``
event are recorded, and then:

- nothing took longer than ``timeout_s`` plus a margin (nothing hung past the deadline);
- every non-200 answer is the contract's error envelope, and never the gateway's own 500;
- every stream has exactly one terminal event, last: ``[DONE]`` after content, or an error
  event in the contract's shape; never both, never anything after ``[DONE]``, never a stream
  that just stops (silently truncated);
- file descriptors and RSS are back near their baseline once everything is closed.

Only HTTP behaviour is asserted, so this holds across rewrites of the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import API_VERSION, CLIENT_KEY, serve

TIMEOUT_S = 2.0
#: How late the gateway may end an answer, measured inside the server: the deadline sweep's
#: tick (a tenth of ``timeout_s``) plus scheduling.
SERVER_MARGIN_S = 0.75
#: How late the client may see the end of an answer. Clients, servers and emulators share one
#: event loop here, so under 50 requests in flight a request also waits up to a second or two
#: on its way in and out (measured: ~0.3 s median; past 3 s under CI's coverage tracing). The
#: deadline itself is held to SERVER_MARGIN_S, measured inside the server.
CLIENT_MARGIN_S = 6.0
#: Past this, from when it was sent, a request counts as hung (and is abandoned so the test
#: still ends).
HANG_S = TIMEOUT_S + 10
CONCURRENCY = 50
WARMUP_REQUESTS = 300
REQUESTS = 2200
#: Chance that a request is preceded by one injected fault (on a random resource).
FAULT_RATE = 0.3
FD_SLACK = 20
RSS_SLACK_MB = 50

EMBEDDING = "text-embedding-3-small"
#: Streams use a fixed prompt so their length is known and faults can aim at its very end.
STREAM_PROMPT = "one two three four five"


def error_shape_problems(body: Any, status: int) -> list[str]:
    """What is wrong with ``body`` as the contract's error envelope for HTTP ``status``.

    ``{"error": {"message", "type", "code", "param"}, "status_code", "is_gateway_error",
    "event_id", "extra_fields"}``; an upstream's own ``error`` object is kept whole (so only
    its ``message`` is required), and Anthropic routes use Anthropic's ``error`` object
    (``type: "error"`` at the top).
    """
    if not isinstance(body, dict):
        return [f"error body is a {type(body).__name__}, not an object"]
    problems = []
    error = body.get("error")
    if not isinstance(error, dict):
        problems.append(f"'error' is {error!r}, not an object")
        error = {}
    elif not isinstance(error.get("message"), str):
        problems.append(f"'error.message' is {error.get('message')!r}, not a string")
    if body.get("status_code") != status:
        problems.append(f"'status_code' is {body.get('status_code')!r}, HTTP status is {status}")
    gateway = body.get("is_gateway_error")
    if not isinstance(gateway, bool):
        problems.append(f"'is_gateway_error' is {gateway!r}, not a bool")
    if not isinstance(body.get("event_id"), str) or not body["event_id"]:
        problems.append(f"'event_id' is {body.get('event_id')!r}, not a non-empty string")
    if not isinstance(body.get("extra_fields"), dict):
        problems.append(f"'extra_fields' is {body.get('extra_fields')!r}, not an object")
    if body.get("type") == "error":  # Anthropic's shape
        if not isinstance(error.get("type"), str):
            problems.append(f"Anthropic 'error.type' is {error.get('type')!r}")
    elif gateway is True:
        if not isinstance(error.get("type"), str):
            problems.append(f"'error.type' is {error.get('type')!r}, not a string")
        problems.extend(f"'error' has no {key!r}" for key in ("code", "param") if key not in error)
    return problems


def chaos_config(east: str, west: str, *, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    return {
        "api_version": API_VERSION,
        "timeout_s": timeout_s,
        "retries": {"max_attempts": 3, "initial_backoff_ms": 1, "max_backoff_ms": 20},
        "resources": [
            {
                "name": name,
                "endpoint": url,
                "auth": {"api_key": f"key-{name}"},
                "deployments": {"gpt-4o": f"gpt4o-{name}", EMBEDDING: f"emb-{name}"},
            }
            for name, url in (("east", east), ("west", west))
        ],
        "clients": {"api_keys": [CLIENT_KEY]},
    }


class _Clock:
    """Times each request inside the server, from the ASGI call until the app returns, by
    ``x-request-id``: how well the gateway keeps ``timeout_s``, free of client-side queueing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.took: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = dict(scope["headers"]).get(b"x-request-id", b"").decode()
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.took[request_id] = time.monotonic() - started


@dataclass
class Record:
    kind: str  # chat | stream | embedding
    request_id: str = ""
    status: int | None = None
    elapsed: float = 0.0
    content_type: str = ""
    body: bytes = b""
    events: list[str] = field(default_factory=list)
    failure: str | None = None  # a transport error, or "hung"
    #: Time inside the gateway's server (None: the gateway never saw or never finished it).
    server_elapsed: float | None = None


def _words(rng: random.Random) -> str:
    return " ".join(
        rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rng.randint(1, 8))
    )


async def _one(
    client: httpx.AsyncClient, kind: str, rng: random.Random, request_id: str = "probe"
) -> Record:
    record = Record(kind, request_id)
    if kind == "embedding":
        path, body = "/v1/embeddings", {"model": EMBEDDING, "input": _words(rng)}
    else:
        content = STREAM_PROMPT if kind == "stream" else _words(rng)
        path = "/v1/chat/completions"
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
        if kind == "stream":
            body["stream"] = True
    started = [time.monotonic()]
    loop = asyncio.get_running_loop()
    # A bound for the time before the request goes out too, so that nothing waits forever.
    guard = asyncio.timeout(3 * HANG_S)

    async def trace(event: str, info: dict[str, Any]) -> None:
        # The client's clock (and the hang bound) starts when the request goes out: time spent
        # before that, in the client's own pool and tasks, is not the gateway's (on a slow
        # machine, seconds).
        if event == "http11.send_request_headers.started":
            started[0] = time.monotonic()
            guard.reschedule(loop.time() + HANG_S)

    try:
        headers = {"x-request-id": request_id}
        extensions = {"trace": trace}
        async with (
            guard,
            client.stream("POST", path, json=body, headers=headers, extensions=extensions) as resp,
        ):
            record.status = resp.status_code
            record.content_type = resp.headers.get("content-type", "")
            if kind == "stream" and resp.status_code == 200:
                async for line in resp.aiter_lines():
                    if line.startswith("data:"):
                        record.events.append(line[5:].strip())
            else:
                record.body = await resp.aread()
    except httpx.HTTPError as exc:
        record.failure = f"{type(exc).__name__}: {exc}"
    except TimeoutError:
        record.failure = "hung"
    record.elapsed = time.monotonic() - started[0]
    return record


def _random_fault(rng: random.Random, stream_events: int) -> Fault:
    """One fault, weighted towards what Azure really does; stream faults often aim at the very
    end of a stream (after ``[DONE]``, before the body ends)."""
    end = [stream_events - 1, stream_events, stream_events]
    choice = rng.choices(
        [
            "429",
            "429-long",
            "5xx",
            "filter",
            "slow",
            "slow-long",
            "trickle",
            "crawl",
            "cut",
            "hold",
        ],
        weights=[15, 3, 18, 3, 10, 4, 8, 6, 10, 5],
    )[0]
    if choice == "429":
        return Fault.status(429, retry_after_ms=rng.randint(1, 50))
    if choice == "429-long":
        return Fault.status(429, retry_after_ms=3000)  # longer than the deadline allows
    if choice == "5xx":
        return Fault.status(rng.choice([500, 500, 502, 503, 503, 408]))
    if choice == "filter":
        return Fault.content_filter()
    if choice == "slow":
        return Fault.slow(rng.uniform(0.01, 0.3))
    if choice == "slow-long":
        return Fault.slow(rng.uniform(1.5, 3.0))
    if choice == "trickle":
        return Fault.slow_stream(rng.uniform(0.005, 0.05))
    if choice == "crawl":
        # Total time around the deadline: some end in time, some are cut off by it.
        return Fault.slow_stream(rng.uniform(0.6, 1.4) * TIMEOUT_S / stream_events)
    if choice == "cut":
        return Fault.cut_stream(after_chunks=rng.choice([0, 1, 2, *end]))
    return Fault.hold_stream(after_chunks=rng.choice([0, 2, *end]))


async def _stream_length(gateway_url: str, upstreams: list[tuple[AzureEmulator, str]]) -> int:
    """How many SSE events the upstream sends for the stream requests: one stream through the
    gateway (no fault armed), then what it sent upstream replayed straight to that resource."""
    async with httpx.AsyncClient(headers={"api-key": CLIENT_KEY}) as client:
        body = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": STREAM_PROMPT}],
            "stream": True,
        }
        resp = await client.post(f"{gateway_url}/v1/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        emulator, url = next((e, u) for e, u in upstreams if e.requests)
        sent = emulator.last_request
        replay = await client.post(
            f"{url}{sent.path}",
            params=sent.query,
            content=sent.body,
            headers={"api-key": sent.headers["api-key"], "content-type": "application/json"},
        )
    emulator.reset()
    return sum(1 for line in replay.text.splitlines() if line.startswith("data:"))


async def _round(n: int, seed: int) -> tuple[list[Record], Counter[str]]:
    """Set everything up, fire ``n`` requests under chaos, tear everything down."""
    rng = random.Random(seed)
    east, west = AzureEmulator(api_keys=("key-east",)), AzureEmulator(api_keys=("key-west",))
    held: list[Fault] = []
    injected: Counter[str] = Counter()
    records: list[Record] = []
    async with contextlib.AsyncExitStack() as stack:
        east_url = await stack.enter_async_context(serve(east))
        west_url = await stack.enter_async_context(serve(west))
        gateway = AzureGateway(chaos_config(east_url, west_url))
        stack.push_async_callback(gateway.aclose)
        clock = _Clock(gateway)
        # Keep-alive well past uvicorn's 5 s: a client task that stalls that long on this one
        # busy loop would otherwise send into a connection the server is just closing (a
        # ReadError that is the test's, not the gateway's).
        gateway_url = await stack.enter_async_context(serve(clock, timeout_keep_alive=60))
        # Probed while no fault is armed; both resources answer alike.
        length = await _stream_length(gateway_url, [(east, east_url), (west, west_url)])
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=gateway_url,
                headers={"api-key": CLIENT_KEY},
                timeout=httpx.Timeout(HANG_S + 5),
                limits=limits,
            )
        )
        kinds = rng.choices(["chat", "stream", "embedding"], weights=[45, 35, 20], k=n)
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        for item in enumerate(kinds):
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty():
                index, kind = queue.get_nowait()
                request_id = f"chaos-{seed}-{index}"
                if rng.random() < FAULT_RATE:
                    fault = _random_fault(rng, length)
                    rng.choice([east, west]).inject(fault)
                    injected[fault.kind] += 1
                    if fault.kind == "hold_stream":
                        held.append(fault)
                records.append(await _one(client, kind, rng, request_id))

        try:
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        finally:
            for fault in held:  # nothing may wait on a hold once the servers go down
                fault.release.set()
            east.reset()
            west.reset()
    for record in records:  # the servers have stopped: every app call has returned
        record.server_elapsed = clock.took.get(record.request_id)
    return records, injected


def _stream_problems(record: Record) -> list[str]:
    events = record.events
    if not events:
        return ["a 200 stream with no events at all"]
    done = [i for i, e in enumerate(events) if e == "[DONE]"]
    errors = []
    for i, event in enumerate(events):
        if event == "[DONE]":
            continue
        try:
            data = json.loads(event)
        except ValueError:
            return [f"event {i} is not JSON: {event[:120]!r}"]
        if isinstance(data, dict) and "error" in data:
            errors.append(i)
            shape = error_shape_problems(data, data.get("status_code"))
            if shape:
                return [f"error event {i} is not in the contract's shape: {shape}"]
    last = len(events) - 1
    tail = " | ".join(e[:60] for e in events[-3:])
    if done and errors:
        return [f"both [DONE] (event {done[0]}) and an error event ({errors[0]}): ...{tail}"]
    if len(done) + len(errors) > 1:
        return [f"{len(done) + len(errors)} terminal events: ...{tail}"]
    if not done and not errors:
        return [f"stream of {len(events)} events ended with neither [DONE] nor an error: ...{tail}"]
    terminal = (done or errors)[0]
    if terminal != last:
        return [f"{last - terminal} event(s) after the terminal event {terminal}: ...{tail}"]
    if done and terminal == 0:
        return ["[DONE] with no content before it"]
    return []


def _problems(record: Record) -> list[str]:
    """What is wrong with one answer (empty when it keeps the contract)."""
    problems = []
    if record.failure is not None:
        return [f"{record.kind}: {record.failure} after {record.elapsed:.2f} s"]
    if record.server_elapsed is None:
        problems.append(f"{record.kind}: the gateway's server never saw it")
    elif record.server_elapsed > TIMEOUT_S + SERVER_MARGIN_S:
        problems.append(
            f"{record.kind}: the gateway took {record.server_elapsed:.2f} s "
            f"(timeout_s={TIMEOUT_S:g})"
        )
    if record.elapsed > TIMEOUT_S + CLIENT_MARGIN_S:
        problems.append(
            f"{record.kind}: the client waited {record.elapsed:.2f} s (timeout_s={TIMEOUT_S:g})"
        )
    if record.status == 200 and record.kind == "stream":
        if not record.content_type.startswith("text/event-stream"):
            problems.append(f"stream answered 200 as {record.content_type!r}")
        problems += [f"stream: {p}" for p in _stream_problems(record)]
        return problems
    try:
        body = json.loads(record.body)
    except ValueError:
        return [*problems, f"{record.kind} {record.status}: not JSON: {record.body[:200]!r}"]
    if record.status == 200:
        if not isinstance(body, dict) or not isinstance(body.get("extra_fields"), dict):
            problems.append(f"{record.kind} 200 without extra_fields: {record.body[:200]!r}")
        return problems
    assert record.status is not None
    shape = error_shape_problems(body, record.status)
    if shape:
        problems.append(f"{record.kind} {record.status}: error shape {shape}")
    elif body["is_gateway_error"] and body["error"].get("code") == "internal_error":
        problems.append(f"{record.kind} {record.status}: the gateway failed: {body['error']}")
    return problems


def _outcome(record: Record) -> str:
    if record.failure is not None:
        return "failure"
    if record.kind == "stream" and record.status == 200:
        last = record.events[-1] if record.events else ""
        return "stream:[DONE]" if last == "[DONE]" else "stream:error-event"
    return f"{record.kind}:{record.status}"


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _settle() -> None:
    for _ in range(3):
        gc.collect()
        await asyncio.sleep(0.05)


async def test_chaos_over_loopback_every_answer_keeps_the_contract() -> None:
    fds_before = _fds()
    # A first, smaller round absorbs one-time allocations (imports, codecs, pools' classes).
    warmup, _ = await _round(WARMUP_REQUESTS, seed=1)
    await _settle()
    fds_baseline, rss_baseline = _fds(), _rss_mb()
    started = time.monotonic()
    records, injected = await _round(REQUESTS, seed=2)
    took = time.monotonic() - started
    await _settle()
    fds_after, rss_after = _fds(), _rss_mb()

    everything = warmup + records
    assert len(records) == REQUESTS
    outcomes = Counter(_outcome(r) for r in everything)
    slowest = max(r.elapsed for r in everything)
    slowest_inside = max(r.server_elapsed or 0.0 for r in everything)
    summary = (
        f"{len(everything)} requests ({took:.1f} s for the main round), faults {dict(injected)}, "
        f"outcomes {dict(outcomes)}, slowest {slowest:.2f} s ({slowest_inside:.2f} s inside "
        "the gateway's server)"
    )
    problems = [p for r in everything for p in _problems(r)]
    # Nothing leaked once everything was closed.
    if fds_after > max(fds_before, fds_baseline) + FD_SLACK:
        problems.append(
            f"resources: open fds {fds_before} at start, {fds_baseline} after the warm-up, "
            f"{fds_after} after"
        )
    if rss_after > rss_baseline + RSS_SLACK_MB:
        problems.append(
            f"resources: RSS {rss_baseline:.0f} MB after the warm-up, {rss_after:.0f} MB after "
            f"{REQUESTS} more requests"
        )
    # The chaos really happened: faults were armed, and streams ended both ways.
    if sum(injected.values()) < REQUESTS * FAULT_RATE / 2:
        problems.append(f"chaos: only {sum(injected.values())} faults injected")
    if not (outcomes["stream:[DONE]"] and outcomes["stream:error-event"]):
        problems.append("chaos: streams did not end both ways")
    summary += (
        f"; fds {fds_before}/{fds_baseline}/{fds_after} (start/warm/end), "
        f"RSS {rss_baseline:.0f}/{rss_after:.0f} MB (warm/end)"
    )
    kinds = Counter(p.split(":")[0] + ": " + p.split(": ", 1)[1][:40] for p in problems)
    assert not problems, (
        f"{len(problems)} problems ({dict(kinds.most_common(8))}); first ones:\n  "
        + "\n  ".join(problems[:12])
        + f"\n{summary}"
    )


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("deadline", id="deadline-after-done"),
        pytest.param("cut", id="connection-cut-after-done"),
    ],
)
async def test_complete_stream_is_not_followed_by_an_error_event(ending: str) -> None:
    """Once ``[DONE]`` is relayed the stream is complete: neither the deadline firing while
    the upstream holds its body open, nor the upstream connection breaking before the body's
    end, may append an error event (a stream has exactly one terminal event)."""
    emulator = AzureEmulator(api_keys=("key-east", "key-west"))
    async with serve(emulator) as url:
        gateway = AzureGateway(chaos_config(url, url, timeout_s=0.5))
        try:
            async with serve(gateway) as gateway_url:
                length = await _stream_length(gateway_url, [(emulator, url)])
                # Every event sent, [DONE] included; then the body stays open, or breaks.
                fault = (
                    Fault.hold_stream(after_chunks=length)
                    if ending == "deadline"
                    else Fault.cut_stream(after_chunks=length)
                )
                emulator.inject(fault, times=3)  # also any retry
                async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
                    client.headers["api-key"] = CLIENT_KEY
                    try:
                        record = await _one(client, "stream", random.Random(0))
                    finally:
                        fault.release.set()
        finally:
            await gateway.aclose()
    assert record.failure is None, record.failure
    assert record.status == 200
    assert not _stream_problems(record), _stream_problems(record)
    assert record.events[-1] == "[DONE]", record.events[-2:]
