"""What observers read from an answer: usage, response id and model, finish reasons, content.

Only built when an observer is on (docs/observability.md). A JSON answer's usage (or, for a
span, the whole answer) is parsed once, from the upstream's bytes. A relayed stream's blocks
go through :class:`BlockTap`, a translated stream's events through :class:`StreamTap` around
the family's translator: what may carry usage or a finish reason is parsed, the rest is only
searched. When the gateway itself asked a Chat Completions or Completions upstream for
``stream_options.include_usage``, the taps remove what that added (the final usage chunk,
``"usage":null`` in every other chunk), so the caller's stream is byte for byte what it would
have been.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import _json
from ._content import StreamText, output_messages
from ._sse import SSEDecoder
from ._usage import find_usage, merge_usage

if TYPE_CHECKING:
    from ._sse import SSEEvent
    from .families import StreamTranslator

__all__ = ["BlockTap", "Facts", "StreamTap", "read_answer"]

# One C-level search per event: the marks of an event worth parsing (a usage object, a
# finish reason, an Anthropic stop reason), of the usage chunk, and of the nulls it added.
_WORTH_READING = re.compile(rb'"usage": ?\{|"(?:finish|stop)_reason": ?"')
_USAGE_CHUNK = re.compile(rb'"usage": ?\{')
_EMPTY_CHOICES = re.compile(rb'"choices": ?\[\]')
_NULL_USAGE = re.compile(rb',"usage": ?null|"usage": ?null,')


class Facts:
    """What one answer told the observers (filled by :func:`read_answer` or the tap)."""

    __slots__ = ("finish_reasons", "output", "response_id", "response_model", "usage")

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.finish_reasons: list[str] = []
        #: The upstream's usage object (merged over a stream's events), if it sent one.
        self.usage: dict[str, Any] | None = None
        #: Output messages in the GenAI conventions' shape, when content is captured.
        self.output: list[dict[str, Any]] | None = None

    def take(self, data: dict[str, Any]) -> None:
        """Read one answer body or stream event (already parsed)."""
        inner = data
        for key in ("response", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                inner = value
                break
        ident, model = inner.get("id"), inner.get("model")
        if isinstance(ident, str) and ident:
            self.response_id = ident
        if isinstance(model, str) and model:
            self.response_model = model
        usage = inner.get("usage")
        if isinstance(usage, dict):
            if self.usage is None:
                self.usage = {}
            merge_usage(self.usage, usage)
        self._finish(data, inner)

    def _finish(self, data: dict[str, Any], inner: dict[str, Any]) -> None:
        choices = data.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                    self.finish_reasons.append(choice["finish_reason"])
            return
        # Anthropic: the message's stop_reason, or a message_delta's delta.stop_reason.
        for holder in (inner, data.get("delta")):
            if isinstance(holder, dict) and isinstance(holder.get("stop_reason"), str):
                self.finish_reasons = [holder["stop_reason"]]
                return
        # Responses: incomplete_details.reason (max_output_tokens...), else its status.
        if inner.get("object") == "response" and isinstance(inner.get("status"), str):
            details = inner.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            self.finish_reasons = [reason if isinstance(reason, str) else inner["status"]]


def read_answer(facts: Facts, body: bytes, *, whole: bool, capture: bool) -> None:
    """Read a JSON answer (upstream bytes): only its ``usage`` unless ``whole`` (a span wants
    the id, model and finish reasons too); a body that is not a JSON object is skipped."""
    if not whole:
        facts.usage = find_usage(body)
        return
    try:
        data = _json.loads(body)
    except ValueError:
        return
    if isinstance(data, dict):
        facts.take(data)
        if capture:
            facts.output = output_messages(data)


def _strip(piece: bytes) -> bytes:
    """``piece`` without what asking for ``include_usage`` added: the usage chunk, the nulls."""
    if b'"usage"' not in piece:
        return piece
    if _USAGE_CHUNK.search(piece) and _EMPTY_CHOICES.search(piece):
        piece = b"".join(e.raw for e in _events(piece) if not _is_usage_chunk(e.raw))
    if b',"usage":null' in piece:
        piece = piece.replace(b',"usage":null', b"")
    return _NULL_USAGE.sub(b"", piece) if b'"usage"' in piece else piece


def _events(block: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return [*decoder.feed(block), *decoder.end()]


def _is_usage_chunk(raw: bytes) -> bool:
    return bool(_USAGE_CHUNK.search(raw) and _EMPTY_CHOICES.search(raw))


class _Reader:
    """Parses the events worth it into the facts (all of them when content is captured)."""

    __slots__ = ("_capture", "_facts", "_text")

    def __init__(self, facts: Facts, capture: bool) -> None:
        self._facts = facts
        self._capture = capture
        self._text = StreamText() if capture else None

    def read(self, data: str) -> None:
        if not data or data == "[DONE]":
            return
        try:
            parsed = _json.loads(data)
        except ValueError:
            return
        if isinstance(parsed, dict):
            self._facts.take(parsed)
            if self._text is not None:
                self._text.feed(parsed)

    def finish_reading(self) -> None:
        """At the stream's end (or its caller's departure): the captured output, if any."""
        if self._text is not None:
            self._facts.output = self._text.messages(self._facts.finish_reasons)


class BlockTap(_Reader):
    """For a stream relayed as it is: sees each event-aligned block before it is sent, and
    returns what to send. A block is one C-level search unless it holds what observers want
    (a usage object, a finish reason: a few events per stream), which only is decoded."""

    __slots__ = ("_strip", "_terminals", "complete")

    def __init__(
        self, facts: Facts, terminals: tuple[bytes, ...], *, strip: bool, capture: bool
    ) -> None:
        super().__init__(facts, capture)
        self._terminals = terminals
        #: Whether a block held one of the stream's terminal events.
        self.complete = not terminals
        #: The gateway asked for include_usage: what that added is removed.
        self._strip = strip

    def __call__(self, block: bytes) -> bytes:
        if not self.complete:
            for terminal in self._terminals:
                if terminal in block:
                    self.complete = True
        if self._capture or _WORTH_READING.search(block):
            for event in _events(block):
                if self._capture or _WORTH_READING.search(event.raw):
                    self.read(event.data)
        return _strip(block) if self._strip else block


class StreamTap(_Reader):
    """A :class:`StreamTranslator` around the family's own: reads each upstream event on its
    way in, and strips what the gateway asked for from what the translator makes of it."""

    __slots__ = ("_inner", "_strip")

    def __init__(
        self, inner: StreamTranslator, facts: Facts, *, strip: bool, capture: bool
    ) -> None:
        super().__init__(facts, capture)
        self._inner = inner
        self._strip = strip

    @property
    def complete(self) -> bool:
        return self._inner.complete

    @complete.setter
    def complete(self, value: bool) -> None:
        self._inner.complete = value

    @property
    def failure(self) -> tuple[int, dict[str, Any]] | None:
        return self._inner.failure

    @failure.setter
    def failure(self, value: tuple[int, dict[str, Any]] | None) -> None:
        self._inner.failure = value

    @property
    def usage(self) -> object:
        """The translator's own usage (Claude's, merged from its events), if it keeps one."""
        return getattr(self._inner, "usage", None)

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._capture or _WORTH_READING.search(event.raw):
            self.read(event.data)
        out = self._inner.feed(event)
        return [p for p in map(_strip, out) if p] if self._strip else out

    def end(self) -> list[bytes]:
        out = self._inner.end()
        return [p for p in map(_strip, out) if p] if self._strip else out
