"""Messages API event stream -> the Responses event sequence (:class:`ResponsesStream`), one
upstream event at a time. Pure state machine, no I/O (docs/claude.md, "Responses API").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ..._sse import SSEEvent, encode_event
from ._common import error_status, is_int
from ._responses_answer import response_object
from ._responses_items import (
    REDACTED_PREFIX,
    THINKING_PREFIX,
    base_id,
    call_item,
    message_item,
    output_item_id,
    reasoning_item,
    text_part,
)
from ._responses_tools import format_tool_name

__all__ = ["ResponsesStream"]


class _Message:
    """An open ``message`` output item: text blocks in a row extend it."""

    __slots__ = ("closed", "index", "item_id", "joinable", "parts")

    def __init__(self, index: int, item_id: str, *, joinable: bool) -> None:
        self.index = index
        self.item_id = item_id
        self.parts: list[str] = []
        self.joinable = joinable  # False for the JSON answer: nothing joins it
        self.closed = False


class _Block:
    """One upstream content block being streamed, and the output item it feeds."""

    __slots__ = ("call_id", "index", "initial", "item_id", "kind", "message", "name", "parts")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # text / answer / call / thinking / redacted / other
        self.index = -1
        self.item_id = ""
        self.message: _Message | None = None
        self.parts: list[str] = []  # arguments, thinking text or the signature's pieces
        self.call_id = ""
        self.name = ""
        self.initial: Any = None  # a tool_use block's input as it started, or redacted data


class ResponsesStream:
    """Messages SSE -> Responses SSE, one upstream event at a time (a ``StreamTranslator``).

    Every emitted event carries ``type`` and ``sequence_number`` (from 0); the stream ends with
    ``response.completed`` or ``response.incomplete`` holding the whole response. Text blocks
    in a row make one ``message`` item; tool_use blocks ``function_call`` items; thinking
    blocks ``reasoning`` items with their text as a summary (docs/claude.md).
    """

    complete: bool
    failure: tuple[int, dict[str, Any]] | None
    usage: dict[str, Any] | None

    def __init__(self, *, model: str, created: int, request: Mapping[str, Any]) -> None:
        self.complete = False
        self.failure = None
        self.usage = None
        self._model = model
        self._created = created
        self._request = request
        self._answer_tool = format_tool_name(request)
        self._seq = 0
        self._base: str | None = None
        self._items: list[dict[str, Any] | None] = []  # done items by output_index
        self._blocks: dict[int, _Block] = {}
        self._open: _Message | None = None  # the message item text may still extend
        self._stop_reason: Any = None

    # -- the StreamTranslator interface

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The caller's encoded events for one upstream event (often one, maybe none)."""
        if self.complete or self.failure is not None or not event.has_data:
            return []
        try:
            data = _json.loads(event.data)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        index = data.get("index")
        out: list[bytes] = []
        if kind == "message_start":
            message = data.get("message")
            self._start(out, message if isinstance(message, Mapping) else {})
        elif kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, Mapping):
                self._start(out, {})
                self._block_start(out, index, block)
        elif kind == "content_block_delta":
            delta = data.get("delta")
            block_state = self._blocks.get(index) if is_int(index) else None
            if isinstance(delta, Mapping) and block_state is not None:
                self._block_delta(out, block_state, delta)
        elif kind == "content_block_stop":
            block_state = self._blocks.pop(index, None) if is_int(index) else None
            if block_state is not None:
                self._block_stop(out, block_state)
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason") is not None:
                self._stop_reason = delta["stop_reason"]
            self._merge_usage(data.get("usage"))
            self._close_message(out)
        elif kind == "message_stop":
            self._start(out, {})
            self._finish(out)
        elif kind == "error":
            self._fail(data.get("error"))
        return out

    def end(self) -> list[bytes]:
        """Nothing: the terminal event (or the relay's error event) is already the last."""
        return []

    # -- events

    def _emit(self, out: list[bytes], kind: str, payload: dict[str, Any]) -> None:
        data = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        out.append(encode_event(_json.dumps(data), event=kind))

    def _response(self, output: list[dict[str, Any]] | None) -> dict[str, Any]:
        return response_object(
            f"resp_{self._base}",
            model=self._model,
            created=self._created,
            request=self._request,
            stop_reason=self._stop_reason,
            output=output,
            usage=self.usage,
        )

    def _start(self, out: list[bytes], message: Mapping[str, Any]) -> None:
        if self._base is not None:
            return
        self._base = base_id(message.get("id"))
        self._merge_usage(message.get("usage"))
        response = self._response(None)
        self._emit(out, "response.created", {"response": response})
        self._emit(out, "response.in_progress", {"response": response})

    def _merge_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        merged = dict(self.usage or {})
        merged.update({k: v for k, v in usage.items() if v is not None})
        self.usage = merged

    def _new_index(self) -> int:
        self._items.append(None)
        return len(self._items) - 1

    def _block_start(self, out: list[bytes], index: Any, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        if kind == "tool_use" and block.get("name") == self._answer_tool:
            state = _Block("answer")
            state.initial = block.get("input")
            state.message = self._message(out, joinable=False)
        elif kind == "text":
            state = _Block("text")
            state.message = self._message(out, joinable=True)
            if block.get("text"):
                self._text_delta(out, state, str(block["text"]))
        elif kind == "tool_use":
            self._close_message(out)
            state = _Block("call")
            state.index = self._new_index()
            state.item_id = output_item_id(str(self._base), "fc", state.index)
            state.call_id = str(block.get("id"))
            state.name = str(block.get("name"))
            state.initial = block.get("input")
            item = call_item(state.item_id, state.call_id, state.name, "", "in_progress")
            self._emit(
                out, "response.output_item.added", {"output_index": state.index, "item": item}
            )
        elif kind in ("thinking", "redacted_thinking"):
            self._close_message(out)
            state = _Block("thinking" if kind == "thinking" else "redacted")
            state.index = self._new_index()
            state.item_id = output_item_id(str(self._base), "rs", state.index)
            if kind == "thinking":
                if block.get("thinking"):
                    state.parts.append(str(block["thinking"]))
                state.initial = block.get("signature") or ""
            else:
                state.initial = block.get("data") or ""
            item = reasoning_item(state.item_id, "", None, "in_progress")
            self._emit(
                out, "response.output_item.added", {"output_index": state.index, "item": item}
            )
            if state.parts:
                self._summary_delta(out, state, state.parts[0], first=True)
        else:
            state = _Block("other")  # server tools' blocks: not offered, nothing to show
        if is_int(index):
            self._blocks[index] = state

    def _block_delta(self, out: list[bytes], state: _Block, delta: Mapping[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            self._text_delta(out, state, str(delta.get("text") or ""))
        elif kind == "input_json_delta" and state.kind == "answer":
            piece = str(delta.get("partial_json") or "")
            state.parts.append(piece)
            self._text_delta(out, state, piece)
        elif kind == "input_json_delta" and state.kind == "call":
            piece = str(delta.get("partial_json") or "")
            if piece:
                state.parts.append(piece)
                payload = {"item_id": state.item_id, "output_index": state.index, "delta": piece}
                self._emit(out, "response.function_call_arguments.delta", payload)
        elif kind == "thinking_delta" and state.kind == "thinking":
            piece = str(delta.get("thinking") or "")
            if piece:
                state.parts.append(piece)
                self._summary_delta(out, state, piece, first=len(state.parts) == 1)
        elif kind == "signature_delta" and state.kind == "thinking":
            state.initial = str(state.initial or "") + str(delta.get("signature") or "")

    def _block_stop(self, out: list[bytes], state: _Block) -> None:
        if state.kind == "answer":
            if not "".join(state.parts):
                # No input streamed: the input the block started with is the answer.
                self._text_delta(out, state, _json.dumps(state.initial or {}).decode())
            self._close_message(out)
        elif state.kind == "call":
            arguments = "".join(state.parts)
            if not arguments:
                arguments = _json.dumps(state.initial or {}).decode()
                if arguments != "{}":
                    payload = {"item_id": state.item_id, "output_index": state.index}
                    self._emit(
                        out,
                        "response.function_call_arguments.delta",
                        {**payload, "delta": arguments},
                    )
            payload = {"item_id": state.item_id, "output_index": state.index}
            self._emit(
                out, "response.function_call_arguments.done", {**payload, "arguments": arguments}
            )
            item = call_item(state.item_id, state.call_id, state.name, arguments)
            self._done(out, state.index, item)
        elif state.kind == "thinking":
            text = "".join(state.parts)
            if text:
                payload = {
                    "item_id": state.item_id,
                    "output_index": state.index,
                    "summary_index": 0,
                }
                self._emit(out, "response.reasoning_summary_text.done", {**payload, "text": text})
                part = {"type": "summary_text", "text": text}
                self._emit(out, "response.reasoning_summary_part.done", {**payload, "part": part})
            encrypted = THINKING_PREFIX + str(state.initial or "")
            self._done(out, state.index, reasoning_item(state.item_id, text, encrypted))
        elif state.kind == "redacted":
            encrypted = REDACTED_PREFIX + str(state.initial or "")
            self._done(out, state.index, reasoning_item(state.item_id, "", encrypted))

    def _done(self, out: list[bytes], index: int, item: dict[str, Any]) -> None:
        self._items[index] = item
        self._emit(out, "response.output_item.done", {"output_index": index, "item": item})

    # -- message items

    def _message(self, out: list[bytes], *, joinable: bool) -> _Message:
        """The message item a text block writes to: the open one if it may be extended."""
        current = self._open
        if current is not None and current.joinable and joinable:
            return current
        self._close_message(out)
        index = self._new_index()
        message = _Message(index, output_item_id(str(self._base), "msg", index), joinable=joinable)
        item = message_item(message.item_id, "", "in_progress")
        self._emit(out, "response.output_item.added", {"output_index": index, "item": item})
        payload = {"item_id": message.item_id, "output_index": index, "content_index": 0}
        self._emit(out, "response.content_part.added", {**payload, "part": text_part("")})
        self._open = message
        return message

    def _text_delta(self, out: list[bytes], state: _Block, text: str) -> None:
        if not text:
            return
        message = state.message
        if message is None or message.closed:
            # A block's deltas after another block began (Claude streams blocks one at a
            # time, so only a misbehaving upstream gets here): a fresh item keeps order.
            message = state.message = self._message(out, joinable=False)
        message.parts.append(text)
        payload = {"item_id": message.item_id, "output_index": message.index, "content_index": 0}
        self._emit(out, "response.output_text.delta", {**payload, "delta": text, "logprobs": []})

    def _close_message(self, out: list[bytes]) -> None:
        message = self._open
        if message is None:
            return
        self._open = None
        message.closed = True
        text = "".join(message.parts)
        payload = {"item_id": message.item_id, "output_index": message.index, "content_index": 0}
        self._emit(out, "response.output_text.done", {**payload, "text": text, "logprobs": []})
        self._emit(out, "response.content_part.done", {**payload, "part": text_part(text)})
        self._done(out, message.index, message_item(message.item_id, text))

    def _summary_delta(self, out: list[bytes], state: _Block, text: str, *, first: bool) -> None:
        payload = {"item_id": state.item_id, "output_index": state.index, "summary_index": 0}
        if first:
            part = {"type": "summary_text", "text": ""}
            self._emit(out, "response.reasoning_summary_part.added", {**payload, "part": part})
        self._emit(out, "response.reasoning_summary_text.delta", {**payload, "delta": text})

    # -- the end

    def _finish(self, out: list[bytes]) -> None:
        self._close_message(out)
        for index in sorted(self._blocks):  # blocks never stopped: closed as they stand
            self._block_stop(out, self._blocks.pop(index))
        self._close_message(out)
        output = [item for item in self._items if item is not None]
        response = self._response(output)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        self._emit(out, kind, {"response": response})
        self.complete = True

    def _fail(self, error: Any) -> None:
        error = error if isinstance(error, Mapping) else {}
        kind = error.get("type")
        kind = kind if isinstance(kind, str) and kind else "api_error"
        message = error.get("message")
        if not isinstance(message, str) or not message:
            message = f"Claude's stream failed ({kind})."
        status = error_status(kind)
        self.failure = (status, {"message": message, "type": kind, "code": kind, "param": None})
