"""Messages API event stream -> ``chat.completion.chunk`` events (:class:`ChatStream`), one
upstream event at a time. Pure state machine, no I/O (docs/claude.md, "Streaming").
"""

from __future__ import annotations

from typing import Any

from ... import _json
from ..._sse import SSEEvent, encode_event
from ._common import JSON_TOOL, chat_usage, error_object, error_status, finish_reason, text_field

__all__ = ["ChatStream"]

_NO_FINISH = b',"finish_reason":null,"logprobs":null}]}'
#: A text delta as the Messages API writes it, around its text's JSON string literal.
_TEXT_HEAD = '{"type":"content_block_delta","index":'
_TEXT_MID = ',"delta":{"type":"text_delta","text":"'
_DONE = b"data: [DONE]\n\n"
#: The same text delta as a whole LF-ended event, for :meth:`ChatStream.feed_raw`.
_RAW_HEAD = b"event: content_block_delta\ndata: " + _TEXT_HEAD.encode()
_RAW_MID = _TEXT_MID.encode()
_RAW_TAIL = b'"}}\n\n'


def _obj(value: Any) -> dict[str, Any]:
    """An object field of an upstream event; an empty one when it is missing or malformed (a
    translator must not fail on what the upstream sent)."""
    return value if isinstance(value, dict) else {}


def _index(data: dict[str, Any]) -> int:
    index = data.get("index", 0)
    return index if isinstance(index, int) else -1


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


class ChatStream:
    """Messages SSE -> ``chat.completion.chunk`` SSE, one upstream event at a time (a
    :class:`~azure_asgi.families.StreamTranslator`).

    Text deltas become ``delta.content``, thinking deltas ``delta.reasoning_content``; a
    finished thinking block is sent once more, signed, as ``delta.thinking_blocks`` (indexed,
    so the openai SDK's accumulator collects them) for the caller to send back. Tool calls are
    indexed from 0 as OpenAI does; the gateway's JSON tool streams as ``delta.content``.
    ``[DONE]`` follows ``message_stop`` only.
    """

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        #: True once ``message_stop`` was seen (then :meth:`end` sends ``[DONE]``).
        self.complete = False
        #: The upstream's in-stream ``error`` as ``(status, contract error object)``.
        self.failure: tuple[int, dict[str, Any]] | None = None
        #: The Anthropic ``usage`` so far: message_start's, updated by message_delta's.
        self.usage: dict[str, Any] | None = None
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._id = ""
        self._head = self._chunk_head()
        self._blocks: dict[int, _Block] = {}
        self._tools = 0  # tool calls announced so far
        self._thinking = 0  # thinking blocks sent so far
        self._started = False

    def _chunk_head(self) -> bytes:
        return (
            b'{"id":'
            + _json.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + _json.dumps(self._model)
            + b',"choices":[{"index":0,"delta":'
        )

    def _delta(self, delta: bytes) -> bytes:
        # Compact JSON never holds a raw line break, so it is one ``data:`` line as it is.
        return b"data: " + self._head + delta + _NO_FINISH + b"\n\n"

    def _content(self, text: str) -> bytes:
        return self._delta(b'{"content":' + _json.dumps(text) + b"}")

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return [self._delta(b'{"role":"assistant","content":""}')]

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
        if not isinstance(data, dict):
            return []
        kind = data.get("type")
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_stop":
            return self._block_stop(data)
        if kind == "message_start":
            message = _obj(data.get("message"))
            if isinstance(message.get("id"), str):
                self._id = message["id"]
                self._head = self._chunk_head()
            if isinstance(message.get("usage"), dict):
                self.usage = dict(message["usage"])
            return self._start()
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
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
        if kind == "error":
            error = data.get("error")
            kind_of = error.get("type") if isinstance(error, dict) else None
            status = error_status(kind_of if isinstance(kind_of, str) else "")
            self.failure = (status, error_object(error, status))
        return []  # ping, and event types newer than this translator

    def feed_raw(self, raw: bytes) -> list[bytes] | None:
        """:meth:`feed` for one whole event given as its raw bytes, or None when this is not
        a compact text delta (then the relay decodes it and calls :meth:`feed`). Most events of
        a Claude stream are text deltas: copying their string literal straight from the bytes,
        with no SSE decode and no str round trip, is most of what translation costs
        (docs/performance.md)."""
        if not raw.startswith(_RAW_HEAD) or not raw.endswith(_RAW_TAIL):
            return None
        mid = raw.find(_RAW_MID, len(_RAW_HEAD))
        if mid < 0:
            return None
        index = raw[len(_RAW_HEAD) : mid]
        literal = raw[mid + len(_RAW_MID) : -len(_RAW_TAIL)]
        # A quote could end the literal early and a line break would not be one data line:
        # those take the general path, as does any block not opened as text.
        if b'"' in literal or b"\n" in literal or literal.endswith(b"\\") or not index.isdigit():
            return None
        state = self._blocks.get(int(index))
        if state is None or state.kind != "text":
            return None
        if not literal:
            return []
        return [self._delta(b'{"content":"' + literal + b'"}')]

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
            self._blocks[index] = _Block("text")
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
            self._blocks[index] = _Block("other")  # server tools and the like: not translated
        return out

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

    def _block_stop(self, data: dict[str, Any]) -> list[bytes]:
        state = self._blocks.pop(_index(data), None)
        if state is None:
            return []
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
            merged = self.usage if self.usage is not None else {}
            merged.update({k: v for k, v in usage.items() if v is not None})
            self.usage = merged
        delta = _obj(data.get("delta"))
        if delta.get("stop_reason") is None:
            return []
        reason = finish_reason(delta["stop_reason"])
        if reason == "tool_calls" and not self._tools:
            reason = "stop"  # only the JSON tool was called: a finished structured answer
        out = self._start()
        out.append(
            encode_event(
                self._head + b'{},"finish_reason":' + _json.dumps(reason) + b',"logprobs":null}]}'
            )
        )
        return out

    def end(self) -> list[bytes]:
        """``[DONE]`` when ``message_stop`` was seen; nothing otherwise (the relay then ends the
        caller's stream with an error event)."""
        return [_DONE] if self.complete else []
