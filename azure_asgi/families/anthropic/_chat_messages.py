"""Chat Completions ``messages`` -> Messages API turns: content parts, tool calls and their
results, signed thinking blocks sent back, and the turn rules the Messages API enforces (one
system prompt, alternating roles, tool results first, a user turn first, no trailing
whitespace in a prefill). Pure functions, no I/O (docs/claude.md, "Chat Completions → Messages").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ..._errors import GatewayError
from ._common import invalid
from ._content import cache_control, document_block, image_block

__all__ = ["ChatTurns", "chat_turns", "unsupported"]

#: Roles whose text goes to the top-level ``system``.
_SYSTEM_ROLES = ("system", "developer")


def unsupported(field: str, why: str) -> GatewayError:
    """A 400 ``unsupported_parameter`` for a field Claude cannot honour, and why."""
    return GatewayError(
        400,
        f"'{field}' is not supported for Claude deployments: {why}",
        code="unsupported_parameter",
        param=field,
    )


def _parts(content: Any, where: str, *, images: bool) -> list[dict[str, Any]]:
    """Messages blocks for OpenAI message content (a string or a list of parts). Empty text is
    left out: the Messages API refuses empty text blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid(f"{where} must be a string or a list of content parts.", where)
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise invalid(f"{at}.{kind} must be a string.", f"{at}.{kind}")
            if text:
                blocks.append(cache_control(part, {"type": "text", "text": text}))
        elif kind == "image_url" and images:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            blocks.append(cache_control(part, image_block(url, where=f"{at}.image_url.url")))
        elif kind == "file" and images:
            file = part.get("file")
            if not isinstance(file, Mapping):
                raise invalid(f"{at}.file must be an object with file_data.", f"{at}.file")
            block = document_block(
                file.get("file_data"),
                where=f"{at}.file",
                filename=file.get("filename"),
                file_id=file.get("file_id"),
            )
            blocks.append(cache_control(part, block))
        elif kind == "input_audio":
            raise GatewayError(
                400,
                f"{at}: Claude deployments do not take audio input.",
                code="unsupported_parameter",
                param=at,
            )
        else:
            allowed = "text, image_url or file" if images else "text"
            raise invalid(f"{at} has type {kind!r}; this message takes {allowed} parts.", at)
    return blocks


def _text_or_parts(content: Any, i: int, *, images: bool) -> list[dict[str, Any]]:
    """:func:`_parts` of message ``i``'s content; a plain string without writing where it is."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return _parts(content, f"messages[{i}].content", images=images)


def _thinking_blocks(blocks: Any, where: str) -> list[dict[str, Any]]:
    """The signed thinking blocks a caller sends back (what :func:`messages_to_chat` and
    :class:`ChatStream` gave it), as Messages blocks; an accumulated stream's ``index`` dropped."""
    if not isinstance(blocks, list):
        raise invalid(f"{where} must be a list of thinking blocks.", where)
    out: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        at = f"{where}[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "thinking":
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(thinking, str) or not isinstance(signature, str):
                raise invalid(f"{at} needs string thinking and signature fields.", at)
            out.append({"type": "thinking", "thinking": thinking, "signature": signature})
        elif kind == "redacted_thinking":
            if not isinstance(block.get("data"), str):
                raise invalid(f"{at} needs a string data field.", at)
            out.append({"type": "redacted_thinking", "data": block["data"]})
        else:
            raise invalid(f"{at} must be a thinking or redacted_thinking block.", at)
    return out


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
        raise invalid(f"{where} must be a function tool call.", where)
    if call.get("type", "function") != "function":
        raise GatewayError(
            400,
            f"{where}.type {call.get('type')!r}: only function tool calls translate to Claude.",
            code="unsupported_parameter",
            param=f"{where}.type",
        )
    function = call["function"]
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise invalid(f"{where}.id must be the tool call's id.", f"{where}.id")
    if not isinstance(function.get("name"), str) or not function["name"]:
        raise invalid(f"{where}.function.name must be a string.", f"{where}.function.name")
    arguments = function.get("arguments")
    at = f"{where}.function.arguments"
    if arguments in (None, ""):
        parsed: Any = {}
    elif not isinstance(arguments, str):
        raise invalid(f"{at} must be a JSON string.", at)
    else:
        try:
            parsed = _json.loads(arguments)
        except ValueError as exc:
            raise invalid(
                f"{at} is not valid JSON ({exc}); send the arguments as given.", at
            ) from None
    if not isinstance(parsed, dict):
        raise invalid(f"{at} must be a JSON object (Claude's tool inputs are objects).", at)
    return {"type": "tool_use", "id": call["id"], "name": function["name"], "input": parsed}


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    tool_call_id = message.get("tool_call_id")
    if not isinstance(tool_call_id, str) or not tool_call_id:
        raise invalid(f"{where}.tool_call_id must be a string.", f"{where}.tool_call_id")
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_call_id}
    if isinstance(content, str):
        if content:
            block["content"] = content
    else:
        parts = _parts(content, f"{where}.content", images=False)
        if parts:
            block["content"] = parts
    return block


class ChatTurns:
    """Messages turns under construction: adjacent same-role turns merged, tool results checked
    against the tool calls they answer (the Messages API refuses unmatched ids)."""

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self._pending: dict[str, str] = {}  # unanswered tool call id -> where it was made

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return  # an empty message says nothing; leaving it out keeps turns valid
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["content"].extend(blocks)
        else:
            self.turns.append({"role": role, "content": blocks})

    def answer(self, block: dict[str, Any], where: str) -> None:
        if self._pending.pop(block["tool_use_id"], None) is None:
            raise invalid(
                f"{where}.tool_call_id {block['tool_use_id']!r} answers no tool call of the "
                "assistant message before it.",
                f"{where}.tool_call_id",
            )
        self.add("user", [block])

    def settle(self) -> None:
        """Before a message other than a tool result: every tool call must have its answer."""
        if self._pending:
            ids = ", ".join(sorted(self._pending))
            where = next(iter(self._pending.values()))
            raise invalid(
                f"{where}: tool call(s) {ids} have no tool message answering them.", where
            )

    def call(self, blocks: list[dict[str, Any]], where: str) -> None:
        self.settle()
        self._pending = {b["id"]: f"{where}.tool_calls" for b in blocks if b["type"] == "tool_use"}
        self.add("assistant", blocks)


def chat_turns(messages: Any) -> ChatTurns:
    """The Messages turns (and system blocks) for a Chat Completions ``messages`` list."""
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty list.", "messages")
    turns = ChatTurns()
    for i, message in enumerate(messages):
        # (Parsed JSON: a dict. The usual message, text from the system or the user, takes
        # the first two branches and never needs its location, so it is not written.)
        if not isinstance(message, dict):
            raise invalid(f"messages[{i}] must be an object.", f"messages[{i}]")
        role = message.get("role")
        content = message.get("content")
        if role in _SYSTEM_ROLES:
            # The Messages API has one system prompt; system text anywhere joins it, in order.
            turns.system += _text_or_parts(content, i, images=False)
            continue
        if role == "user":
            turns.settle()
            blocks = _text_or_parts(content, i, images=True)
            if message.get("cache_control") is not None and blocks:
                blocks[-1]["cache_control"] = message["cache_control"]
            turns.add("user", blocks)
            continue
        where = f"messages[{i}]"
        if role == "tool":
            turns.answer(_tool_result(message, where), where)
            continue
        turns.settle()
        if role == "assistant":
            if message.get("function_call") is not None:
                raise unsupported(f"{where}.function_call", "send tool_calls instead.")
            blocks = []
            if message.get("thinking_blocks") is not None:
                blocks = _thinking_blocks(message["thinking_blocks"], f"{where}.thinking_blocks")
            blocks += _parts(message.get("content"), f"{where}.content", images=False)
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise invalid(f"{where}.tool_calls must be a list.", f"{where}.tool_calls")
            blocks += [_tool_use(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
            if message.get("cache_control") is not None and blocks:
                blocks[-1]["cache_control"] = message["cache_control"]
            turns.call(blocks, where)
            continue
        raise invalid(
            f"{where}.role {role!r} is not one of system, developer, user, assistant, tool.",
            f"{where}.role",
        )
    turns.settle()
    _finish_turns(turns)
    return turns


def _finish_turns(turns: ChatTurns) -> None:
    if not turns.turns:
        raise invalid("messages must hold at least one user message with content.", "messages")
    if turns.turns[0]["role"] != "user":
        # The Messages API starts with a user turn; a chat that opens with the assistant's
        # greeting gets a neutral one (docs/claude.md).
        turns.turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "."}]})
    for turn in turns.turns:
        content = turn["content"]
        if turn["role"] == "user" and len(content) > 1:
            # tool_result blocks must open their turn; text the caller sent after them follows.
            content.sort(key=lambda block: block["type"] != "tool_result")
    last = turns.turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # A final assistant message is a prefill, and the API refuses one ending in whitespace.
        text = last["content"][-1]["text"].rstrip()
        if text:
            last["content"][-1]["text"] = text
        else:
            last["content"].pop()
            if not last["content"]:
                turns.turns.pop()
