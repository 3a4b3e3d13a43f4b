"""Sending one request upstream: balancing, retries, cooldown, failover and alias fallbacks.

The dispatcher only sends: each attempt's request is built by the target's family adapter, and
what comes back is an :class:`Answer` worth relaying or a :class:`GatewayError` value, never an
exception for an upstream failure. An answer is taken only once it is known to be relayable: a
JSON body read whole, an event stream's first event received. A break before that is one more
failed attempt, retried or failed over like any other. Every wait is bounded by the request's
deadline (``timeout_s``), which the caller holds around :meth:`Dispatcher.send`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ._catalog import Target
from ._config import RetryConfig
from ._errors import GatewayError
from ._exchange import Attempt, Exchange
from ._sse import event_boundary
from ._transport import Transport, UpstreamError, UpstreamResponse
from .families import Adapter

__all__ = ["Answer", "Dispatcher", "Outcome", "content_kind"]

logger = logging.getLogger("azure_asgi")

Kind = Literal["json", "sse", "bytes"]


@dataclass(slots=True)
class Answer:
    """An upstream answer to relay: a success, or the error kept after every attempt failed.

    JSON and errors are read whole (``body``). A stream's ``body`` is what arrived up to and
    including its first complete event; ``chunks`` yields the rest, and ``response`` must be
    closed once relayed.
    """

    target: Target
    #: The target's family adapter, which shapes this answer for the caller.
    adapter: Adapter
    status: int
    headers: list[tuple[bytes, bytes]]
    kind: Kind
    body: bytes = b""
    response: UpstreamResponse | None = None
    chunks: AsyncIterator[bytes] | None = None

    async def aclose(self) -> None:
        if self.response is not None:
            await self.response.aclose()


Outcome = Answer | GatewayError


def content_kind(headers: Sequence[tuple[bytes, bytes]]) -> Kind:
    """How an answer is relayed: whole JSON (with extra_fields), SSE events, or raw bytes."""
    content_type = b""
    for name, value in headers:
        if name == b"content-type":
            content_type = value
            break
    if content_type.startswith(b"text/event-stream"):
        return "sse"
    # (find, not `in`: a bytes `in` first tries the needle as an int, and pays for the error.)
    if content_type.find(b"json") >= 0:
        return "json"
    return "bytes"


class _Refused(Exception):
    """The adapter cannot express this request for the target's family (nothing was sent)."""

    def __init__(self, error: GatewayError) -> None:
        self.error = error


class _Failed(Exception):
    """An attempt that failed before any answer could be relayed."""

    def __init__(self, error: Outcome, reason: str, retry_after: float | None = None) -> None:
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


class Dispatcher:
    def __init__(
        self,
        transport: Transport,
        retries: RetryConfig,
        adapters: Mapping[str, Adapter],
        resolve: Callable[[Exchange, str], list[Target]],
    ) -> None:
        self._transport = transport
        self._adapters = adapters
        #: Targets of a fallback alias for this exchange (the catalog's, or a direct endpoint's).
        self._resolve = resolve
        self._max_attempts = retries.max_attempts
        self._initial = retries.initial_backoff_ms / 1000
        self._max = retries.max_backoff_ms / 1000
        self._max_cooldown = retries.max_cooldown_s

    async def send(self, ex: Exchange) -> Outcome:
        """Try ``ex.targets``, then each fallback alias; if all fail, the primary's error wins."""
        targets = ex.targets
        outcome = await self._send_alias(ex, targets)
        if not self._failed(outcome):
            return outcome
        assert ex.inbound is not None
        for alias in ex.inbound.fallbacks or targets[0].fallbacks:
            if ex.deadline.left() <= 0:
                break
            fallback_targets = self._resolve(ex, alias)
            if not fallback_targets:
                continue
            logger.info("azure-asgi: falling back from %s to %s", ex.inbound.model, alias)
            fallback = await self._send_alias(ex, fallback_targets)
            if isinstance(fallback, GatewayError) and fallback.status < 500:
                # This fallback's family cannot take the request as sent: skip it.
                continue
            if not self._failed(fallback):
                return fallback
        return outcome

    def _failed(self, outcome: Outcome) -> bool:
        """Whether another alias may do better: no answer, or a retryable upstream status.

        A request refused as inexpressible for the family (a 4xx of the gateway's own) is the
        caller's to fix, and is final.
        """
        if isinstance(outcome, GatewayError):
            return outcome.status >= 500
        return outcome.status >= 400 and outcome.status in outcome.adapter.retryable

    async def _send_alias(self, ex: Exchange, targets: Sequence[Target]) -> Outcome:
        failed: Target | None = None
        last: Outcome | None = None
        attempt = 0
        while attempt < self._max_attempts:
            attempt += 1
            target = self._pick(targets, avoid=failed)
            record = Attempt(target, time.perf_counter())
            ex.attempts.append(record)
            try:
                answer = await self._attempt(ex, target, last_chance=attempt >= self._max_attempts)
            except _Refused as refused:
                ex.attempts.pop()  # nothing was sent
                return refused.error
            except _Failed as failure:
                record.ended = time.perf_counter()
                record.retry_reason = failure.reason
                if isinstance(failure.error, Answer):
                    record.status = failure.error.status
                last = failure.error
                delay = failure.retry_after
            else:
                record.ended = time.perf_counter()
                record.status = answer.status
                return answer
            failed = target
            backoff = self._backoff(attempt, delay)
            cooldown = min(max(backoff, self._initial), self._max_cooldown)
            target.resource.cool_down(cooldown)
            if attempt >= self._max_attempts:
                break
            # No wait when another healthy resource can take the next attempt right away.
            if not any(t.resource is not target.resource and t.resource.healthy for t in targets):
                if backoff >= ex.deadline.left():
                    break
                await asyncio.sleep(backoff)
        assert last is not None
        return last

    async def _attempt(self, ex: Exchange, target: Target, *, last_chance: bool) -> Answer:
        """One try on ``target``: an answer to relay, or :class:`_Failed`."""
        adapter = self._adapters[target.family]
        resource = target.resource
        try:
            auth = await resource.auth.header(target.family)
        except Exception as exc:
            # A credential outage (bad secret, identity endpoint down) is this resource's
            # failure like any other: named, never with the secret, and failed over.
            logger.warning(
                "azure-asgi: %s credential of resource %s failed: %s (attempt %d)",
                resource.auth_method,
                resource.name,
                type(exc).__name__,
                len(ex.attempts),
            )
            error = GatewayError(
                502,
                f"The gateway could not authenticate to resource '{resource.name}' "
                f"({resource.auth_method} credential: {type(exc).__name__}). Check that "
                "resource's auth settings.",
                code="upstream_auth_failed",
            )
            raise _Failed(error, "auth_failed") from None
        try:
            request = adapter.prepare(ex, target, auth)
        except GatewayError as exc:
            raise _Refused(exc) from None
        try:
            resp = await self._transport.send(request)
        except UpstreamError as exc:
            # One line per attempt: retries of one request share its request id.
            logger.warning(
                "azure-asgi: %s on resource %s (attempt %d)", exc, resource.name, len(ex.attempts)
            )
            error = GatewayError(
                502,
                f"Resource '{resource.name}' could not be reached: {exc}.",
                code="upstream_unreachable",
            )
            raise _Failed(error, "unreachable") from None
        try:
            return await self._take(ex, target, adapter, resp, last_chance)
        except BaseException:
            await resp.aclose()
            raise

    async def _take(
        self,
        ex: Exchange,
        target: Target,
        adapter: Adapter,
        resp: UpstreamResponse,
        last_chance: bool,
    ) -> Answer:
        status = resp.status
        resource = target.resource.name
        if 300 <= status < 400:
            # Never followed (docs/security.md): the target would receive the credential and
            # body meant for this resource. A resource that redirects cannot serve: fail over.
            await resp.aclose()
            error = GatewayError(
                502,
                f"Resource '{resource}' answered with a redirect (HTTP {status}), which the "
                "gateway does not follow. Check the resource's endpoint in the gateway config.",
                code="upstream_redirect",
            )
            raise _Failed(error, "redirect")
        kind = content_kind(resp.headers)
        if status >= 400:
            body = await self._read(resp, resource)
            answer = Answer(target, adapter, status, resp.headers, "json", body)
            if status in adapter.retryable and not last_chance:
                raise _Failed(answer, f"status_{status}", _retry_after(resp.headers))
            return answer
        if kind == "json":
            body = await self._read(resp, resource)
            return Answer(target, adapter, status, resp.headers, kind, body)
        if kind == "bytes":
            return Answer(target, adapter, status, resp.headers, kind, response=resp)
        chunks = resp.iter_chunks()
        head = b""
        try:
            # Hold the answer until its first whole event: a break before it is retried.
            async for chunk in chunks:
                head += chunk
                if event_boundary(head):
                    break
        except UpstreamError as exc:
            raise _Failed(_broke(resource, exc), "broke_off") from None
        if not head or head.isspace():  # (no stripped copy of what may be kilobytes)
            raise _Failed(_broke(resource, "no event before the stream ended"), "broke_off")
        return Answer(target, adapter, status, resp.headers, kind, head, resp, chunks)

    @staticmethod
    async def _read(resp: UpstreamResponse, resource: str) -> bytes:
        try:
            return await resp.read()
        except UpstreamError as exc:
            raise _Failed(_broke(resource, exc), "broke_off") from None
        finally:
            await resp.aclose()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_cooldown)
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


def _broke(resource: str, why: object) -> GatewayError:
    return GatewayError(
        502, f"The answer from resource '{resource}' broke off: {why}.", code="stream_interrupted"
    )


def _retry_after(headers: Sequence[tuple[bytes, bytes]]) -> float | None:
    """Seconds the upstream asked to wait, if it said so in a form that makes sense."""
    for name, value in headers:
        try:
            if name == b"retry-after-ms":
                seconds = float(value) / 1000
            elif name == b"retry-after":
                seconds = float(value)
            else:
                continue
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        # `inf`, `nan` or negative: wait as long as the cooldown cap allows, no longer.
        return math.inf if seconds > 0 else None
    return None
