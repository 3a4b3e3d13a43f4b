"""What observers read from an answer: usage, response id and model, finish reasons, content.

Only built when an observer is on (docs/observability.md). A JSON answer is parsed once, from
the upstream's bytes. A stream goes through :class:`StreamTap`, a :class:`StreamTranslator`
around the family's own translator (or around the pass-through): events whose bytes may carry
usage are parsed, the others are only scanned. When the gateway itself asked a Chat
Completions or Completions upstream for ``stream_options.include_usage``, the tap removes what
that added (the final usage chunk, ``"usage":null`` in every other chunk), so the caller's
stream is byte for byte what it would have been.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import _json
from ._content import StreamText, output_messages
from ._usage import find_usage, merge_usage

if TYPE_CHECKING:
    from ._sse import SSEEvent
    from .families import StreamTranslator

__all__ = ["Facts", "StreamTap", "read_answer"]

# One C-level search per event: the marks of an event worth parsing (a usage object, a
# finish reason, an Anthropic stop reason), of the usage chunk, and of the nulls it added.
_WORTH_READING = re.compile(rb'"usage": ?\{|"(?:finish|stop)_reason": ?"')
_USAGE_CHUNK = re.compile(rb'"usage": ?\{')
_EMPTY_CHOICES = re.compile(rb'"choices": ?\[\]')
_NULL_USAGE = re.compile(rb',"usage": ?null|"usage": ?null,')
_BLANK_ENDS = (b"\n\n", b"\r\r", b"\r\n\r\n")


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


class StreamTap:
    """A :class:`StreamTranslator` that reads a stream on its way to the caller."""

    __slots__ = ("_capture", "_complete", "_facts", "_inner", "_strip", "_terminals", "_text")

    def __init__(
        self,
        inner: StreamTranslator | None,
        terminals: tuple[bytes, ...],
        facts: Facts,
        *,
        strip: bool,
        capture: bool,
    ) -> None:
        self._inner = inner
        self._terminals = terminals
        self._facts = facts
        #: The gateway asked for include_usage: what that added is removed.
        self._strip = strip
        self._capture = capture
        self._text = StreamText() if capture else None
        self._complete = not terminals

    @property
    def complete(self) -> bool:
        return self._inner.complete if self._inner is not None else self._complete

    @complete.setter
    def complete(self, value: bool) -> None:
        self._complete = value

    @property
    def failure(self) -> tuple[int, dict[str, Any]] | None:
        return getattr(self._inner, "failure", None)

    @failure.setter
    def failure(self, value: tuple[int, dict[str, Any]] | None) -> None:
        if self._inner is not None:
            self._inner.failure = value

    @property
    def usage(self) -> object:
        return getattr(self._inner, "usage", None)

    def feed(self, event: SSEEvent) -> list[bytes]:
        raw = event.raw
        if self._capture or _WORTH_READING.search(raw):
            self._read(event.data, raw)
        if self._inner is not None:
            out = self._inner.feed(event)
        else:
            if not self._complete:
                for terminal in self._terminals:
                    if terminal in raw:
                        self._complete = True
            if not raw.endswith(_BLANK_ENDS):
                # A final event without its blank line: completed, as the pass-through does.
                raw = raw.rstrip(b"\r\n") + b"\n\n"
            out = [raw]
        return self._stripped(out) if self._strip else out

    def end(self) -> list[bytes]:
        out = self._inner.end() if self._inner is not None else []
        if self._text is not None:
            self._facts.output = self._text.messages(self._facts.finish_reasons)
        return self._stripped(out) if self._strip else out

    def _read(self, data: str, raw: bytes) -> None:
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

    @staticmethod
    def _stripped(pieces: list[bytes]) -> list[bytes]:
        out = []
        for piece in pieces:
            if _USAGE_CHUNK.search(piece) and _EMPTY_CHOICES.search(piece):
                continue  # the usage chunk the caller did not ask for
            out.append(_NULL_USAGE.sub(b"", piece))
        return out
