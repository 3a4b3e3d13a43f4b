"""Memory of the ``serve`` process: 1,000 concurrent slow streams, and a long soak.

The slow upstream is the project's emulator with a chunk delay (``bench/launch.py emulator``),
served by uvicorn in its own process; the 1,000 callers are one asyncio aiohttp client in this
process, each reading a chunk and then sleeping. The soak is wrk, non-streaming, bounded by a
request count and a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import loopback
import payloads
import procs

MB = 1024 * 1024


@dataclass
class StreamsResult:
    wanted: int
    opened: int  # streams whose first chunk arrived
    failed: int
    ramp_s: float
    rss_idle_mb: float
    rss_peak_mb: float  # the whole serve process tree, sampled while every stream was open
    rss_peak_worker_mb: float  # the largest single process of the tree (granian's worker)
    rss_after_mb: float  # a few seconds after the callers went away
    chunks_read: int


@dataclass
class SoakResult:
    requests: int
    seconds: float
    rps: float
    errors: int
    rss_start_mb: float  # the fresh process, before any request
    rss_before_mb: float  # after a warm-up, before the soak
    rss_after_mb: float
    growth_pct: float


def rss_total(pid: int) -> float:
    return sum(procs.rss_bytes(pid).values()) / MB


def rss_largest(pid: int) -> float:
    return max(procs.rss_bytes(pid).values(), default=0) / MB


def soak(pid: int, port: int, results: Path, *, requests: int, max_s: float) -> SoakResult:
    start = rss_total(pid)
    body = loopback.body_file(results, "json")
    target = loopback.url(port, "json")
    loopback.wrk(target, body, 64, 3)  # warm-up: pools, caches, allocator arenas
    before = rss_total(pid)
    t0 = time.monotonic()
    raw = loopback.wrk(target, body, 64, max_s, max_requests=requests)
    seconds = time.monotonic() - t0
    time.sleep(1.0)
    after = rss_total(pid)
    done = int(raw["requests"])
    return SoakResult(
        requests=done,
        seconds=round(seconds, 1),
        rps=round(done / (int(raw["duration_us"]) / 1e6), 1),
        errors=sum(raw["errors"].values()),
        rss_start_mb=round(start, 1),
        rss_before_mb=round(before, 1),
        rss_after_mb=round(after, 1),
        growth_pct=round((after - before) / before * 100, 1),
    )


async def _slow_reader(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    first: asyncio.Event,
    counter: list[int],
    stop: asyncio.Event,
) -> None:
    headers = {"api-key": payloads.CLIENT_KEY, "content-type": "application/json"}
    async with session.post(url, data=body, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
        while not stop.is_set():
            chunk = await resp.content.readany()
            if not chunk:
                return
            counter[0] += 1
            first.set()
            await asyncio.sleep(0.25)  # a slow caller: read, then dawdle


async def _streams(pid: int, port: int, n: int, hold_s: float, ramp_timeout_s: float) -> dict:
    url = f"http://127.0.0.1:{port}{payloads.path(payloads.SLOW_DEPLOYMENT)}"
    body = payloads.request_body(payloads.SLOW_DEPLOYMENT, stream=True)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    firsts = [asyncio.Event() for _ in range(n)]
    counter = [0]
    stop = asyncio.Event()
    idle = rss_total(pid)
    t0 = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        for i in range(n):
            coro = _slow_reader(session, url, body, firsts[i], counter, stop)
            tasks.append(asyncio.create_task(coro))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # open in waves, as callers arrive
        waiting = [asyncio.create_task(e.wait()) for e in firsts]
        _, pending = await asyncio.wait(waiting, timeout=ramp_timeout_s)
        for w in pending:
            w.cancel()
        ramp = time.monotonic() - t0
        opened = sum(e.is_set() for e in firsts)
        peak = peak_worker = 0.0
        until = time.monotonic() + hold_s
        while time.monotonic() < until:
            peak = max(peak, rss_total(pid))
            peak_worker = max(peak_worker, rss_largest(pid))
            await asyncio.sleep(0.2)
        stop.set()
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    failed = sum(
        isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError) for o in outcomes
    )
    await asyncio.sleep(3.0)
    return {
        "wanted": n,
        "opened": opened,
        "failed": failed,
        "ramp_s": round(ramp, 2),
        "rss_idle_mb": round(idle, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_peak_worker_mb": round(peak_worker, 1),
        "rss_after_mb": round(rss_total(pid), 1),
        "chunks_read": counter[0],
    }


def streams(pid: int, port: int, *, n: int, hold_s: float = 4.0) -> StreamsResult:
    """Open ``n`` slow streams through the server at ``port``; RSS of ``pid`` while they last."""
    with contextlib.suppress(OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * n + 1024)), hard))
    return StreamsResult(**asyncio.run(_streams(pid, port, n, hold_s, ramp_timeout_s=60)))


def as_json(result: StreamsResult | SoakResult) -> dict[str, object]:
    return asdict(result)
