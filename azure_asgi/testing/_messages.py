"""Pure builders of Anthropic Messages API bodies and SSE events (Claude on Azure AI Foundry).

A reply is planned once (:func:`plan_messages`): with ``thinking`` on, a signed ``thinking``
block first; then a ``tool_use`` block when the tool rule of :mod:`._schema` says the model
calls one (input: a valid instance of its ``input_schema``), else a text block echoing the
last user message (or the tool result after one; JSON under ``output_config.format``), cut
at a stop sequence or at ``max_tokens`` words. Tokens are words (:func:`input_usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._json import json_text
from ._messages_strict import sign_thinking, thinking_on, turns
from ._schema import (
    Conversation,
    ToolSpec,
    instance_for,
    json_pieces,
    structured_text,
    tool_for,
)
from ._text import content_text, count_words, last_user_text, pieces, truncate

__all__ = [
    "MessagesReply",
    "anthropic_error",
    "error_type_for",
    "input_usage",
    "messages_events",
    "messages_json",
    "plan_messages",
]

# Anthropic's error ``type`` for each HTTP status it uses.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_error(error_type: str, message: str) -> bytes:
    """Anthropic's error body: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    return json_text({"type": "error", "error": {"type": error_type, "message": message}}).encode()


def error_type_for(status: int) -> str:
    """Anthropic's error type for an HTTP status (``api_error`` for other 5xx)."""
    default = "api_error" if status >= 500 else "invalid_request_error"
    return ERROR_TYPES.get(status, default)


def _tokens(value: Any) -> int:
    """Words of a block's text, a tool result's content or a tool's definition."""
    if isinstance(value, str):
        return len(value.split())
    if not isinstance(value, Mapping):
        return len(content_text(value).split()) if isinstance(value, list) else 0
    kind = value.get("type")
    if kind in ("text", "thinking"):
        return _tokens(value.get(kind))
    if kind == "tool_use":
        return len(json_text(value.get("input")).split())
    if kind == "tool_result":
        content = value.get("content")
        return _tokens(content) if isinstance(content, str) else len(content_text(content).split())
    if "name" in value:  # a tool definition
        schema = value.get("input_schema")
        return (
            _tokens(value["name"])
            + _tokens(value.get("description") or "")
            + len(json_text(schema).split())
        )
    return 0


def input_usage(body: Mapping[str, Any]) -> tuple[int, int]:
    """``(input_tokens, cache_read_input_tokens)`` of a valid request.

    Every word of the tools, the system prompt and the messages is a token, in that order
    (Anthropic's cache order). The prefix up to the last block marked ``cache_control``
    (everything, with a top-level ``cache_control``) is read from the cache; ``input_tokens``
    is the rest, at least 1 when nothing was cached. count_tokens answers their sum.
    """
    system = body.get("system")
    items: list[Any] = [*(body.get("tools") or [])]
    items += [system] if isinstance(system, str) else list(system or [])
    for message in body["messages"]:
        content = message["content"]
        items += [content] if isinstance(content, str) else content
    counts = [_tokens(item) for item in items]
    total = sum(counts)
    marked = [
        k for k, item in enumerate(items) if isinstance(item, Mapping) and item.get("cache_control")
    ]
    if body.get("cache_control"):
        marked.append(len(items) - 1)
    if not marked:
        return max(1, total), 0
    cached = sum(counts[: max(marked) + 1])
    return total - cached, cached


@dataclass(frozen=True, slots=True)
class MessagesReply:
    """Everything a Messages reply says, decided once per request."""

    id: str
    model: str
    blocks: tuple[dict[str, Any], ...]
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int


def _tools(body: Mapping[str, Any]) -> list[ToolSpec]:
    return [
        ToolSpec(tool["name"], tool["input_schema"])
        for tool in body.get("tools") or []
        if tool.get("type") in (None, "custom")
    ]


def _tool_choice(choice: Any) -> tuple[str, str | None]:
    kind = str(choice.get("type")) if isinstance(choice, Mapping) else "auto"
    if kind == "tool":
        return "named", choice["name"]
    return {"any": "required", "none": "none"}.get(kind, "auto"), None


def _conversation(body: Mapping[str, Any]) -> Conversation:
    """Whether the last turn is the user's; its tool results' text (None when it has none);
    the tools used since the last user turn with text."""
    merged = turns(body["messages"])
    role, last = merged[-1]
    results = [
        content_text(b.get("content")) if not isinstance(b.get("content"), str) else b["content"]
        for _, _, b in last
        if b.get("type") == "tool_result"
    ]
    called: list[str] = []
    for role_, located in reversed(merged[:-1] if results else []):
        if role_ == "user" and any(b.get("type") == "text" for _, _, b in located):
            break
        called += [b["name"] for _, _, b in located if b.get("type") == "tool_use"]
    after = role == "user" and bool(results)
    return Conversation(role == "user", "\n".join(results) if after else None, called)


def _stop_at(text: str, stops: Any) -> tuple[str, str | None]:
    """``text`` cut before the earliest stop sequence in it, and that sequence."""
    found = [(text.find(stop), stop) for stop in stops or [] if stop and stop in text]
    if not found:
        return text, None
    at, stop = min(found)
    return text[:at], stop


def plan_messages(body: Mapping[str, Any], *, seq: int) -> MessagesReply:
    """Decide the deterministic reply to a validated Messages request body."""
    prompt = last_user_text(body["messages"])
    where = _conversation(body)
    result = where.result
    tool = tool_for(_tools(body), _tool_choice(body.get("tool_choice")), prompt, where)
    blocks: list[dict[str, Any]] = []
    budget = body["max_tokens"]
    if thinking_on(body):
        thought = f"The user wrote: {prompt or result or 'nothing'}. I will answer briefly."
        omitted = body["thinking"].get("display") == "omitted"
        shown = "" if omitted else thought
        blocks.append({"type": "thinking", "thinking": shown, "signature": sign_thinking(thought)})
        budget = max(0, budget - count_words(thought))
    stop, sequence = "end_turn", None
    if tool is not None:
        tool_input = instance_for(tool.parameters, prompt)
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_emu{seq:08d}",
                "name": tool.name,
                "input": tool_input,
            }
        )
        stop = "tool_use"
    else:
        echo = prompt if result is None else result
        config = body.get("output_config")
        fmt = config.get("format") if isinstance(config, Mapping) else None
        if fmt is not None:
            echo = structured_text(fmt["schema"], echo)
        echo, sequence = _stop_at(echo, body.get("stop_sequences"))
        text, cut = truncate(echo, budget)
        if sequence is not None and not cut:
            stop = "stop_sequence"
        elif cut:
            stop, sequence = "max_tokens", None
        if budget or not cut:  # max_tokens 0 (cache pre-warming) answers no content at all
            blocks.append({"type": "text", "text": text})
    input_tokens, cached = input_usage(body)
    output = sum(_tokens(block) for block in blocks)
    return MessagesReply(
        id=f"msg_emu{seq:08d}",
        model=str(body["model"]),
        blocks=tuple(blocks),
        stop_reason=stop,
        stop_sequence=sequence,
        input_tokens=input_tokens,
        cache_read_input_tokens=cached,
        output_tokens=max(1, output),
    )


def _usage(reply: MessagesReply, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "output_tokens": output_tokens,
    }


def _message(reply: MessagesReply, content: list[Any], done: bool) -> dict[str, Any]:
    return {
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": reply.stop_reason if done else None,
        "stop_sequence": reply.stop_sequence if done else None,
        # message_start reports one output token, as Anthropic does; the end the total.
        "usage": _usage(reply, reply.output_tokens if done else 1),
    }


def messages_json(reply: MessagesReply) -> bytes:
    """The non-streaming Messages body."""
    return json_text(_message(reply, list(reply.blocks), True)).encode()


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json_text(data)}\n\n".encode()


def _block_events(index: int, block: Mapping[str, Any]) -> list[bytes]:
    """``content_block_start``, its deltas and ``content_block_stop`` for one block."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        arguments = json_text(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in json_pieces(arguments)]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
    events = [
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    events += [
        _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
        for delta in deltas
    ]
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def messages_events(reply: MessagesReply) -> list[bytes]:
    """The SSE events of a streamed Messages reply, ``message_stop`` last.

    As Anthropic sends them: ``message_start`` (empty content), then per block
    ``content_block_start``, its deltas (``thinking_delta`` pieces and one
    ``signature_delta``; ``text_delta`` per word; ``input_json_delta`` pieces of the tool
    input) and ``content_block_stop``, with one ``ping`` after the first block start; then
    ``message_delta`` (stop reason, output tokens) and ``message_stop``.
    """
    events = [
        _event("message_start", {"type": "message_start", "message": _message(reply, [], False)})
    ]
    for index, block in enumerate(reply.blocks):
        block_events = _block_events(index, block)
        if index == 0:
            block_events.insert(1, _event("ping", {"type": "ping"}))
        events += block_events
    if not reply.blocks:
        events.append(_event("ping", {"type": "ping"}))
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence},
        "usage": {"output_tokens": reply.output_tokens},
    }
    events.append(_event("message_delta", message_delta))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events
