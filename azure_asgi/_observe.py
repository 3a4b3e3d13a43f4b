"""The observers of a request: telemetry, the access log and usage records, in one place.

The shell asks :meth:`Observers.begin` for a :class:`Watch` when a request arrives; it gets
None when nothing observes (no ``on_usage``, the access log not enabled for INFO, no
OpenTelemetry SDK provider), and then nothing below runs for that request: no parse, no scan,
no object. A watch reads the finished :class:`Exchange` (docs/architecture.md), plus what the
relay shows it of the answer (:mod:`_tap`). OpenTelemetry is imported on the first request,
never when the gateway is built, and not at all when it is not installed.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._access import ACCESS, log_access
from ._tap import BlockTap, Facts, StreamTap, read_answer
from ._usage import Counts, UsageHook, UsageHooks, UsageRecord, usage_counts

if TYPE_CHECKING:
    from ._config import TelemetryConfig
    from ._exchange import Exchange
    from ._telemetry import RequestTrace, Telemetry
    from .families import StreamTranslator

__all__ = ["Observers", "Watch"]

logger = logging.getLogger("azure_asgi")

#: Operations whose streams carry usage only when asked (``stream_options.include_usage``).
_ASK_USAGE = frozenset({"chat_completion", "text_completion"})


class Observers:
    """The gateway's observers; one :class:`Watch` per request that has any."""

    def __init__(
        self,
        config: TelemetryConfig,
        on_usage: UsageHook | None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        self._config = config
        self.usage = UsageHooks(on_usage) if on_usage is not None else None
        self._providers = (tracer_provider, meter_provider)
        #: None: not looked for yet; False: off (disabled or not installed).
        self._telemetry: Telemetry | bool | None = None if config.enabled else False

    def _load(self) -> Telemetry | bool:
        if importlib.util.find_spec("opentelemetry") is None:
            return False
        try:
            from . import __version__
            from ._telemetry import Telemetry
        except ImportError:  # a broken or partial install: work without it
            logger.warning("azure-asgi: opentelemetry could not be imported; telemetry is off")
            return False
        tracer, meter = self._providers
        return Telemetry(
            tracer, meter, capture_content=self._config.capture_content, version=__version__
        )

    def begin(self, ex: Exchange) -> Watch | None:
        """A watch for ``ex`` (also set as ``ex.watch``), or None when nothing observes."""
        telemetry = self._telemetry
        if telemetry is None:
            telemetry = self._telemetry = self._load()
        trace: RequestTrace | None = None
        if telemetry is not False:
            assert not isinstance(telemetry, bool)
            tracer, instruments = telemetry.current()
            if tracer is not None or instruments is not None:
                from ._telemetry import RequestTrace

                trace = RequestTrace(ex, tracer, instruments)
                trace.capture = telemetry.capture_content and tracer is not None
        access = ACCESS.isEnabledFor(logging.INFO)
        if trace is None and not access and self.usage is None:
            return None
        watch = Watch(trace, access, self.usage)
        ex.watch = watch
        return watch

    async def aclose(self) -> None:
        if self.usage is not None:
            await self.usage.aclose()


class Watch:
    """What one request's observers need: the answer's facts, the trace, the flags."""

    __slots__ = ("_access", "_tap", "_trace", "_usage", "facts", "strip_usage")

    def __init__(self, trace: RequestTrace | None, access: bool, usage: UsageHooks | None) -> None:
        self._trace = trace
        self._access = access
        self._usage = usage
        self._tap: StreamTap | BlockTap | None = None
        self.facts = Facts()
        #: The gateway asked the upstream for ``include_usage``; the tap takes it out again.
        self.strip_usage = False

    # -- on the way ---------------------------------------------------------------------------

    def dispatching(self, ex: Exchange) -> None:
        """Before the first attempt: start the span; ask a stream for its usage if needed."""
        if self._trace is not None:
            self._trace.span(ex)
        call = ex.inbound
        if call is None or not call.stream or call.data is None:
            return
        if ex.operation.request_type not in _ASK_USAGE:
            return
        options = call.data.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return
        call.data["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
        call.dirty = True
        self.strip_usage = True

    def attempt(self, ex: Exchange, headers: list[tuple[str, str]]) -> None:
        """An attempt's upstream request is being built: its trace context goes in."""
        if self._trace is not None:
            self._trace.attempt(ex, headers)

    def answer(self, body: bytes) -> None:
        """The upstream's whole JSON answer (a success) is about to be relayed."""
        # A span or the metrics want the model, id and finish reasons; the others usage alone.
        read_answer(self.facts, body, whole=self._trace is not None, capture=self._capture)

    def stream(self, inner: StreamTranslator) -> StreamTranslator:
        """The translator the relay uses instead of the family's own ``inner``."""
        tap = StreamTap(inner, self.facts, strip=self.strip_usage, capture=self._capture)
        self._tap = tap
        return tap

    def blocks(self, terminals: tuple[bytes, ...]) -> Callable[[bytes], bytes]:
        """For a stream relayed as it is: each block goes through this before it is sent."""
        tap = BlockTap(self.facts, terminals, strip=self.strip_usage, capture=self._capture)
        self._tap = tap
        return tap

    @property
    def _capture(self) -> bool:
        return self._trace is not None and self._trace.capture

    # -- at the end -----------------------------------------------------------------------------

    def finish(self, ex: Exchange) -> None:
        """The request is over (answered, failed, or its caller left): tell every observer."""
        try:
            self._finish(ex)
        except Exception:
            # An observer's bug must not become the request's: logged, never raised.
            logger.exception("azure-asgi: recording telemetry failed")

    def _finish(self, ex: Exchange) -> None:
        facts = self.facts
        tap = self._tap
        complete = True
        if tap is not None:
            tap.finish_reading()
            complete = tap.complete
            if isinstance(tap, StreamTap) and facts.usage is None and isinstance(tap.usage, dict):
                facts.usage = tap.usage  # the translator's own (Claude: from its events)
        counts = usage_counts(facts.usage) if facts.usage is not None else Counts()
        ex.usage = facts.usage
        status = ex.status or 499
        caller_left = ex.status == 0 or (ex.status < 400 and not complete)
        if self._usage is not None and ex.route is not None and ex.principal is not None:
            self._usage.emit(_record(ex, counts, status))
        if self._access:
            log_access(ex, counts, status)
        if self._trace is not None:
            error = None
            if ex.status >= 400:
                error = ex.error_code or str(ex.status)
            elif ex.status == 0:
                error = "caller_left"
            self._trace.finish(ex, facts, counts, error, caller_left)


def _record(ex: Exchange, counts: Counts, status: int) -> UsageRecord:
    target = ex.target
    route = ex.route
    assert route is not None
    first = ex.first_byte
    ended = ex.ended or time.perf_counter()
    return UsageRecord(
        principal=ex.principal,
        request_id=ex.request_id,
        request_type=route.operation.request_type,
        model=ex.extra.get("model_requested"),
        deployment=target.deployment if target is not None else None,
        resource=target.resource.name if target is not None else None,
        status=status,
        input_tokens=counts.input_tokens or 0,
        output_tokens=counts.output_tokens or 0,
        cached_tokens=counts.cached_tokens or 0,
        reasoning_tokens=counts.reasoning_tokens or 0,
        latency_ms=round((ended - ex.started) * 1000),
        ttft_ms=round((first - ex.started) * 1000) if first is not None else None,
        attempts=len(ex.attempts),
        stream=ex.inbound is not None and ex.inbound.stream,
    )
