"""Messages API event stream -> ``chat.completion.chunk`` events (:class:`ChatStream`), one
upstream event at a time. Pure state machine, no I/O (docs/claude.md, "Streaming").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ... import _json
from ..._sse import SSEDecoder, SSEEvent, encode_event
from ._common import JSON_TOOL, chat_usage, error_object, error_status, finish_reason, text_field

__all__ = ["ChatStream"]

_NO_FINISH = b',"finish_reason":null,"logprobs":null}]}'
#: What ends a chunk of ``delta.content``.
_TEXT_CLOSE = b'"}' + _NO_FINISH + b"\n\n"
#: A text delta as the Messages API writes it, around its text's JSON string literal.
_TEXT_HEAD = '{"type":"content_block_delta","index":'
_TEXT_MID = ',"delta":{"type":"text_delta","text":"'
_DONE = b"data: [DONE]\n\n"
#: What follows the front of the first chunk: the role, and no text yet.
_ROLE = b'{"role":"assistant","content":""}' + _NO_FINISH + b"\n\n"
#: What follows the front of a stream's last choice chunk, by finish reason: the empty delta,
#: the reason, and the chunk's end.
_FINISHES = {
    reason: b'{},"finish_reason":"' + reason.encode() + b'","logprobs":null}]}\n\n'
    for reason in ("stop", "length", "tool_calls", "content_filter")
}
#: The same text delta as a whole LF-ended block, for :meth:`ChatStream.feed_raw`.
_RAW_HEAD = b"event: content_block_delta\ndata: " + _TEXT_HEAD.encode()
_RAW_MID = _TEXT_MID.encode()
_RAW_TAIL = b'"}}'
_RAW_DATA = b"\ndata: "
_RAW_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":'
_RAW_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}'
_RAW_TEXT_START = re.compile(
    rb'event: content_block_start\ndata: \{"type":"content_block_start","index":(\d{1,9}),'
    rb'"content_block":\{"type":"text","text":""\}\}'
)
#: The usual text block start, told by equality before the pattern is tried.
_RAW_TEXT_START_0 = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}'
)
#: message_start with a plain id: only the id is read (its group keeps the quotes: a plain
#: id's JSON as it is); its ``usage`` is read from the whole event if someone asks.
_RAW_MESSAGE_START = re.compile(
    rb'event: message_start\ndata: \{"type":"message_start","message":\{"id":("[\w-]{1,128}")'
)
#: message_delta as the API sends it at the end: the stop reason and the usage, read alone.
#: (One match costs half of what cutting it apart with bytes methods did.)
_RAW_MESSAGE_DELTA = re.compile(
    rb'event: message_delta\ndata: \{"type":"message_delta","delta":\{'
    rb'"stop_reason":"([a-z_]{1,40})","stop_sequence":null\},"usage":(\{[^\n]*\})\}'
)
#: Bytes looked for as ints: ``34 in data`` is a memchr, while ``b'"' in data`` first takes
#: the needle's buffer, ~2,000 instructions more for each test (docs/performance.md).
_QUOTE, _BACKSLASH, _LF = 0x22, 0x5C, 0x0A
#: A JSON string literal's body on one line: no quote, backslash or line break but in escapes.
_LITERAL = re.compile(rb'[^"\\\n]*(?:\\[^\n][^"\\\n]*)*')


#: What cuts a delta's string literal out of its block.
_Cut = Callable[[bytes], bytes]
#: The lead while no text block is open: no block starts with a blank line, so none matches.
_NO_LEAD = b"\n\n"
#: What cuts a delta's literal out of its block, while no text block is open (never called).
_NO_CUT: _Cut = itemgetter(slice(0, 0))

#: For each text block index: its deltas' lead, its stop event, what lies between two of its
#: deltas' literals in a run, as raw bytes, and what cuts a literal out of a delta (a C call
#: per delta for a whole run, ~200 instructions a delta fewer than a comprehension's slice).
#: A stream opens few indexes, the same each time.
_TEXT_BYTES: dict[int, tuple[bytes, bytes, bytes, _Cut]] = {}


def _text_bytes(index: int) -> tuple[bytes, bytes, bytes, _Cut]:
    found = _TEXT_BYTES.get(index)
    if found is None:
        number = str(index).encode()
        lead = _RAW_HEAD + number + _RAW_MID
        cut: _Cut = itemgetter(slice(len(lead), -len(_RAW_TAIL)))
        found = (lead, _RAW_STOP + number + b"}", _RAW_TAIL + b"\n\n" + lead, cut)
        if len(_TEXT_BYTES) < 1024:
            _TEXT_BYTES[index] = found
    return found


def _obj(value: Any) -> dict[str, Any]:
    """An object field of an upstream event; an empty one when it is missing or malformed (a
    translator must not fail on what the upstream sent)."""
    return value if isinstance(value, dict) else {}


def _index(data: dict[str, Any]) -> int:
    index = data.get("index", 0)
    return index if isinstance(index, int) else -1


def _one_line_literal(literal: bytes) -> bool:
    """Whether a JSON string literal's body can be copied into another as it is, on one
    ``data:`` line: with no quote, backslash or line break it can; with one, the JSON string
    grammar decides (an unescaped quote, a lone final backslash or a raw line break fails)."""
    if _QUOTE not in literal and _BACKSLASH not in literal and _LF not in literal:
        return True
    return _LITERAL.fullmatch(literal) is not None


#: The JSON of the model names streams answer as (the aliases callers use): a few, each
#: written once.
_NAMES: dict[str, bytes] = {}


def _name_json(name: str) -> bytes:
    found = _NAMES.get(name)
    if found is None:
        found = _json.dumps(name)
        if len(_NAMES) < 1024:
            _NAMES[name] = found
    return found


#: The last head tail built (:func:`_head_tail`): streams that start in the same second for the
#: same alias share it, and read it here before calling for a new one.
_LAST_TAIL: tuple[int, str, bytes] = (0, "", b"")


def _head_tail(created: int, model: str) -> bytes:
    """What follows the id at the front of every chunk (``created``, ``model``, the choice),
    kept as :data:`_LAST_TAIL`."""
    global _LAST_TAIL
    tail = b"".join(
        (
            b',"object":"chat.completion.chunk","created":',
            str(created).encode(),
            b',"model":',
            _name_json(model),
            b',"choices":[{"index":0,"delta":',
        )
    )
    _LAST_TAIL = (created, model, tail)
    return tail


def _raw_usage_of(usage: bytes | None, event: bytes, *, replaces: bool) -> dict[str, Any] | None:
    """A usage object cut from a raw event, decoded; with no cut, or a cut that is not one JSON
    object (usage was not the event's last field), read from the whole event as the decoded
    path reads it."""
    if usage is not None:
        try:
            parsed = _json.loads(usage)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    try:
        data = _json.loads(event.partition(_RAW_DATA)[2])
    except ValueError:
        return None
    holder = _obj(_obj(data).get("message")) if replaces else _obj(data)
    found = holder.get("usage")
    return found if isinstance(found, dict) else None


class _Block:
    """What the stream keeps of the content block in progress: its kind and, for thinking, its
    text until the signature arrives (a thinking block is sent back whole, signed)."""

    __slots__ = ("args", "kind", "parts", "signature", "slot")

    def __init__(self, kind: str, slot: int = 0) -> None:
        self.kind = kind  # text | thinking | tool | json | other
        self.slot = slot  # the tool call's index, or the thinking block's
        self.args = False  # any tool input sent yet
        self.parts: list[str] = []
        self.signature = ""


#: Text blocks and untranslated ones keep no state: all of them share one (made once, not per
#: block).
_TEXT_BLOCK = _Block("text")
_OTHER_BLOCK = _Block("other")


class ChatStream:
    """Messages SSE -> ``chat.completion.chunk`` SSE, one upstream event at a time (a
    :class:`~azure_asgi.families.StreamTranslator`).

    Text deltas become ``delta.content``, thinking deltas ``delta.reasoning_content``; a
    finished thinking block is sent once more, signed, as ``delta.thinking_blocks`` (indexed,
    so the openai SDK's accumulator collects them) for the caller to send back. Tool calls are
    indexed from 0 as OpenAI does; the gateway's JSON tool streams as ``delta.content``.
    ``[DONE]`` follows ``message_stop`` only.
    """

    def __init__(self, model: str, created: int, include_usage: bool) -> None:
        #: True once ``message_stop`` was seen (then :meth:`end` sends ``[DONE]``).
        self.complete = False
        #: The upstream's in-stream ``error`` as ``(status, contract error object)``.
        self.failure: tuple[int, dict[str, Any]] | None = None
        self._usage: dict[str, Any] | None = None
        #: Usage objects of raw events not decoded yet: ``(usage, event, replaces)``, the usage
        #: as cut from the event (None: read it from the whole event, as for message_start),
        #: the whole event kept for a usage that is not where it was looked for, and whether
        #: it is message_start's (which replaces) or message_delta's (which updates).
        self._raw_usage: list[tuple[bytes | None, bytes, bool]] = []
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._id = ""
        self._blocks: dict[int, _Block] = {}
        self._tools = 0  # tool calls announced so far
        self._thinking = 0  # thinking blocks sent so far
        self._started = False
        #: For :meth:`feed_raw`: the open text block's delta prefix and stop event, as raw bytes.
        self._text_lead = _NO_LEAD
        self._text_cut = _NO_CUT
        self._text_stop = b""
        self._text_index = -1
        self._run_between = b""
        self._decoder: SSEDecoder | None = None
        #: The front of every chunk, built once the message id is known (or at the first
        #: chunk, if the upstream never said it).
        self._head = b""

    @property
    def usage(self) -> dict[str, Any] | None:
        """The Anthropic ``usage`` so far: message_start's, updated by message_delta's.

        The raw path keeps usage objects as bytes and decodes them here, when someone asks:
        most streams are never asked (no ``include_usage``, no usage observer), and skip the
        decode (docs/performance.md). One that is not a JSON object is left out.
        """
        self._decode_usage()
        return self._usage

    def _decode_usage(self) -> None:
        pending, self._raw_usage = self._raw_usage, []
        for raw, event, replaces in pending:
            usage = _raw_usage_of(raw, event, replaces=replaces)
            if usage is not None:
                self._take_usage(usage, replaces=replaces)

    def _take_usage(self, usage: dict[str, Any], *, replaces: bool) -> None:
        self._decode_usage()  # what raw events kept comes first: the order of events holds
        if replaces:
            self._usage = dict(usage)
            return
        merged = self._usage if self._usage is not None else {}
        merged.update({k: v for k, v in usage.items() if v is not None})
        self._usage = merged

    def _set_head(self, id_json: bytes | None = None) -> None:
        """The front of every chunk; ``id_json`` is the id already written as JSON."""
        if id_json is None:
            id_json = _json.dumps(self._id)
        created, model, tail = _LAST_TAIL
        if created != self._created or model != self._model:
            tail = _head_tail(self._created, self._model)
        self._head = b'{"id":' + id_json + tail
        # A run of text deltas is written as one join: these go before, between and after
        # their string literals.
        self._text_open = b"data: " + self._head + b'{"content":"'
        self._text_sep = _TEXT_CLOSE + self._text_open

    def _delta(self, delta: bytes) -> bytes:
        # Compact JSON never holds a raw line break, so it is one ``data:`` line as it is.
        return b"data: " + self._head + delta + _NO_FINISH + b"\n\n"

    def _content(self, text: str) -> bytes:
        return self._delta(b'{"content":' + _json.dumps(text) + b"}")

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        if not self._head:
            self._set_head()
        return [b"data: " + self._head + _ROLE]

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The caller's encoded chunks for one upstream event (none for ``ping``)."""
        if not event.has_data or not event.data:
            return []
        if event.data.startswith(_TEXT_HEAD):
            fast = self._text_fast(event.data)
            if fast is not None:
                return fast
        try:
            data = _json.loads(event.data)
        except ValueError:
            return []  # not an event of the Messages stream; nothing to translate
        return self._on(data) if isinstance(data, dict) else []

    def feed_raw(self, events: bytes) -> list[bytes]:
        """:meth:`feed` for whole events given as their raw bytes: LF line ends only, each
        event ending in its blank line.

        Most events of a Claude stream are text deltas in the API's compact form. Their text is
        a JSON string literal, and so is ``delta.content``: the literals of a run of them are
        cut out of the bytes and written as one join, with no SSE decode, no JSON decode and no
        str round trip. Pings, a text block's start and stop and ``message_stop`` are
        recognised as bytes too, message_start and message_delta are read for their id and
        stop reason, their ``usage`` kept as bytes until :attr:`usage` is asked for, and a
        two-line event's JSON is read straight from its ``data:`` line; only anything else
        goes through the SSE decoder (docs/performance.md).
        """
        out: list[bytes] = []
        blocks = events.split(b"\n\n")
        at, count = 0, len(blocks)
        if not blocks[-1]:
            count -= 1  # what follows the last blank line: nothing, as the relay sends events
        # (Slices compared, not startswith: on this path its argument parsing cost more than
        # the comparison. The lead is read anew for each block: a block's start or stop
        # changes it.)
        while at < count:
            block = blocks[at]
            if block[-3:] == _RAW_TAIL and block[: len(self._text_lead)] == self._text_lead:
                at = self._text_run(blocks, at, out)
                continue
            at += 1
            if not block:
                continue
            # Any other event, told apart by its first line (written here, not in a method of
            # its own: a call less an event).
            name = block.partition(b"\n")[0]
            if name == b"event: ping":
                continue
            if block == self._text_stop:
                out += self._block_stop_at(self._text_index)
                continue
            if block == _RAW_MESSAGE_STOP:
                out += self._message_stop()
                continue
            if name == b"event: content_block_start":
                if block == _RAW_TEXT_START_0:
                    index = 0
                else:
                    opened = _RAW_TEXT_START.fullmatch(block)
                    index = int(opened[1]) if opened is not None else -1
                if index >= 0:  # an empty text block: nothing to send but the first chunk
                    out += self._start()
                    self._open_text(index)
                    continue
            elif name == b"event: message_start":
                started = self._raw_message_start(block)
                if started is not None:
                    out += started
                    continue
            elif name == b"event: message_delta":
                ended = _RAW_MESSAGE_DELTA.fullmatch(block)
                if ended is not None:
                    self._raw_usage.append((ended[2], block, False))
                    out += self._finish(ended[1].decode())
                    continue
            out += self._event_block(block)
        return out

    def _text_run(self, blocks: list[bytes], start: int, out: list[bytes]) -> int:
        """The chunks for the run of the open text block's deltas that begins at
        ``blocks[start]``, added to ``out``; the index of the block after it.

        A run is usually every block up to the text block's stop (or the end of the chunk), so
        that is tried first and checked at once: those blocks are all deltas exactly when,
        joined, they equal the lead and tail around their cut literals, joined (equal lengths
        align each block with its own lead and tail). One join and one comparison instead of
        two slices and two comparisons a block (docs/performance.md). Anything else between
        them (a ping) fails the check, and the run is then taken block by block.
        """
        end = len(blocks) - 1  # what follows the last blank line: empty, or a part event
        if end - start == 1:
            # One delta, the caller's check its whole check: the usual chunk when events come
            # as they are written.
            out += self._text_deltas([self._text_cut(blocks[start])])
            return end
        lead = self._text_lead
        size = len(lead)
        last = blocks[end - 1] if end > start else b""
        stop = end
        # A chunk that ends inside the run, as when events come as they are written, has no
        # stop to look for; were it there, the check below would fail and the run be taken
        # block by block. Otherwise the stop is looked for from the end: a chunk that holds it
        # usually ends with it, or with message_delta and message_stop after it (list.index
        # from the front compares every delta first).
        if last[:size] != lead or last[-3:] != _RAW_TAIL:
            text_stop = self._text_stop
            for at in range(end - 1, start, -1):
                if blocks[at] == text_stop:
                    stop = at
                    break
        if stop - start > 1:
            candidates = blocks[start:stop]
            literals = list(map(self._text_cut, candidates))
            joined = b"\n\n".join(candidates)
            # (One join, not two concatenations: a run's bytes are copied once, not twice.)
            if joined == b"".join((lead, self._run_between.join(literals), _RAW_TAIL)):
                out += self._text_deltas(literals)
                return stop
        literals = []
        at = start
        count = len(blocks)
        while at < count:
            block = blocks[at]
            if block[:size] != lead or block[-3:] != _RAW_TAIL:
                break
            literals.append(self._text_cut(block))
            at += 1
        out += self._text_deltas(literals)
        return at

    def _text_deltas(self, literals: list[bytes]) -> list[bytes]:
        """The chunks for a run of the open text block's deltas, given their string literals:
        one join of those that fit on one line as they are (all of them, in the usual case
        decided for the whole run at once); each other takes the general path."""
        joined = b"".join(literals)
        if _QUOTE not in joined and _BACKSLASH not in joined and _LF not in joined:
            return self._text_chunk(literals) if joined else []
        lead = self._text_lead
        out: list[bytes] = []
        fit: list[bytes] = []
        for literal in literals:
            if _one_line_literal(literal):
                fit.append(literal)
                continue
            out += self._text_chunk(fit)
            fit = []
            out += self._event_block(lead + literal + _RAW_TAIL)
        out += self._text_chunk(fit)
        return out

    def _text_chunk(self, literals: list[bytes]) -> list[bytes]:
        """One chunk of ``delta.content`` holding these literals, empty ones left out."""
        texts = literals if all(literals) else [text for text in literals if text]
        if not texts:
            return []
        return [b"".join((self._text_open, self._text_sep.join(texts), _TEXT_CLOSE))]

    def _event_block(self, block: bytes) -> list[bytes]:
        """One event's raw bytes by the general path: its JSON decoded and translated."""
        head, sep, data = block.partition(_RAW_DATA)
        if sep and head.startswith(b"event: ") and _LF not in head and _LF not in data:
            # One event line and one data line, what the API always sends: its JSON as is.
            try:
                parsed = _json.loads(data)
            except ValueError:
                return []
            return self._on(parsed) if isinstance(parsed, dict) else []
        if self._decoder is None:
            self._decoder = SSEDecoder()
        return [p for e in self._decoder.feed(block + b"\n\n") for p in self.feed(e)]

    def _raw_message_start(self, block: bytes) -> list[bytes] | None:
        """message_start read for the id alone, its ``usage`` left in the event until
        :attr:`usage` is asked for. None when the event is not in that form."""
        started = _RAW_MESSAGE_START.match(block)
        if started is None or block[-2:] != b"}}":
            return None
        id_json = started[1]
        self._raw_usage.append((None, block, True))
        self._id = id_json[1:-1].decode()
        self._set_head(id_json)
        return self._start()

    def _on(self, data: dict[str, Any]) -> list[bytes]:
        """The caller's chunks for one decoded upstream event."""
        kind = data.get("type")
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_stop":
            return self._block_stop_at(_index(data))
        if kind == "message_start":
            return self._message_start(_obj(data.get("message")))
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            return self._message_stop()
        if kind == "error":
            error = data.get("error")
            kind_of = error.get("type") if isinstance(error, dict) else None
            status = error_status(kind_of if isinstance(kind_of, str) else "")
            self.failure = (status, error_object(error, status))
        return []  # ping, and event types newer than this translator

    def _message_stop(self) -> list[bytes]:
        self.complete = True
        if not self._include_usage:
            return []
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [],
            "usage": chat_usage(self.usage),
        }
        return [encode_event(_json.dumps(chunk))]

    def _message_start(self, message: dict[str, Any]) -> list[bytes]:
        if isinstance(message.get("id"), str):
            self._id = message["id"]
            self._set_head()
        if isinstance(message.get("usage"), dict):
            self._take_usage(message["usage"], replaces=True)
        return self._start()

    def _text_fast(self, data: str) -> list[bytes] | None:
        """A text delta in the API's compact form, translated without a JSON decode: its text
        is a JSON string literal, and so is ``delta.content``, so the literal is copied. Only
        a literal with no quote in it qualifies (a quote could end it early); anything else
        returns None and takes the general path (docs/claude.md, "Streaming")."""
        mid = data.find(_TEXT_MID, len(_TEXT_HEAD))
        if mid < 0 or not data.endswith('"}}'):
            return None
        literal = data[mid + len(_TEXT_MID) : -3]
        index = data[len(_TEXT_HEAD) : mid]
        if '"' in literal or literal.endswith("\\") or not index.isdigit():
            return None
        state = self._blocks.get(int(index))
        if state is None or state.kind != "text":
            return None
        if not literal:
            return []
        return [self._delta(b'{"content":"' + literal.encode() + b'"}')]

    def _block_start(self, data: dict[str, Any]) -> list[bytes]:
        out = self._start()
        block = _obj(data.get("content_block"))
        index = _index(data)
        kind = block.get("type")
        if kind == "text":
            self._open_text(index)
            if text_field(block, "text"):
                out.append(self._content(block["text"]))
        elif kind == "thinking":
            state = self._blocks[index] = _Block("thinking")
            if text_field(block, "thinking"):
                state.parts.append(block["thinking"])
                out.append(self._reasoning(block["thinking"]))
        elif kind == "redacted_thinking":
            entry = {
                "index": self._thinking,
                "type": "redacted_thinking",
                "data": block.get("data"),
            }
            self._thinking += 1
            out.append(self._delta(_json.dumps({"thinking_blocks": [entry]})))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            self._blocks[index] = _Block("json")
        elif kind == "tool_use":
            self._blocks[index] = _Block("tool", self._tools)
            call = {
                "index": self._tools,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            self._tools += 1
            out.append(self._delta(_json.dumps({"tool_calls": [call]})))
        else:
            self._blocks[index] = _OTHER_BLOCK  # server tools and the like: not translated
        return out

    def _open_text(self, index: int) -> None:
        self._blocks[index] = _TEXT_BLOCK
        if index >= 0:
            self._text_lead, self._text_stop, self._run_between, self._text_cut = _text_bytes(index)
            self._text_index = index

    def _reasoning(self, text: str) -> bytes:
        return self._delta(b'{"reasoning_content":' + _json.dumps(text) + b"}")

    def _arguments(self, slot: int, partial: str) -> bytes:
        call = {"index": slot, "function": {"arguments": partial}}
        return self._delta(_json.dumps({"tool_calls": [call]}))

    def _block_delta(self, data: dict[str, Any]) -> list[bytes]:
        state = self._blocks.get(_index(data))
        delta = _obj(data.get("delta"))
        if state is None:
            return []
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            text = delta.get("text")
            return [self._content(text)] if isinstance(text, str) and text else []
        if kind == "input_json_delta" and state.kind in ("tool", "json"):
            partial = delta.get("partial_json")
            if not isinstance(partial, str) or not partial:
                return []
            state.args = True
            return [
                self._content(partial)
                if state.kind == "json"
                else self._arguments(state.slot, partial)
            ]
        if kind == "thinking_delta" and state.kind == "thinking":
            text = delta.get("thinking")
            if not isinstance(text, str) or not text:
                return []
            state.parts.append(text)
            return [self._reasoning(text)]
        if kind == "signature_delta" and state.kind == "thinking":
            state.signature += delta.get("signature") or ""
        return []

    def _block_stop_at(self, index: int) -> list[bytes]:
        state = self._blocks.pop(index, None)
        if state is None:
            return []
        if index == self._text_index:
            self._text_lead, self._text_stop, self._text_index = _NO_LEAD, b"", -1
        if state.kind == "thinking":
            entry = {
                "index": self._thinking,
                "type": "thinking",
                "thinking": "".join(state.parts),
                "signature": state.signature,
            }
            self._thinking += 1
            return [self._delta(_json.dumps({"thinking_blocks": [entry]}))]
        if state.kind in ("tool", "json") and not state.args:
            # A tool called without input: its arguments are still a JSON object.
            return [
                self._content("{}") if state.kind == "json" else self._arguments(state.slot, "{}")
            ]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[bytes]:
        usage = data.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage, replaces=False)
        delta = _obj(data.get("delta"))
        if delta.get("stop_reason") is None:
            return []
        return self._finish(delta["stop_reason"])

    def _finish(self, stop_reason: Any) -> list[bytes]:
        """The last choice chunk, with the finish reason for ``stop_reason``."""
        # (end_turn told first: the usual reason, a call less.)
        reason = "stop" if stop_reason == "end_turn" else finish_reason(stop_reason)
        if reason == "tool_calls" and not self._tools:
            reason = "stop"  # only the JSON tool was called: a finished structured answer
        out = self._start()
        out.append(b"data: " + self._head + _FINISHES[reason])
        return out

    def end(self) -> list[bytes]:
        """``[DONE]`` when ``message_stop`` was seen; nothing otherwise (the relay then ends the
        caller's stream with an error event)."""
        return [_DONE] if self.complete else []
