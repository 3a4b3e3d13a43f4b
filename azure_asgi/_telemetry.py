"""OpenTelemetry: one GenAI span per request, one child per upstream attempt, and metrics.

Imported only once a request arrives and ``opentelemetry-api`` is installed (the ``otel``
extra); the host brings the SDK and exporters. The conventions followed are the GenAI ones
(``gen_ai.*`` spans and metrics); names and attributes are listed in docs/observability.md.
With the API alone (no SDK, no provider passed) every request costs a provider look-up and
nothing else: no span, no parse.
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, StatusCode

from . import _json
from ._content import input_messages

if TYPE_CHECKING:
    from ._catalog import Target
    from ._exchange import Exchange
    from ._tap import Facts
    from ._usage import Counts

__all__ = ["RequestTrace", "Telemetry", "operation_name", "provider_name"]

_SCOPE = "azure_asgi"
#: The conventions' operation names; other request types keep their own name.
_OPERATIONS = {
    "chat_completion": "chat",
    "responses": "chat",
    "messages": "chat",
    "text_completion": "text_completion",
    "embedding": "embeddings",
}
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
_TOKEN_BUCKETS = tuple(float(4**n) for n in range(14))  # 1 ... 67,108,864, as the conventions
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5)
_CONTENT_EVENT = "gen_ai.client.inference.operation.details"
#: How often the global providers are looked up again (a host may set them late).
_RECHECK_S = 1.0


def operation_name(request_type: str | None) -> str:
    """``gen_ai.operation.name`` for a request type (``chat`` for chat and Responses)."""
    if request_type is None:
        return "gateway"
    return _OPERATIONS.get(request_type, request_type)


def provider_name(target: Target | None) -> str:
    """``gen_ai.provider.name``: ``anthropic`` for Claude deployments, else Azure OpenAI's."""
    return "anthropic" if target is not None and target.family == "anthropic" else "azure.ai.openai"


@functools.lru_cache(maxsize=256)
def _server(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


class _Instruments:
    __slots__ = ("attempts", "duration", "tokens", "ttft")

    def __init__(self, provider: metrics.MeterProvider, version: str) -> None:
        meter = provider.get_meter(_SCOPE, version)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration, streams to their last event.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Input and output tokens used, from the upstream's usage.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.ttft = meter.create_histogram(
            "gen_ai.server.time_to_first_token",
            unit="s",
            description="Time to the first byte of a streamed answer.",
            explicit_bucket_boundaries_advisory=_TTFT_BUCKETS,
        )
        self.attempts = meter.create_counter(
            "azure_asgi.upstream.attempts",
            unit="{attempt}",
            description="Upstream attempts, by resource and outcome.",
        )


class Telemetry:
    """The gateway's tracer and instruments, from the providers given or the global ones."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        *,
        capture_content: bool,
        version: str,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self.capture_content = capture_content
        self._version = version
        self._tracer_from: object = None
        self._meter_from: object = None
        self._tracer: trace.Tracer | None = None
        self._instruments: _Instruments | None = None
        self._next_check = 0.0

    def current(self) -> tuple[trace.Tracer | None, _Instruments | None]:
        """The tracer and instruments to use now; None for each while no SDK provider is set.

        The global providers may be set after the gateway was built, so they are looked up
        again, but at most every :data:`_RECHECK_S` (each look-up reads the environment: ~1 µs).
        """
        now = time.monotonic()
        if now < self._next_check:
            return self._tracer, self._instruments
        self._next_check = now + _RECHECK_S
        tracer_provider = self._tracer_provider or trace.get_tracer_provider()
        if tracer_provider is not self._tracer_from:
            self._tracer_from = tracer_provider
            active = not isinstance(tracer_provider, ProxyTracerProvider | NoOpTracerProvider)
            self._tracer = tracer_provider.get_tracer(_SCOPE, self._version) if active else None
        meter_provider = self._meter_provider or metrics.get_meter_provider()
        if meter_provider is not self._meter_from:
            self._meter_from = meter_provider
            # The API's own proxy (no SDK set yet) is private; known by name, not imported.
            active = not isinstance(meter_provider, NoOpMeterProvider) and (
                type(meter_provider).__name__ != "_ProxyMeterProvider"
            )
            self._instruments = _Instruments(meter_provider, self._version) if active else None
        if self._tracer_provider is not None and self._meter_provider is not None:
            self._next_check = math.inf  # both given: nothing to look up again
        return self._tracer, self._instruments


def _ns(perf: float, offset: int) -> int:
    return int(perf * 1e9) + offset


class RequestTrace:
    """One request's span, its attempts' spans, and its metrics."""

    __slots__ = ("_attempts", "_instruments", "_offset", "_parent", "_span", "_tracer", "capture")

    def __init__(
        self, ex: Exchange, tracer: trace.Tracer | None, instruments: _Instruments | None
    ) -> None:
        self._tracer = tracer
        self._instruments = instruments
        #: perf_counter to epoch nanoseconds, for times the exchange took before a span existed.
        self._offset = time.time_ns() - int(time.perf_counter() * 1e9)
        self._span: trace.Span | None = None
        self._attempts: dict[int, trace.Span] = {}
        self._parent: Any = None
        self.capture = False
        # No host span: the caller's own traceparent, if it sent one, is the parent.
        if (
            tracer is not None
            and b"traceparent" in ex.headers
            and not trace.get_current_span().get_span_context().is_valid
        ):
            carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in ex.headers.items()}
            self._parent = propagate.extract(carrier)

    def span(self, ex: Exchange) -> trace.Span | None:
        """The request's span, started (back-dated to the request's start) on first need."""
        if self._span is None and self._tracer is not None:
            request_type = ex.extra.get("request_type")
            op = operation_name(request_type)
            model = ex.extra.get("model_requested")
            self._span = self._tracer.start_span(
                f"{op} {model}" if model else op,
                context=self._parent,
                kind=SpanKind.CLIENT,
                start_time=_ns(ex.started, self._offset),
                attributes={"gen_ai.operation.name": op},
            )
        return self._span

    def attempt(self, ex: Exchange, headers: list[tuple[str, str]]) -> None:
        """Start the current attempt's span and put its ``traceparent`` in ``headers``."""
        parent = self.span(ex)
        if parent is None or self._tracer is None:
            return
        index = len(ex.attempts) - 1
        context = trace.set_span_in_context(parent)
        span = self._tracer.start_span("upstream attempt", context=context, kind=SpanKind.CLIENT)
        self._attempts[index] = span
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        headers.extend(carrier.items())

    def finish(
        self, ex: Exchange, facts: Facts, counts: Counts, error: str | None, caller_left: bool
    ) -> None:
        """End the spans (back-dated to the exchange's times) and record the metrics."""
        target = ex.target or (ex.attempts[-1].target if ex.attempts else None)
        base: dict[str, Any] = {
            "gen_ai.operation.name": operation_name(ex.extra.get("request_type")),
            "gen_ai.provider.name": provider_name(target),
        }
        model = ex.extra.get("model_requested")
        if model:
            base["gen_ai.request.model"] = model
        if facts.response_model:
            base["gen_ai.response.model"] = facts.response_model
        if target is not None:
            base["server.address"], base["server.port"] = _server(target.resource.base)
            base["azure.resource"] = target.resource.name
        if error is not None:
            base["error.type"] = error
        span = self.span(ex)
        if span is not None:
            if caller_left:
                base["azure_asgi.caller_left"] = True
            self._end_span(ex, span, base, facts, counts, target, error)
            base.pop("azure_asgi.caller_left", None)
        if self._instruments is not None:
            self._record(ex, base, counts)

    def _end_span(
        self,
        ex: Exchange,
        span: trace.Span,
        base: dict[str, Any],
        facts: Facts,
        counts: Counts,
        target: Target | None,
        error: str | None,
    ) -> None:
        for index, record in enumerate(ex.attempts):
            child = self._attempts.get(index)
            if child is None and self._tracer is not None:
                child = self._tracer.start_span(
                    "upstream attempt",
                    context=trace.set_span_in_context(span),
                    kind=SpanKind.CLIENT,
                    start_time=_ns(record.started, self._offset),
                )
            assert child is not None
            address, port = _server(record.target.resource.base)
            child.set_attributes(
                {
                    "azure.resource": record.target.resource.name,
                    "azure.deployment": record.target.deployment,
                    "server.address": address,
                    "server.port": port,
                }
            )
            if record.status is not None:
                child.set_attribute("http.response.status_code", record.status)
            if record.retry_reason is not None:
                child.set_attribute("azure.retry_reason", record.retry_reason)
                child.set_attribute("error.type", record.retry_reason)
                child.set_status(StatusCode.ERROR)
            child.end(end_time=_ns(record.ended or time.perf_counter(), self._offset))
        if not span.is_recording():
            span.end()
            return
        attrs = dict(base)
        if target is not None:
            attrs["azure.deployment"] = target.deployment
        if facts.response_id:
            attrs["gen_ai.response.id"] = facts.response_id
        if facts.finish_reasons:
            attrs["gen_ai.response.finish_reasons"] = facts.finish_reasons
        if counts.input_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = counts.input_tokens
        if counts.output_tokens is not None:
            attrs["gen_ai.usage.output_tokens"] = counts.output_tokens
        attrs.update(_request_params(ex))
        attrs["http.response.status_code"] = ex.status or 499
        attrs["azure_asgi.request_id"] = ex.request_id
        attrs["azure_asgi.attempts"] = len(ex.attempts)
        span.set_attributes(attrs)
        if self.capture:
            span.add_event(
                _CONTENT_EVENT,
                {
                    "gen_ai.input.messages": _dumps(input_messages(_data(ex))),
                    "gen_ai.output.messages": _dumps(facts.output or []),
                },
            )
        if error is not None:
            span.set_status(StatusCode.ERROR, error)
        span.end(end_time=_ns(ex.ended or time.perf_counter(), self._offset))

    def _record(self, ex: Exchange, base: dict[str, Any], counts: Counts) -> None:
        instruments = self._instruments
        assert instruments is not None
        ended = ex.ended or time.perf_counter()
        instruments.duration.record(ended - ex.started, base)
        tokens = {k: v for k, v in base.items() if k != "error.type"}
        if counts.input_tokens is not None:
            instruments.tokens.record(counts.input_tokens, {**tokens, "gen_ai.token.type": "input"})
        if counts.output_tokens is not None:
            output = {**tokens, "gen_ai.token.type": "output"}
            instruments.tokens.record(counts.output_tokens, output)
        if ex.first_byte is not None:
            instruments.ttft.record(ex.first_byte - ex.started, tokens)
        for record in ex.attempts:
            outcome = record.retry_reason or (
                "ok" if record.status is not None and record.status < 400 else "error"
            )
            instruments.attempts.add(
                1, {"azure.resource": record.target.resource.name, "outcome": outcome}
            )


def _data(ex: Exchange) -> dict[str, Any] | None:
    return ex.inbound.data if ex.inbound is not None else None


def _request_params(ex: Exchange) -> dict[str, Any]:
    data = _data(ex)
    if not data:
        return {}
    out: dict[str, Any] = {}
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out["gen_ai.request.max_tokens"] = value
            break
    for key in ("temperature", "top_p"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"gen_ai.request.{key}"] = float(value)
    return out


def _dumps(value: object) -> str:
    return _json.dumps(value).decode()
