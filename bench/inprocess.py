"""In-process overhead of the gateway: one ASGI call versus calling the upstream directly.

Both sides use the same ``httpx.AsyncClient`` over a ``MockTransport`` that answers with the
canned Azure chat completion, or with the canned 30-event SSE stream yielded one event at a
time, so the difference is what the gateway adds: auth, routing, body parse, model resolution,
URL and header building, the relay and ``extra_fields``.

- non-streaming chat: µs per request (median, p99), direct and through the gateway;
- 30-event stream: µs per whole stream, and µs per relayed chunk: the interval between two
  consecutive chunks as the caller sees them (the gateway's ``send``), against the interval
  between two chunks read from the upstream directly;
- the same words from a Claude deployment (a Messages stream), translated to chat chunks: what
  translation costs against the pass-through stream, both through the gateway.

    python bench/inprocess.py [--requests 5000] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads

from azure_asgi import AzureGateway

UPSTREAM = "http://upstream"
CHAT, _ = payloads.canned()
EVENTS = payloads.sse_events()
JSON_HEADERS = {"content-type": "application/json", **payloads.AZURE_HEADERS}
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", **payloads.AZURE_HEADERS}
CLAUDE_EVENTS = payloads.claude_events()


async def _events(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.raw_path.startswith(payloads.MESSAGES_PATH.encode()):
        return httpx.Response(200, headers=SSE_HEADERS, content=_events(CLAUDE_EVENTS))
    if b"/bench-stream/" in request.url.raw_path:
        return httpx.Response(200, headers=SSE_HEADERS, content=_events(EVENTS))
    return httpx.Response(200, headers=JSON_HEADERS, content=CHAT)


def config() -> dict[str, Any]:
    return {
        "resources": [
            {
                "name": "eastus",
                "endpoint": UPSTREAM,
                "auth": {"api_key": payloads.UPSTREAM_KEY},
                "deployments": {
                    payloads.JSON_DEPLOYMENT: payloads.JSON_DEPLOYMENT,
                    payloads.STREAM_DEPLOYMENT: payloads.STREAM_DEPLOYMENT,
                    payloads.CLAUDE_DEPLOYMENT: {
                        "deployment": payloads.CLAUDE_DEPLOYMENT,
                        "family": "anthropic",
                    },
                },
            }
        ],
        "clients": {"api_keys": [payloads.CLIENT_KEY]},
    }


def scope(deployment: str, body: bytes) -> dict[str, Any]:
    path, _, query = payloads.path(deployment).partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"gateway"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"api-key", payloads.CLIENT_KEY.encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("gateway", 80),
    }


class Call:
    """One prepared request, made through the gateway or straight to the upstream."""

    def __init__(self, deployment: str, *, stream: bool) -> None:
        self.body = payloads.request_body(deployment, stream=stream)
        self.scope = scope(deployment, self.body)
        claude = deployment == payloads.CLAUDE_DEPLOYMENT
        self.url = UPSTREAM + (payloads.MESSAGES_PATH if claude else payloads.path(deployment))
        self.headers = {"api-key": payloads.UPSTREAM_KEY, "content-type": "application/json"}
        #: perf_counter_ns() of every body chunk of the last call, as its caller saw them.
        self.chunks: list[int] = []

    async def gateway(self, gateway: AzureGateway) -> int:
        status = 0
        chunks = self.chunks = []
        pending = [{"type": "http.request", "body": self.body, "more_body": False}]
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await done.wait()  # a caller that stays: no disconnect before the answer is sent
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message.get("body"):
                chunks.append(time.perf_counter_ns())

        await gateway(dict(self.scope), receive, send)
        done.set()
        return status

    async def direct(self, client: httpx.AsyncClient) -> int:
        chunks = self.chunks = []
        request = client.build_request("POST", self.url, content=self.body, headers=self.headers)
        resp = await client.send(request, stream=True)
        try:
            async for chunk in resp.aiter_bytes():
                if chunk:
                    chunks.append(time.perf_counter_ns())
        finally:
            await resp.aclose()
        return resp.status_code


async def measure(fn: Any, arg: Any, call: Call, n: int) -> tuple[list[float], list[float]]:
    """µs per call, and µs between consecutive chunks, over ``n`` calls after a warm-up."""
    for _ in range(min(500, n)):
        await fn(arg)
    per_call, per_chunk = [], []
    gc.collect()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        status = await fn(arg)
        per_call.append((time.perf_counter_ns() - t0) / 1000)
        assert status == 200, status
        stamps = call.chunks
        per_chunk.extend((b - a) / 1000 for a, b in itertools.pairwise(stamps))
    return per_call, per_chunk


def summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"median": float("nan"), "p99": float("nan")}
    ordered = sorted(samples)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return {"median": round(statistics.median(ordered), 2), "p99": round(p99, 2)}


async def run(n: int) -> dict[str, Any]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    gateway = AzureGateway(config(), http_client=client)
    out: dict[str, Any] = {"requests": n, "stream_events": len(EVENTS)}
    for name, deployment, stream in (
        ("json", payloads.JSON_DEPLOYMENT, False),
        ("stream", payloads.STREAM_DEPLOYMENT, True),
        ("claude", payloads.CLAUDE_DEPLOYMENT, True),
    ):
        call = Call(deployment, stream=stream)
        direct, direct_chunks = await measure(call.direct, client, call, n)
        through, through_chunks = await measure(call.gateway, gateway, call, n)
        if name == "stream":
            assert len(call.chunks) == len(EVENTS), f"relayed {len(call.chunks)} chunks"
        out[name] = {
            "direct": summary(direct),
            "gateway": summary(through),
            "direct_chunk": summary(direct_chunks),
            "gateway_chunk": summary(through_chunks),
        }
    await gateway.aclose()
    await client.aclose()
    for key in ("json", "stream", "claude"):
        block = out[key]
        block["added"] = {
            m: round(block["gateway"][m] - block["direct"][m], 2) for m in ("median", "p99")
        }
        block["added_chunk"] = {
            m: round(block["gateway_chunk"][m] - block["direct_chunk"][m], 2)
            for m in ("median", "p99")
        }
    # Translation's own cost: the Claude stream against the pass-through GPT stream of the same
    # words, both through the gateway.
    claude, gpt = out["claude"], out["stream"]
    out["claude_events"] = len(CLAUDE_EVENTS)
    out["claude_vs_stream"] = {
        "per_stream": round(claude["gateway"]["median"] - gpt["gateway"]["median"], 2),
        "per_chunk": round(claude["gateway_chunk"]["median"] - gpt["gateway_chunk"]["median"], 2),
    }
    return out


def table(out: dict[str, Any]) -> str:
    j, s, c = out["json"], out["stream"], out["claude"]
    rows = [
        ("non-streaming chat, per request", j["direct"], j["gateway"], j["added"]),
        (f"{out['stream_events']}-event stream, per stream", s["direct"], s["gateway"], s["added"]),
        ("stream, per relayed chunk", s["direct_chunk"], s["gateway_chunk"], s["added_chunk"]),
        ("Claude stream translated, per stream", c["direct"], c["gateway"], c["added"]),
        ("Claude stream, per chunk", c["direct_chunk"], c["gateway_chunk"], c["added_chunk"]),
    ]
    lines = [
        f"in-process, {out['requests']} requests each, µs (median / p99)",
        f"{'':<34}{'direct':>18}{'gateway':>18}{'added':>18}",
    ]
    for label, d, g, a in rows:
        cells = [f"{x['median']:.1f} / {x['p99']:.1f}" for x in (d, g, a)]
        lines.append(f"{label:<34}" + "".join(f"{c:>18}" for c in cells))
    vs = out["claude_vs_stream"]
    lines.append(
        f"translation vs pass-through (through the gateway): +{vs['per_stream']:.1f} µs per "
        f"stream, +{vs['per_chunk']:.1f} µs per chunk"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    out = asyncio.run(run(args.requests))
    print(table(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
