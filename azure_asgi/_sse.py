"""Server-Sent Events codec: parsing, encoding and finding event boundaries, all on bytes.

This module owns the ``text/event-stream`` wire format and nothing else: no I/O, no asyncio.
Parsing follows the WHATWG "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
with two deliberate deviations, both because a relay must never drop bytes:

* Every block ended by a blank line comes back as an :class:`SSEEvent`, including blocks a
  browser would not dispatch (comments such as ``: ping``, ``event:``-only or ``id:``-only blocks,
  stray blank lines). Those have ``has_data=False`` and ``data=""``; consumers that want the
  browser's view skip them.
* At end of stream, a final block that lacks its blank line is completed and returned (the
  spec discards it, but upstreams do end streams that way), including a partial last line.

A UTF-8 BOM at the very start of the stream is skipped for parsing but kept in the first event's
``raw``, so concatenating ``raw`` of every event returned reproduces the input exactly.
"""

from __future__ import annotations

from contextlib import suppress
from typing import NamedTuple

__all__ = ["SSEDecoder", "SSEEvent", "encode_event", "event_boundary"]

_BOM = b"\xef\xbb\xbf"
#: Bytes as ints, also for ``in``: ``_CR in data`` is a memchr, while ``b"\r" in data`` first
#: takes a buffer of the needle, ~2,000 instructions more a test (docs/performance.md).
_LF = 0x0A
_CR = 0x0D
_COLON = 0x3A
_SPACE = 0x20


class SSEEvent(NamedTuple):
    """One block of an event stream: the lines up to and including the blank line ending it.

    Immutable; a named tuple because one is made per upstream event on the translated-stream
    path, where a frozen dataclass's construction cost shows (docs/performance.md).
    """

    #: The ``data`` lines joined with ``"\\n"``; ``""`` when the block had none.
    data: str
    #: The ``event`` field, ``None`` when absent (a browser would report ``"message"``).
    event: str | None = None
    #: The ``id`` field of this block, ``None`` when absent or ignored (it contained NUL). The
    #: stream's last event ID (for ``Last-Event-ID`` on reconnect) is the latest non-None one.
    id: str | None = None
    #: The ``retry`` field (ASCII digits only, else ignored), ``None`` when absent.
    retry: int | None = None
    #: The exact bytes of this block as received, terminating blank line included.
    raw: bytes = b""
    #: Whether the block had at least one ``data`` line, i.e. whether a browser would dispatch
    #: it. ``data=""`` alone cannot tell: ``data:`` with an empty value dispatches ``""``.
    has_data: bool = True


def _text(value: bytes) -> str:
    # The spec decodes the stream as UTF-8 with replacement; doing it per value is the same,
    # since a malformed sequence never swallows the ASCII bytes (CR, LF, ':') that split fields.
    return value.decode("utf-8", "replace")


class SSEDecoder:
    """Incremental: feed(chunk) returns the events completed by that chunk, in order.

    Bytes are kept in two parts so no byte is scanned or copied more than a few times, however
    small the chunks: ``_parts`` holds the already parsed lines of the current block (needed for
    its ``raw``), ``_tail`` the chunks of the line not yet known to be complete.
    """

    __slots__ = ("_at_start", "_event", "_id", "_parts", "_retry", "_tail", "_values")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._at_start = True  # no byte seen yet: a BOM may still be arriving
        self._parts: list[bytes] = []
        self._tail: list[bytes] = []
        self._values: list[bytes] = []
        self._event: bytes | None = None
        self._id: bytes | None = None
        self._retry: int | None = None

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete event."""
        return b"".join(self._parts) + b"".join(self._tail)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk``, in order."""
        if not chunk:
            return []
        tail = self._tail
        if self._at_start:
            head = b"".join(tail) + chunk if tail else chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._tail = [head]
                return []
            self._at_start = False
            tail.clear()
            if head.startswith(_BOM):
                self._parts.append(_BOM)
                head = head[len(_BOM) :]
            return self._parse(head, final=False)
        if tail:
            # A trailing CR may be half of a CRLF, so the line it ends is settled only now.
            if tail[-1][-1] != _CR and _LF not in chunk and _CR not in chunk:
                tail.append(chunk)  # still inside one long line: nothing to parse yet
                return []
            tail.append(chunk)
            chunk = b"".join(tail)
            tail.clear()
        return self._parse(chunk, final=False)

    def end(self) -> list[SSEEvent]:
        """At end of stream: the events still pending, a final block lacking its blank line too.

        A trailing CR is then a line end, and a partial last line counts as a line. The decoder
        is left as new, ready for another stream.
        """
        rest = b"".join(self._tail)
        self._tail = []
        events = self._parse(rest, final=True) if rest else []
        if self._parts:
            raw = b"".join(self._parts)
            events.append(_event(self._values, self._event, self._id, self._retry, raw))
        self._reset()
        return events

    def _parse(self, data: bytes, *, final: bool) -> list[SSEEvent]:
        """Parse ``data``, which starts at a line start: whole simple blocks on the fast path,
        the rest line by line."""
        if self._parts or _CR in data:
            return self._parse_lines(data, final=final)
        end = data.rfind(b"\n\n")
        if end < 0:
            return self._parse_lines(data, final=final)
        events = _simple_blocks(data[:end])
        if events is None:
            return self._parse_lines(data, final=final)
        rest = data[end + 2 :]
        if rest:
            events.extend(self._parse_lines(rest, final=final))
        return events

    def _parse_lines(self, data: bytes, *, final: bool) -> list[SSEEvent]:
        """Parse ``data``, which starts at a line start, up to its last settled line.

        bytes.splitlines splits exactly at CRLF, LF and CR (unlike str.splitlines), so one C call
        finds every line; the Python loop runs per line, never per byte. The block's fields live
        in locals during the loop (this is the hot path) and go back to ``self`` at its end.
        """
        events: list[SSEEvent] = []
        lines = data.splitlines(keepends=True)
        rest = b""
        if not final and lines and lines[-1][-1] != _LF:
            # No terminator yet, or a CR that the next chunk may extend into a CRLF.
            rest = lines.pop()
        parts = self._parts
        values = self._values
        event = self._event
        id_ = self._id
        retry = self._retry
        start = pos = 0  # start: where the current block's bytes begin in data
        for line in lines:
            pos += len(line)
            first = line[0]
            if first in b"\r\n":  # a blank line ends the block
                raw = data[start:pos]
                if parts:
                    parts.append(raw)
                    raw = b"".join(parts)
                    parts.clear()
                events.append(_event(values, event, id_, retry, raw))
                values = []
                event = id_ = retry = None
                start = pos
                continue
            if first == _COLON:  # a comment
                continue
            content = line.rstrip(b"\r\n")
            if content.startswith(b"data: "):  # nearly every line of a chat stream
                values.append(content[6:])
                continue
            colon = content.find(b":")
            if colon < 0:  # the whole line is a field name, its value empty
                name = content
                value = b""
            else:
                name = content[:colon]
                colon += 1
                if colon < len(content) and content[colon] == _SPACE:
                    colon += 1  # one space after the colon is not part of the value
                value = content[colon:]
            if name == b"data":
                values.append(value)
            elif name == b"event":
                event = value
            elif name == b"id":
                if b"\x00" not in value:
                    id_ = value
            elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII digits only
                # More digits than int() converts (sys.get_int_max_str_digits) is as good as
                # malformed: ignored, never raised.
                with suppress(ValueError):
                    retry = int(value)
        self._values = values
        self._event = event
        self._id = id_
        self._retry = retry
        if start < pos:
            parts.append(data[start:pos])
        if rest:
            self._tail.append(rest)
        return events


def _simple_blocks(data: bytes) -> list[SSEEvent] | None:
    """The events of whole LF-ended blocks made only of ``event: `` and ``data: `` lines (what
    every upstream sends), or None when any block is anything else: then the line parser runs.

    ``data`` ends where the last block's blank line starts. One split per block instead of a
    loop step per line is what makes translated streams cheap to read (docs/performance.md).
    """
    events = []
    for block in data.split(b"\n\n"):
        if not block or block[0] == _LF:
            return None  # stray blank lines: the line parser reports them as it should
        values = []
        event = None
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                values.append(line[6:])
            elif line.startswith(b"event: ") and event is None:
                event = line[7:]
            else:
                return None
        events.append(_event(values, event, None, None, block + b"\n\n"))
    return events


def _event(
    values: list[bytes], event: bytes | None, id_: bytes | None, retry: int | None, raw: bytes
) -> SSEEvent:
    return SSEEvent(
        _text(b"\n".join(values)) if values else "",
        None if event is None else _text(event),
        None if id_ is None else _text(id_),
        retry,
        raw,
        bool(values),
    )


def event_boundary(buf: bytes) -> int:
    """Index just past the last complete event in buf (0 if none), for the zero-copy pass-through
    relay: it forwards buf[:i] untouched. Handles LF (``\\n\\n``), CRLF (``\\r\\n\\r\\n``),
    CR-only and mixed terminators, and answers at once in the common case (a chunk ending in
    ``b"\\n\\n"``).

    An event ends with a blank line: a line terminator (CRLF, LF or CR) right at a line start.
    ``buf`` is taken to start at a line start, as it does at the stream's start and after every
    boundary; a leading BOM is skipped, as at the stream's start. The answer always equals the
    total ``raw`` length of the events :meth:`SSEDecoder.feed` returns for ``buf``.
    """
    if buf[-2:] == b"\n\n" or buf[-4:] == b"\r\n\r\n":  # (slices: cheaper than endswith)
        return len(buf)
    # A trailing CR is not a settled line end: the next byte may make it a CRLF.
    stop = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
    # A blank line is a terminator whose first byte follows a terminator's last byte. Since a
    # CR followed by LF is one terminator, the pairs that can meet there are LF LF, LF CR, CR CR.
    best = 0
    i = buf.rfind(b"\n\n", 0, stop)
    if i >= 0:
        best = i + 2
    for pair in (b"\n\r", b"\r\r"):
        # Matches before best - 1 end before best; only later ones can move the boundary.
        i = buf.rfind(pair, max(best - 1, 0), stop)
        if i >= 0:
            end = i + 3 if buf[i + 2 : i + 3] == b"\n" else i + 2
            best = max(best, end)
    if best == 0:  # perhaps a blank line at the very start of buf, after a BOM if any
        first = len(_BOM) if buf.startswith(_BOM) else 0
        if first < stop:
            if buf[first] == _LF:
                best = first + 1
            elif buf[first] == _CR:
                best = first + 2 if buf[first + 1] == _LF else first + 1
    return best


def _field(name: str, value: str) -> bytes:
    # A CR or LF would end the field early and inject another one; a NUL makes receivers
    # ignore an id. Neither can be sent, so refuse rather than send something else.
    if "\r" in value or "\n" in value or (name == "id" and "\x00" in value):
        raise ValueError(f"an SSE {name} cannot contain CR, LF or (for id) NUL: {value!r}")
    return f"{name}: {value}\n".encode()


def encode_event(data: str | bytes, *, event: str | None = None, id: str | None = None) -> bytes:
    """`event: x\\n` (if given) + one `data: ` line per line of data + `\\n` terminator. LF only.

    ``id: x\\n`` follows ``event`` when given. Bytes ``data`` is taken as UTF-8 already. Lines of
    ``data`` may end in CRLF, LF or CR: each becomes one ``data:`` line, so it decodes back with
    LF joins (SSE cannot carry a CR in data). Raises :class:`ValueError` for an ``event`` or
    ``id`` that the format cannot carry.
    """
    body = data.encode() if isinstance(data, str) else data
    if _CR in body:
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    out = b"data: " + body.replace(b"\n", b"\ndata: ") + b"\n\n"
    if id is not None:
        out = _field("id", id) + out
    if event is not None:
        out = _field("event", event) + out
    return out
