"""Usage records: token counts read from any upstream ``usage`` shape, and ``on_usage``.

:func:`usage_counts` is pure and reads every shape the gateway relays: Chat Completions and
Completions (``prompt_tokens``...), Responses and embeddings, and Anthropic's Messages API
(``input_tokens`` plus its cache counters), whole answers or the bare ``usage`` object. One
:class:`UsageRecord` per routed request goes to the ``on_usage`` hook, from a task the gateway
tracks, so a slow or failing hook never delays or fails an answer (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

if TYPE_CHECKING:
    from ._callers import Principal

__all__ = [
    "Counts",
    "UsageHook",
    "UsageHooks",
    "UsageRecord",
    "find_usage",
    "merge_usage",
    "usage_counts",
]

logger = logging.getLogger("azure_asgi")


@dataclass(frozen=True, slots=True)
class Counts:
    """Token counts of one answer; None where the upstream said nothing."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


_NONE = Counts()


def _int(value: object) -> int | None:
    # bool is an int subclass; a usage object never means True as a count.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _detail(usage: dict[str, Any], field: str, key: str) -> int | None:
    details = usage.get(field)
    return _int(details.get(key)) if isinstance(details, dict) else None


def usage_counts(obj: object) -> Counts:
    """The counts in ``obj``: an answer body (chat, completions, embeddings, Responses,
    Anthropic message), a stream event holding one (``response``/``message``), or a ``usage``.

    Anthropic's ``input_tokens`` leaves out cached tokens; they are added back so that
    ``input_tokens`` means every token of the input whatever the family (and ``cached_tokens``
    how many of them were read from the cache).
    """
    if not isinstance(obj, dict):
        return _NONE
    data: dict[str, Any] = obj
    usage = data.get("usage")
    if isinstance(usage, dict):
        data = usage
    else:
        for key in ("response", "message"):
            inner = data.get(key)
            if isinstance(inner, dict) and isinstance(inner.get("usage"), dict):
                data = inner["usage"]
                break
    return _counts(data)


def _counts(obj: dict[str, Any]) -> Counts:
    if "prompt_tokens" in obj or "completion_tokens" in obj:
        return Counts(
            _int(obj.get("prompt_tokens")),
            _int(obj.get("completion_tokens")),
            _detail(obj, "prompt_tokens_details", "cached_tokens"),
            _detail(obj, "completion_tokens_details", "reasoning_tokens"),
        )
    if "cache_read_input_tokens" in obj or "cache_creation_input_tokens" in obj:
        base = _int(obj.get("input_tokens"))
        read = _int(obj.get("cache_read_input_tokens"))
        created = _int(obj.get("cache_creation_input_tokens"))
        total = None if base is None else base + (read or 0) + (created or 0)
        return Counts(total, _int(obj.get("output_tokens")), read, None)
    if "input_tokens" in obj or "output_tokens" in obj:
        return Counts(
            _int(obj.get("input_tokens")),
            _int(obj.get("output_tokens")),
            _detail(obj, "input_tokens_details", "cached_tokens"),
            _detail(obj, "output_tokens_details", "reasoning_tokens"),
        )
    return _NONE


_DECODER = json.JSONDecoder()


def find_usage(body: bytes) -> dict[str, Any] | None:
    """A JSON answer's ``usage`` object, parsed alone (not the whole body, which may be
    megabytes of embeddings): the last ``"usage"`` key's value, when it is an object.

    The last one is the answer's own in every upstream shape (it follows the choices, output
    or content; a key inside a string would be escaped). None when there is none.
    """
    at = body.rfind(b'"usage"')
    if at < 0:
        return None
    tail = body[at + 7 :].decode("utf-8", "replace")
    colon = tail.find(":")
    if colon < 0 or tail[:colon].strip():
        return None
    start = colon + 1
    while start < len(tail) and tail[start] in " \t\r\n":
        start += 1
    try:
        value, _ = _DECODER.raw_decode(tail, start)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def merge_usage(into: dict[str, Any], usage: object) -> None:
    """Fold a later ``usage`` into an earlier one (Anthropic's ``message_start`` then
    ``message_delta``): later non-null values win, earlier fields the later lacks stay."""
    if isinstance(usage, dict):
        into.update((k, v) for k, v in usage.items() if v is not None)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one routed request used, as ``on_usage(record)`` receives it (once per request).

    Token counts come from the upstream's ``usage`` (0 where it gave none: a failure, or a
    stream its caller left before the end). ``input_tokens`` includes ``cached_tokens``;
    ``output_tokens`` includes ``reasoning_tokens``. ``ttft_ms`` is set for streams only.
    """

    principal: Principal | None
    request_id: str
    request_type: str
    #: The model (alias) the caller asked for.
    model: str | None
    deployment: str | None
    resource: str | None
    #: The HTTP status the caller got (499: the caller left before an answer).
    status: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency_ms: int
    ttft_ms: int | None
    #: Upstream attempts made, retries and fallbacks included.
    attempts: int
    stream: bool


UsageHook = Callable[[UsageRecord], "Awaitable[None] | None"]


class UsageHooks:
    """Runs ``on_usage`` off the answer's path: one tracked task per record."""

    __slots__ = ("_hook", "_tasks")

    def __init__(self, hook: UsageHook) -> None:
        is_async = inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
            getattr(hook, "__call__", None)  # noqa: B004 - an async __call__ object
        )
        # A sync hook may block (a database write): it runs in a thread, never on the loop.
        self._hook: Callable[[UsageRecord], Any] = hook if is_async else sync_to_async(hook)
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, record: UsageRecord) -> None:
        """Schedule the hook for ``record``; returns at once."""
        task = asyncio.get_running_loop().create_task(self._run(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, record: UsageRecord) -> None:
        try:
            result = self._hook(record)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            # Never the record itself: it names the caller. The request id finds it.
            logger.error(
                "azure-asgi: on_usage failed for request %s: %s",
                record.request_id,
                type(exc).__name__,
                exc_info=True,
            )

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Wait for the records still being delivered, then cancel what outlives ``timeout_s``."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            logger.warning("azure-asgi: %d on_usage calls cancelled at close", len(late))
