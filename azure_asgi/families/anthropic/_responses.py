"""Placeholder until the Chat Completions translation lands (replaced by the real module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._sse import SSEEvent

__all__ = ["ResponsesStream", "messages_to_response", "responses_to_messages"]


def responses_to_messages(
    body: Mapping[str, Any], deployment: str, *, max_tokens: int
) -> dict[str, Any]:
    raise NotImplementedError


def messages_to_response(
    message: Mapping[str, Any], *, model: str, created: int, request: Mapping[str, Any]
) -> dict[str, Any]:
    raise NotImplementedError


class ResponsesStream:
    complete = False
    failure: tuple[int, dict[str, Any]] | None = None

    def __init__(self, *, model: str, created: int, request: Mapping[str, Any]) -> None:
        pass

    def feed(self, event: SSEEvent) -> list[bytes]:
        raise NotImplementedError

    def end(self) -> list[bytes]:
        return []
