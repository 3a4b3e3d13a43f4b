"""In-process overhead of the gateway: one ASGI call versus calling the upstream directly.

Both sides use the same ``httpx.AsyncClient`` over a ``MockTransport`` that returns a canned Azure
chat completion, so the difference is what the gateway adds: auth, routing, body parse, model
resolution, URL and header building, the relay and ``extra_fields``.

    python bench/inprocess.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from azure_asgi import AzureGateway

CANNED = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-11-20",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "hello there world"},
                "content_filter_results": {},
            }
        ],
        "prompt_filter_results": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }
).encode()
BODY = json.dumps(
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there world"}]}
).encode()
URL = "http://upstream/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "application/json"}, content=CANNED)


def config() -> dict[str, Any]:
    return {
        "resources": [
            {
                "name": "eastus",
                "endpoint": "http://upstream",
                "auth": {"api_key": "k"},
                "deployments": {"gpt-4o": "my-gpt4o"},
            }
        ],
        "clients": {"api_keys": ["client-key"]},
    }


SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/chat/completions",
    "raw_path": b"/v1/chat/completions",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"gateway"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"api-key", b"client-key"),
    ],
    "client": ("127.0.0.1", 1),
    "server": ("gateway", 80),
}


async def call_gateway(gateway: AzureGateway) -> int:
    status = 0
    request = {"type": "http.request", "body": BODY, "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await gateway(dict(SCOPE), receive, send)
    return status


async def call_direct(client: httpx.AsyncClient) -> int:
    resp = await client.post(
        URL, content=BODY, headers={"api-key": "k", "content-type": "application/json"}
    )
    return resp.status_code


async def measure(fn: Any, arg: Any, n: int) -> list[float]:
    for _ in range(min(500, n)):  # warm-up
        await fn(arg)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        status = await fn(arg)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        assert status == 200, status
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def main(n: int) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    gateway = AzureGateway(config(), http_client=client)
    direct = await measure(call_direct, client, n)
    through = await measure(call_gateway, gateway, n)
    d50, d99 = summary(direct)
    g50, g99 = summary(through)
    print(f"non-streaming chat, {n} requests, in-process, µs per request")
    print(f"{'path':<28}{'median':>10}{'p99':>10}")
    print(f"{'upstream called directly':<28}{d50:>10.1f}{d99:>10.1f}")
    print(f"{'through the gateway':<28}{g50:>10.1f}{g99:>10.1f}")
    print(f"{'added by the gateway':<28}{g50 - d50:>10.1f}")
    await gateway.aclose()
    await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(main(parser.parse_args().requests))
