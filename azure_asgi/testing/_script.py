"""Scripted replies: the exact text, tool calls or stream chunks of the next generations.

A test queues them with ``emulator.script(...)``; the next chat completions and Responses
requests take them in order instead of the emulator's own reply (docs/testing.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._json import json_text
from ._store import Tracked

if TYPE_CHECKING:
    from ._exchange import Exchange

__all__ = ["PIECE", "SCRIPTABLE", "Reply", "ToolCall", "answer_scripted"]

# The operations a scripted reply answers.
SCRIPTABLE = frozenset({"chat", "responses.create"})

PIECE = re.compile(r"\s*\S+|\s+")  # a word with the space before it: pieces join back exactly


@dataclass(frozen=True)
class ToolCall:
    """One function call a scripted reply makes: ``arguments`` as a mapping, or exact JSON text.

    ::

        emulator.script(ToolCall("get_weather", {"city": "Paris"}))
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None  # default: call_script_<request>_<index>

    @property
    def arguments_json(self) -> str:
        """The arguments as sent on the wire (a JSON string)."""
        return self.arguments if isinstance(self.arguments, str) else json_text(self.arguments)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text, tool calls, or both; optionally how it streams.

    - ``text``: the assistant's content.
    - ``tool_calls``: :class:`ToolCall` s (``finish_reason`` becomes ``tool_calls``).
    - ``chunks``: the content deltas of a stream, in order (their join is the text); without
      it a stream sends the text word by word.
    - ``finish_reason``: defaults to ``stop`` (``tool_calls`` with calls).

    ``emulator.script("hi")`` is ``Reply(text="hi")``; ``emulator.script(ToolCall(...))`` is
    a reply with that one call.
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    chunks: tuple[str, ...] | None = None
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.chunks is not None:
            joined = "".join(self.chunks)
            if self.text is None:
                object.__setattr__(self, "text", joined)
            elif joined != self.text:
                raise ValueError("Reply chunks must join to exactly its text")
        if self.text is None and not self.tool_calls:
            raise ValueError("a Reply needs text, chunks or tool_calls")

    @classmethod
    def of(cls, item: Reply | ToolCall | str) -> Reply:
        """``item`` as a Reply: a string is its text, a ToolCall its only call."""
        if isinstance(item, Reply):
            return item
        if isinstance(item, ToolCall):
            return cls(tool_calls=(item,))
        if isinstance(item, str):
            return cls(text=item)
        raise TypeError(f"script() takes Reply, ToolCall or str items, not {item!r}")

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    def deltas(self) -> list[str]:
        """The content pieces a stream sends."""
        if self.chunks is not None:
            return list(self.chunks)
        return PIECE.findall(self.text or "")

    def call_id(self, seq: int, index: int) -> str:
        return self.tool_calls[index].id or f"call_script_{seq}_{index}"


async def answer_scripted(exchange: Exchange, op_name: str, reply: Reply) -> None:
    """Answer ``exchange`` with ``reply`` in the operation's JSON or stream shape."""
    from ._script_render import chat_reply, chat_reply_events, response_reply, response_reply_events

    body = exchange.payload
    stream = body.get("stream") is True
    model = exchange.model(exchange.record.deployment or "gpt-4o")
    if op_name == "responses.create":
        store = exchange.store
        response = response_reply(
            reply, body, new_id=store.new_id, model=model, created=exchange.now
        )
        if response["store"]:
            store.responses[response["id"]] = Tracked(response)
        if stream:
            return await exchange.sse(response_reply_events(response, reply))
        return await exchange.json(response)
    options = body.get("stream_options")
    usage = isinstance(options, Mapping) and options.get("include_usage") is True
    messages = body.get("messages")
    prompt = len(messages) if isinstance(messages, list) else 1
    seq, now = exchange.seq, exchange.now
    if stream:
        events = chat_reply_events(
            reply, seq=seq, model=model, created=now, prompt=prompt, include_usage=usage
        )
        return await exchange.sse(events)
    await exchange.json(chat_reply(reply, seq=seq, model=model, created=now, prompt=prompt))
