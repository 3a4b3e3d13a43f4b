"""Pure builders of Anthropic Messages API bodies and SSE events (Claude on Azure AI Foundry)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._json import json_text, parse_json
from ._text import count_words, last_user_text, pieces, prompt_words, truncate

__all__ = [
    "MessagesReply",
    "anthropic_error",
    "messages_events",
    "messages_json",
    "plan_messages",
    "validate_messages",
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


def validate_messages(body: Mapping[str, Any]) -> str | None:
    """The message of the first problem with a Messages request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return "max_tokens: Field required"
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Input should be a valid integer greater than or equal to 1"
    messages = body.get("messages")
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    return None


@dataclass(frozen=True, slots=True)
class MessagesReply:
    """Everything a Messages reply says, decided once per request."""

    id: str
    model: str
    text: str | None  # None when the reply is a tool_use block
    tool_name: str | None
    tool_id: str
    tool_input: str  # the tool input as a JSON string
    stop_reason: str
    input_tokens: int
    output_tokens: int


def _forced_tool(body: Mapping[str, Any]) -> str | None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    choice = body.get("tool_choice")
    if not isinstance(choice, Mapping):
        return None
    if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    if choice.get("type") == "any" and isinstance(tools[0], Mapping):
        return str(tools[0].get("name", "tool"))
    return None


def plan_messages(body: Mapping[str, Any], *, seq: int) -> MessagesReply:
    """Decide the deterministic reply to a validated Messages request body."""
    messages = body["messages"]
    echo = last_user_text(messages)
    tool = _forced_tool(body)
    if tool is not None:
        tool_input = json_text({"text": echo})
        text: str | None = None
        stop = "tool_use"
        words = count_words(tool_input)
    else:
        tool_input = ""
        text, cut = truncate(echo, body["max_tokens"])
        stop = "max_tokens" if cut else "end_turn"
        words = count_words(text)
    return MessagesReply(
        id=f"msg_emu{seq:08d}",
        model=str(body["model"]),
        text=text,
        tool_name=tool,
        tool_id=f"toolu_emu{seq:08d}",
        tool_input=tool_input,
        stop_reason=stop,
        input_tokens=prompt_words(messages, body.get("system")),
        output_tokens=words,
    )


def _block(reply: MessagesReply) -> dict[str, Any]:
    if reply.tool_name is None:
        return {"type": "text", "text": reply.text}
    return {
        "type": "tool_use",
        "id": reply.tool_id,
        "name": reply.tool_name,
        "input": parse_json(reply.tool_input),
    }


def _message(reply: MessagesReply, content: list[Any], stop: str | None, out: int) -> Any:
    return {
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": out},
    }


def messages_json(reply: MessagesReply) -> bytes:
    """The non-streaming Messages body."""
    body = _message(reply, [_block(reply)], reply.stop_reason, reply.output_tokens)
    return json_text(body).encode()


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json_text(data)}\n\n".encode()


def messages_events(reply: MessagesReply) -> list[bytes]:
    """The SSE events of a streamed Messages reply, ``message_stop`` last.

    Order as Anthropic sends it: ``message_start`` (empty content), ``content_block_start``,
    ``ping``, one ``content_block_delta`` per word (``text_delta``, or ``input_json_delta``
    pieces for tool use), ``content_block_stop``, ``message_delta``, ``message_stop``.
    """
    # message_start reports one output token, as Anthropic does; message_delta the total.
    events = [
        _event("message_start", {"type": "message_start", "message": _message(reply, [], None, 1)})
    ]
    if reply.tool_name is None:
        start: dict[str, Any] = {"type": "text", "text": ""}
        kind, field, source = "text_delta", "text", reply.text or ""
    else:
        start = {"type": "tool_use", "id": reply.tool_id, "name": reply.tool_name, "input": {}}
        kind, field, source = "input_json_delta", "partial_json", reply.tool_input
    events.append(
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": start},
        )
    )
    events.append(_event("ping", {"type": "ping"}))
    for piece in pieces(source):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": kind, field: piece}}
        events.append(_event("content_block_delta", delta))
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": reply.output_tokens},
    }
    events.append(_event("message_delta", message_delta))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events
