"""What observing a request costs, in process: the gateway with telemetry off, with the
OpenTelemetry API alone (no SDK: the global no-op providers), with the SDK (a
BatchSpanProcessor to an exporter that drops spans, and a metric reader), with ``on_usage``
alone and with the access log enabled.

Same harness as ``inprocess.py`` (an ``httpx.MockTransport`` upstream answering the canned
chat completion or the 30-event stream). Time is this thread's CPU time (``thread_time``), so
other processes on a busy machine do not count, nor does the SDK's export thread; modes are
measured in interleaved rounds and the best round of each is kept. Numbers: µs per request,
and the difference to ``off``.

    python bench/telemetry.py [--requests 300] [--rounds 15] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inprocess
import payloads

from azure_asgi import AzureGateway, UsageRecord


def _sdk() -> dict[str, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1 << 16))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


async def _noop(record: UsageRecord) -> None:
    return None


def gateways(client: httpx.AsyncClient) -> dict[str, AzureGateway]:
    off = {**inprocess.config(), "telemetry": {"enabled": False}}
    return {
        "off": AzureGateway(off, http_client=client),
        "api_only": AzureGateway(inprocess.config(), http_client=client),
        "sdk": AzureGateway(inprocess.config(), http_client=client, **_sdk()),
        "on_usage": AzureGateway(off, http_client=client, on_usage=_noop),
        "access_log": AzureGateway(off, http_client=client),
    }


async def cpu_per_call(call: inprocess.Call, gw: AzureGateway, n: int) -> float:
    """µs of this thread's CPU per call, over ``n`` calls after a warm-up."""
    for _ in range(min(200, n)):
        await call.gateway(gw)
    gc.collect()
    start = time.thread_time_ns()
    for _ in range(n):
        status = await call.gateway(gw)
        assert status == 200, status
    return (time.thread_time_ns() - start) / n / 1000


async def run(n: int, rounds: int) -> dict[str, Any]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(inprocess.handler))
    gws = gateways(client)
    access = logging.getLogger("azure_asgi.access")
    access.addHandler(logging.NullHandler())
    access.propagate = False
    out: dict[str, Any] = {"requests": n, "rounds": rounds}
    for name, deployment, stream in (
        ("json", payloads.JSON_DEPLOYMENT, False),
        ("stream", payloads.STREAM_DEPLOYMENT, True),
    ):
        call = inprocess.Call(deployment, stream=stream)
        medians: dict[str, list[float]] = {mode: [] for mode in gws}
        for _ in range(rounds):
            for mode, gw in gws.items():
                access.setLevel(logging.INFO if mode == "access_log" else logging.WARNING)
                medians[mode].append(await cpu_per_call(call, gw, n))
        access.setLevel(logging.WARNING)
        result = {mode: round(min(v), 2) for mode, v in medians.items()}
        out[name] = {
            "us_per_request": result,
            "added_vs_off": {m: round(v - result["off"], 2) for m, v in result.items()},
        }
    for gw in gws.values():
        await gw.aclose()
    await client.aclose()
    return out


def table(out: dict[str, Any]) -> str:
    lines = [
        f"observers, in-process, {out['requests']} requests x {out['rounds']} rounds, "
        "µs of CPU per request (best round) and added vs off",
        f"{'mode':<14}{'json':>12}{'added':>10}{'stream':>12}{'added':>10}",
    ]
    for mode in out["json"]["us_per_request"]:
        j, s = out["json"], out["stream"]
        lines.append(
            f"{mode:<14}{j['us_per_request'][mode]:>12.1f}{j['added_vs_off'][mode]:>10.1f}"
            f"{s['us_per_request'][mode]:>12.1f}{s['added_vs_off'][mode]:>10.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    out = asyncio.run(run(args.requests, args.rounds))
    print(table(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
