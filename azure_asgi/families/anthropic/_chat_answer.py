"""A Messages API answer -> a ``chat.completion`` (:func:`messages_to_chat`): text, tool
calls, the gateway's JSON tool as content, thinking as ``reasoning_content`` and signed
``thinking_blocks``. Pure, no I/O (docs/claude.md, "Messages → Chat Completions").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ._common import JSON_TOOL, chat_usage, finish_reason, text_field

__all__ = ["messages_to_chat"]


def messages_to_chat(message: Mapping[str, Any], *, model: str, created: int) -> dict[str, Any]:
    """A Messages API response -> a ``chat.completion`` (no ``extra_fields``; the adapter adds
    them). ``model`` is the alias the caller used; the upstream ``id`` is kept."""
    texts: list[str] = []
    thinking: list[str] = []
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    answer: str | None = None
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(text_field(block, "text"))
        elif kind == "thinking":
            thinking.append(text_field(block, "thinking"))
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": text_field(block, "thinking"),
                    "signature": text_field(block, "signature"),
                }
            )
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": text_field(block, "data")})
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            answer = _json.dumps(block.get("input") or {}).decode()
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": _json.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    # A structured answer is the JSON alone: text the model wrote around the tool would spoil it.
    content = answer if answer is not None else "".join(texts) if texts or not calls else None
    chat_message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        chat_message["tool_calls"] = calls
    if thinking:
        chat_message["reasoning_content"] = "".join(thinking)
    if blocks:
        chat_message["thinking_blocks"] = blocks
    reason = finish_reason(message.get("stop_reason"))
    if reason == "tool_calls" and not calls:
        reason = "stop"  # only the JSON tool was called: a finished structured answer
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": chat_message, "finish_reason": reason, "logprobs": None}
        ],
        "usage": chat_usage(message.get("usage")),
    }
