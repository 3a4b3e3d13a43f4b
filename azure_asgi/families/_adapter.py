"""What a model family's adapter does: the interface the dispatcher and the relay call.

An adapter knows how one family's deployments are called and answered; nothing else in the
gateway does. The OpenAI adapter is (almost) the identity: caller bytes pass untouched where
they can. A family that speaks another wire format (Claude's Messages API) translates the
request in :meth:`Adapter.prepare`, the JSON answer in :meth:`Adapter.answer` and the event
stream in a :class:`StreamTranslator`, all pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._catalog import Target
    from .._exchange import Exchange
    from .._sse import SSEEvent
    from .._transport import UpstreamRequest

__all__ = ["Adapter", "StreamTranslator"]


class StreamTranslator(Protocol):
    """Turns the upstream's events into the caller's, one event at a time (never buffered)."""

    #: True once the upstream's stream reached an event that ends a complete answer.
    complete: bool
    #: The upstream's own in-stream error, as ``(status, contract error object)``, when its
    #: stream reported one (Anthropic's ``event: error``); the relay ends the caller's stream
    #: with it instead of a generic ``stream_interrupted``. None otherwise.
    failure: tuple[int, dict[str, Any]] | None

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The caller's encoded events for one upstream event (often one, maybe none)."""
        ...

    def end(self) -> list[bytes]:
        """Events to send when the upstream's stream ended (after :attr:`complete` is final)."""
        ...


class Adapter(Protocol):
    #: The family name, as in config (``openai``, ``anthropic``).
    family: str
    #: Upstream statuses worth another attempt (throttling, overload, server failures).
    retryable: frozenset[int]

    def prepare(self, ex: Exchange, target: Target, auth: tuple[str, str]) -> UpstreamRequest:
        """The whole upstream request for one attempt on ``target`` (called again per attempt,
        so an upload replays from its start)."""
        ...

    def answer(self, ex: Exchange, target: Target, body: bytes) -> bytes:
        """The caller's JSON for the upstream's successful JSON answer, ``extra_fields`` in."""
        ...

    def error(self, ex: Exchange, status: int, body: bytes) -> dict[str, Any]:
        """The upstream's error as the ``error`` object of the caller's API (its own fields
        kept): the contract's, or Anthropic's on the ``/anthropic`` routes."""
        ...

    def translator(self, ex: Exchange, target: Target) -> StreamTranslator | None:
        """A translator for the upstream's event stream, or None to relay its bytes as they
        are (event-aligned, zero-copy)."""
        ...

    def terminals(self, ex: Exchange) -> tuple[bytes, ...]:
        """For relayed bytes: markers one of which the last event holds when complete."""
        ...
