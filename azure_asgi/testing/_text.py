"""Deterministic text helpers: the echo, word pieces, token counts and truncation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["content_text", "count_words", "last_user_text", "pieces", "prompt_words", "truncate"]

# A word with the whitespace before it, or trailing whitespace: the pieces concatenate back
# to exactly the original text, which is what streamed deltas must do.
_PIECE = re.compile(r"\s*\S+|\s+")


def pieces(text: str) -> list[str]:
    """Split ``text`` into word pieces whose concatenation is exactly ``text``."""
    return _PIECE.findall(text)


def count_words(text: str) -> int:
    """Whitespace word count, at least 1: the emulator's deterministic token count."""
    return max(1, len(text.split()))


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or its ``text`` parts joined by a space."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: Sequence[Any]) -> str:
    """The text of the last user message that has any (tool results carry none)."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            text = content_text(message.get("content"))
            if text:
                return text
    return ""


def prompt_words(messages: Sequence[Any], system: Any = None) -> int:
    """Deterministic prompt token count: the words of every message's text, at least 1."""
    words = len(content_text(system).split())
    for message in messages:
        if isinstance(message, Mapping):
            words += len(content_text(message.get("content")).split())
    return max(1, words)


def truncate(text: str, limit: Any) -> tuple[str, bool]:
    """``text`` cut to ``limit`` words when it is longer; and whether it was cut."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        return text, False
    if len(text.split()) <= limit:
        return text, False
    return "".join(pieces(text)[:limit]), True
