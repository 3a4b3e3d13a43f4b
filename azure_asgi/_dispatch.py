"""Sending one call upstream: balancing, retries, resource failover and alias fallbacks.

The deadline (``timeout_s``) is enforced by the caller around :meth:`Dispatcher.send`; here every
wait is also bounded by it, so a ``retry-after`` longer than what is left ends the attempts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._calls import Call, StreamedBody
from ._config import RetryConfig
from ._resources import ApiVersions, Target
from ._transport import Transport, UpstreamError, UpstreamResponse

__all__ = ["BufferedResponse", "Dispatcher", "Outcome"]

logger = logging.getLogger("azure_asgi")

#: Statuses worth another attempt: throttling, timeouts and server-side failures.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})

_USER_AGENT = ("user-agent", "azure-asgi")
_JSON = ("content-type", "application/json")


class BufferedResponse:
    """An upstream error already read, kept to return if no later attempt does better."""

    __slots__ = ("body", "from_gateway", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        from_gateway: bool = False,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        #: True when no upstream answered: the error is the gateway's own (502).
        self.from_gateway = from_gateway

    async def iter_chunks(self):  # type: ignore[no-untyped-def]  # AsyncIterator[bytes]
        yield self.body

    async def read(self) -> bytes:
        return self.body

    async def aclose(self) -> None:
        return None


@dataclass(slots=True)
class Outcome:
    """What came back, and from which target."""

    response: UpstreamResponse
    target: Target


def _retry_after(headers: Sequence[tuple[bytes, bytes]]) -> float | None:
    for name, value in headers:
        try:
            if name == b"retry-after-ms":
                return float(value) / 1000
            if name == b"retry-after":
                return float(value)
        except ValueError:
            continue
    return None


class Dispatcher:
    def __init__(self, transport: Transport, retries: RetryConfig, versions: ApiVersions) -> None:
        self._transport = transport
        self._versions = versions
        self._max_attempts = retries.max_attempts
        self._initial = retries.initial_backoff_ms / 1000
        self._max = retries.max_backoff_ms / 1000

    async def send(
        self,
        call: Call,
        targets: Sequence[Target],
        deadline: float,
        resolve: Callable[[str], list[Target]],
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> Outcome:
        """Try ``targets``, then each fallback alias; if all fail, the primary's error wins."""
        outcome = await self._send_alias(call, targets, deadline, extra_headers)
        fallbacks = call.fallbacks or targets[0].fallbacks
        if outcome.response.status < 400 or outcome.response.status not in RETRYABLE:
            return outcome
        for alias in fallbacks:
            if time.monotonic() >= deadline:
                break
            logger.info("azure-asgi: falling back from %s to %s", call.model, alias)
            fallback = await self._send_alias(call, resolve(alias), deadline, extra_headers)
            if fallback.response.status < 400 or fallback.response.status not in RETRYABLE:
                return fallback
        return outcome

    async def _send_alias(
        self,
        call: Call,
        targets: Sequence[Target],
        deadline: float,
        extra_headers: Sequence[tuple[str, str]],
    ) -> Outcome:
        failed: Target | None = None
        last: BufferedResponse | None = None
        attempt = 0
        while attempt < self._max_attempts:
            attempt += 1
            target = self._pick(targets, avoid=failed)
            try:
                resp = await self._send_once(call, target, extra_headers)
            except UpstreamError as exc:
                logger.warning(
                    "azure-asgi: %s on resource %s (attempt %d)", exc, target.resource.name, attempt
                )
                last = BufferedResponse(502, [], _unreachable(target, exc), from_gateway=True)
                delay = None
            else:
                if resp.status not in RETRYABLE or attempt >= self._max_attempts:
                    return Outcome(resp, target)
                body = await resp.read()
                await resp.aclose()
                last = BufferedResponse(resp.status, resp.headers, body)
                delay = _retry_after(resp.headers)
            failed = target
            backoff = self._backoff(attempt, delay)
            target.resource.cooldown_until = time.monotonic() + max(backoff, self._initial)
            if attempt >= self._max_attempts:
                break
            # No wait when another healthy resource can take the next attempt right away.
            if not any(t.resource is not failed.resource and t.resource.healthy for t in targets):
                if time.monotonic() + backoff >= deadline:
                    break
                await asyncio.sleep(backoff)
        assert last is not None
        assert failed is not None
        return Outcome(last, failed)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self._max, self._initial * (2.0 ** (attempt - 1)))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security

    @staticmethod
    def _pick(targets: Sequence[Target], avoid: Target | None) -> Target:
        if len(targets) == 1:
            return targets[0]
        pool = [
            t
            for t in targets
            if t.resource.healthy and (avoid is None or t.resource is not avoid.resource)
        ]
        if not pool:
            pool = [
                t for t in targets if avoid is None or t.resource is not avoid.resource
            ] or list(targets)
        if len(pool) == 1:
            return pool[0]
        return random.choices(pool, weights=[t.resource.weight for t in pool])[0]  # noqa: S311

    async def _send_once(
        self, call: Call, target: Target, extra_headers: Sequence[tuple[str, str]]
    ) -> UpstreamResponse:
        resource = target.resource
        url, model_in_body = resource.request(call, target, self._versions)
        auth = await resource.auth.header(target.family)
        headers = [_USER_AGENT, auth, *extra_headers]
        body = call.body_for(target.deployment or None, rewrite_model=model_in_body)
        if isinstance(body, StreamedBody):
            assert call.upload is not None
            headers.append(("content-type", call.upload.content_type))
            headers.append(("content-length", str(body.length)))
        elif body is not None:
            headers.append(_JSON)
        method = call.match.operation.method
        return await self._transport.send(method, url, headers, body)


def _unreachable(target: Target, exc: UpstreamError) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": f"Resource '{target.resource.name}' could not be reached: {exc}.",
                "type": "api_error",
                "code": "upstream_unreachable",
                "param": None,
            }
        }
    ).encode()
