"""OpenTelemetry: the GenAI span tree, its attributes, the metrics, and the trace context the
upstream receives, checked with the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator

from .conftest import (
    CHAT,
    Scripted,
    caller,
    emulator_gateway,
    json_step,
    make_config,
    scripted_upstream,
    sse_json,
    sse_step,
)


class Otel:
    """An SDK tracer provider and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @property
    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def request_span(self) -> ReadableSpan:
        (span,) = [s for s in self.spans() if s.name != "upstream attempt" and s.name != "host"]
        return span

    def attempts(self, parent: ReadableSpan) -> list[ReadableSpan]:
        children = [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]
        return sorted(children, key=lambda s: s.start_time or 0)

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        found = []
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


def emulated(otel: Otel, **config: Any) -> AzureGateway:
    return emulator_gateway(
        AzureEmulator(api_keys=("emulator-key",)), make_config(**config), **otel.providers
    )


async def test_a_chat_answer_makes_a_genai_span_with_one_child_per_attempt(otel: Otel) -> None:
    gw = emulated(otel)
    body = {**CHAT, "max_tokens": 50, "temperature": 0.5, "top_p": 0.9}
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=body)
    answer = resp.json()
    span = otel.request_span()
    assert span.name == "chat gpt-4o"
    assert span.kind == SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "azure.ai.openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == answer["model"]
    assert attrs["gen_ai.response.id"] == answer["id"]
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == answer["usage"]["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == answer["usage"]["completion_tokens"]
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert (attrs["server.address"], attrs["server.port"]) == ("emulator", 80)
    assert (attrs["azure.resource"], attrs["azure.deployment"]) == ("eastus", "my-gpt4o")
    assert attrs["azure_asgi.request_id"] == resp.headers["x-request-id"]
    assert "error.type" not in attrs
    assert span.status.status_code == StatusCode.UNSET
    (attempt,) = otel.attempts(span)
    assert attempt.context.trace_id == span.context.trace_id
    child = dict(attempt.attributes or {})
    assert child["azure.resource"] == "eastus"
    assert child["http.response.status_code"] == 200
    assert "azure.retry_reason" not in child
    assert span.start_time is not None and attempt.start_time is not None
    assert span.end_time is not None and attempt.end_time is not None
    assert span.start_time <= attempt.start_time <= attempt.end_time <= span.end_time
    # No prompt or completion unless asked for.
    assert not span.events
    assert "hello there world" not in json.dumps(attrs)


async def test_a_stream_span_carries_the_streams_usage_and_ends_at_its_last_event(
    otel: Otel,
) -> None:
    gw = emulated(otel)
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    chunks = sse_json(resp.content)
    assert all("usage" not in c for c in chunks)  # the caller did not ask for it
    span = otel.request_span()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.response.id"] == chunks[-1]["id"]
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert "azure_asgi.caller_left" not in attrs
    (ttft,) = otel.points("gen_ai.server.time_to_first_token")
    assert ttft.count == 1
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert span.end_time is not None and span.start_time is not None
    assert duration.sum <= (span.end_time - span.start_time) / 1e9 + 1e-3


async def test_embeddings_span(otel: Otel) -> None:
    gw = emulated(otel)
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/embeddings", json={"model": "gpt-4o", "input": "a b"})
    span = otel.request_span()
    attrs = dict(span.attributes or {})
    assert span.name == "embeddings gpt-4o"
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.usage.input_tokens"] == resp.json()["usage"]["prompt_tokens"]
    assert "gen_ai.usage.output_tokens" not in attrs


async def test_a_failing_request_is_an_error_span_with_each_retry_visible(otel: Otel) -> None:
    upstream = Scripted(json_step({"error": {"code": "500", "message": "down"}}, status=500))
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client, **otel.providers)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 500
    span = otel.request_span()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "500"
    attempts = otel.attempts(span)
    assert [dict(a.attributes or {}).get("azure.retry_reason") for a in attempts] == [
        "status_500",
        "status_500",
        None,
    ]
    assert [dict(a.attributes or {})["http.response.status_code"] for a in attempts] == [500] * 3
    assert attempts[0].status.status_code == StatusCode.ERROR
    outcomes = {
        (p.attributes["outcome"], p.value) for p in otel.points("azure_asgi.upstream.attempts")
    }
    assert outcomes == {("status_500", 2), ("error", 1)}
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "500"


async def test_a_gateway_error_names_its_code(otel: Otel) -> None:
    gw = emulated(otel)
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json={**CHAT, "model": "unknown"})
    assert resp.status_code == 404
    span = otel.request_span()
    assert span.name == "chat unknown"
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == resp.json()["error"]["code"]


async def test_metrics_carry_the_conventions_attributes(otel: Otel) -> None:
    gw = emulated(otel)
    async with gw, caller(gw) as client:
        answer = (await client.post("/v1/chat/completions", json=CHAT)).json()
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert duration.attributes["gen_ai.request.model"] == "gpt-4o"
    assert duration.attributes["gen_ai.response.model"] == answer["model"]
    assert duration.attributes["server.address"] == "emulator"
    points = otel.points("gen_ai.client.token.usage")
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points}
    assert tokens == {
        "input": answer["usage"]["prompt_tokens"],
        "output": answer["usage"]["completion_tokens"],
    }
    (attempts,) = otel.points("azure_asgi.upstream.attempts")
    assert (attempts.value, dict(attempts.attributes)) == (
        1,
        {"azure.resource": "eastus", "outcome": "ok"},
    )
    assert otel.points("gen_ai.server.time_to_first_token") == []  # not a stream


async def test_the_upstream_receives_the_attempts_traceparent(otel: Otel) -> None:
    upstream = Scripted(sse_step(b'data: {"choices":[]}\n\n', b"data: [DONE]\n\n"))
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client, **otel.providers)
        async with gw, caller(gw) as c:
            resp = await c.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert resp.status_code == 200
    span = otel.request_span()
    (attempt,) = otel.attempts(span)
    sent = upstream.requests[0]["headers"]
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert version == "00"
    assert int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == span.context.trace_id
    assert int(span_id, 16) == attempt.context.span_id
    assert sent["x-ms-client-request-id"] == resp.headers["x-request-id"]


async def test_a_host_span_is_the_parent_of_the_gateways_span(otel: Otel) -> None:
    upstream = Scripted(json_step({"id": "chatcmpl-1", "choices": []}))
    tracer = otel.tracer_provider.get_tracer("host")
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client, **otel.providers)
        app = FastAPI()
        app.mount("/llm", gw)

        async def host(scope: Any, receive: Any, send: Any) -> None:
            # What an OpenTelemetry ASGI instrumentation does: a current server span.
            with tracer.start_as_current_span("host", kind=SpanKind.SERVER):
                await app(scope, receive, send)

        async with gw, caller(host) as c:
            resp = await c.post("/llm/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    (host_span,) = [s for s in otel.spans() if s.name == "host"]
    span = otel.request_span()
    assert span.parent is not None
    assert span.parent.span_id == host_span.context.span_id
    assert span.context.trace_id == host_span.context.trace_id
    sent = upstream.requests[0]["headers"]["traceparent"]
    assert sent.split("-")[1] == format(host_span.context.trace_id, "032x")


async def test_without_a_host_span_the_callers_traceparent_is_the_parent(otel: Otel) -> None:
    gw = emulated(otel)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with gw, caller(gw, traceparent=parent) as client:
        await client.post("/v1/chat/completions", json=CHAT)
    span = otel.request_span()
    assert span.parent is not None
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"


async def test_content_capture_records_prompts_and_completions_as_a_span_event(
    otel: Otel,
) -> None:
    gw = emulated(otel, telemetry={"capture_content": True})
    async with gw, caller(gw) as client:
        answer = (await client.post("/v1/chat/completions", json=CHAT)).json()
        streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in sse_json(streamed.content)
        if c["choices"]
    )
    events = []
    for span in otel.spans():
        events += [e for e in span.events if e.name == "gen_ai.client.inference.operation.details"]
    assert len(events) == 2
    expected_texts = [answer["choices"][0]["message"]["content"], text]
    for event, expected in zip(events, expected_texts, strict=True):
        attrs = dict(event.attributes or {})
        inputs = json.loads(str(attrs["gen_ai.input.messages"]))
        assert inputs == [
            {"role": "user", "parts": [{"type": "text", "content": "hello there world"}]}
        ]
        (output,) = json.loads(str(attrs["gen_ai.output.messages"]))
        assert output["parts"] == [{"type": "text", "content": expected}]
        assert output["finish_reason"] == "stop"


async def test_no_sdk_means_no_watch_and_disabled_means_no_import() -> None:
    # With the API alone (the global providers are the API's no-op proxies) nothing observes.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    gw = emulator_gateway(AzureEmulator(api_keys=("emulator-key",)))
    seen: list[object] = []
    original = gw._observers.begin

    def spy(ex: Any) -> Any:
        watch = original(ex)
        seen.append(watch)
        return watch

    gw._observers.begin = spy  # type: ignore[method-assign]
    async with gw, caller(gw) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert seen == [None]
    off = emulator_gateway(
        AzureEmulator(api_keys=("emulator-key",)), make_config(telemetry={"enabled": False})
    )
    async with off, caller(off) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert off._observers._telemetry is False
