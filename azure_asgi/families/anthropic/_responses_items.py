"""The Responses output items built from Claude's blocks, and their ids: ``message``,
``function_call`` and ``reasoning`` items, and the ``encrypted_content`` prefixes that let a
reasoning item sent back restore the exact thinking block. Item ids derive from the Messages id
and the item's position, so the JSON answer and the stream of one message name their items
alike. Pure, no I/O (docs/claude.md, "Responses API").
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "REDACTED_PREFIX",
    "THINKING_PREFIX",
    "base_id",
    "call_item",
    "message_item",
    "output_item_id",
    "reasoning_item",
    "text_part",
]

#: ``encrypted_content`` prefixes of the reasoning items this module produces. Not base64
#: characters, so no real signature or OpenAI payload can look like them.
THINKING_PREFIX = "claude.thinking:"
REDACTED_PREFIX = "claude.redacted_thinking:"


def base_id(message_id: Any) -> str:
    """The Messages id without ``msg_``: the stem of the response's and its items' ids."""
    text = message_id if isinstance(message_id, str) and message_id else "unknown"
    return text[4:] if text.startswith("msg_") else text


def output_item_id(base: str, kind: str, index: int) -> str:
    """An output item's id (``kind`` msg / fc / rs) from the stem and its output index."""
    return f"{kind}_{base}_{index}"


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant ``message`` item (no content while ``in_progress``)."""
    content = [] if status == "in_progress" else [text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def text_part(text: str) -> dict[str, Any]:
    """An ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": []}


def call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    """A ``function_call`` item for a tool_use block."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def reasoning_item(
    item_id: str, text: str, encrypted: str | None, status: str = "completed"
) -> dict[str, Any]:
    """A ``reasoning`` item: the thinking text as its summary, ``encrypted`` the prefixed
    signature or redacted data (None while in progress)."""
    summary = [{"type": "summary_text", "text": text}] if text else []
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": summary}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    item["status"] = status
    return item
