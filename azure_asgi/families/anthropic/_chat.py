"""Placeholder until the Chat Completions translation lands (replaced by the real module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._sse import SSEEvent

__all__ = ["ChatStream", "chat_to_messages", "messages_to_chat"]


def chat_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    raise NotImplementedError


def messages_to_chat(message: Mapping[str, Any], *, model: str, created: int) -> dict[str, Any]:
    raise NotImplementedError


class ChatStream:
    complete = False
    failure: tuple[int, dict[str, Any]] | None = None

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        pass

    def feed(self, event: SSEEvent) -> list[bytes]:
        raise NotImplementedError

    def end(self) -> list[bytes]:
        return []
