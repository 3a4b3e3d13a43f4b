"""Responses ``input`` (and ``instructions``) -> Messages API system blocks and turns:
messages and their content parts, ``function_call`` / ``function_call_output`` items as
tool use and results, and Claude's own reasoning items sent back as thinking blocks. Pure, no
I/O (docs/claude.md, "Responses API").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ..._errors import GatewayError
from ._content import cache_control, document_block, image_block
from ._responses_items import REDACTED_PREFIX, THINKING_PREFIX

__all__ = ["conversation", "invalid_param", "unsupported_param"]


def unsupported_param(param: str, message: str) -> GatewayError:
    """A 400 ``unsupported_parameter`` for ``param``, the message saying the fix."""
    return GatewayError(400, message, code="unsupported_parameter", param=param)


def invalid_param(param: str | None, message: str) -> GatewayError:
    """A 400 ``invalid_request`` for a malformed ``param``."""
    return GatewayError(400, message, code="invalid_request", param=param)


class _Turns:
    """The conversation being built: adjacent same-role turns merged as they arrive."""

    __slots__ = ("calls", "messages", "system")

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.calls: set[str] = set()

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": blocks})


def conversation(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)`` for a Responses body's ``instructions`` and ``input``."""
    turns = _Turns()
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise invalid_param("instructions", "`instructions` must be a string.")
        if instructions:
            turns.system.append({"type": "text", "text": instructions})
    given = body.get("input")
    if isinstance(given, str):
        turns.add("user", [{"type": "text", "text": given}] if given else [])
    elif isinstance(given, list):
        for i, item in enumerate(given):
            _item(turns, item, f"input[{i}]")
    elif given is None:
        raise invalid_param("input", "`input` is required: a string or a list of input items.")
    else:
        raise invalid_param("input", "`input` must be a string or a list of input items.")
    if not turns.messages:
        raise invalid_param("input", "`input` holds no user or assistant content to answer.")
    for message in turns.messages:
        if message["role"] == "user":
            # Claude wants a turn's tool results before anything else in it.
            blocks = message["content"]
            message["content"] = [b for b in blocks if b["type"] == "tool_result"] + [
                b for b in blocks if b["type"] != "tool_result"
            ]
    return turns.system, turns.messages


def _item(turns: _Turns, item: Any, at: str) -> None:
    if not isinstance(item, Mapping):
        raise invalid_param(at, f"`{at}` must be an input item object.")
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            turns.system.extend(_parts(item.get("content"), at, system=True))
        elif role in ("user", "assistant"):
            turns.add(role, _parts(item.get("content"), at, system=False))
        else:
            raise invalid_param(
                f"{at}.role", f"`{at}.role` must be user, assistant, system or developer."
            )
    elif kind == "function_call":
        call_id = _string(item, "call_id", at)
        name = _string(item, "name", at)
        turns.calls.add(call_id)
        block: dict[str, Any] = {"type": "tool_use", "id": call_id, "name": name}
        block["input"] = _arguments(item.get("arguments"), f"{at}.arguments")
        turns.add("assistant", [block])
    elif kind == "function_call_output":
        call_id = _string(item, "call_id", at)
        if call_id not in turns.calls:
            raise invalid_param(
                f"{at}.call_id",
                f"No function_call item with call_id {call_id!r} comes before `{at}`: send the "
                "function_call item the output answers first.",
            )
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
        output = item.get("output")
        if isinstance(output, str):
            if output:
                result["content"] = output
        elif isinstance(output, list):
            blocks = [_part(part, f"{at}.output[{j}]") for j, part in enumerate(output)]
            content = [b for b in blocks if b is not None]
            if content:
                result["content"] = content
        else:
            raise invalid_param(
                f"{at}.output", f"`{at}.output` must be a string or a list of parts."
            )
        turns.add("user", [result])
    elif kind == "reasoning":
        thinking = _thinking_block(item)
        if thinking is not None:
            turns.add("assistant", [thinking])
    else:
        raise unsupported_param(
            f"{at}.type",
            f"Claude deployments cannot take {kind!r} input items: send messages, "
            "function_call, function_call_output and reasoning items only.",
        )


def _string(item: Mapping[str, Any], key: str, at: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise invalid_param(f"{at}.{key}", f"`{at}.{key}` must be a non-empty string.")
    return value


def _arguments(raw: Any, at: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = _json.loads(raw)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    raise invalid_param(
        at, f"`{at}` must be a JSON object encoded as a string (Claude's tool input)."
    )


def _thinking_block(item: Mapping[str, Any]) -> dict[str, Any] | None:
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str):
        return None
    if encrypted.startswith(REDACTED_PREFIX):
        return {"type": "redacted_thinking", "data": encrypted[len(REDACTED_PREFIX) :]}
    if not encrypted.startswith(THINKING_PREFIX):
        return None  # not a Claude thinking block: Claude would refuse its signature
    # The summary holds the block's text as Claude sent it; content is read when a caller
    # kept the text there instead.
    text = _joined_text(item.get("summary")) or _joined_text(item.get("content"))
    return {"type": "thinking", "thinking": text, "signature": encrypted[len(THINKING_PREFIX) :]}


def _joined_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(
        p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)
    )


def _parts(content: Any, at: str, *, system: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid_param(f"{at}.content", f"`{at}.content` must be a string or a list of parts.")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        block = _part(part, f"{at}.content[{j}]")
        if block is None:
            continue
        if system and block["type"] != "text":
            raise unsupported_param(
                f"{at}.content[{j}].type",
                "Claude's system prompt holds text only: move images and files to a user message.",
            )
        blocks.append(block)
    return blocks


def _part(part: Any, at: str) -> dict[str, Any] | None:
    """One content part as a Claude block; None for an empty text (Claude refuses those)."""
    if not isinstance(part, Mapping):
        raise invalid_param(at, f"`{at}` must be a content part object.")
    kind = part.get("type")
    block: dict[str, Any]
    if kind in ("input_text", "output_text", "text", "refusal"):
        key = "refusal" if kind == "refusal" else "text"
        text = part.get(key)
        if not isinstance(text, str):
            raise invalid_param(f"{at}.{key}", f"`{at}.{key}` must be a string.")
        if not text:
            return None
        block = {"type": "text", "text": text}
    elif kind == "input_image":
        block = image_block(
            part.get("image_url"), where=f"{at}.image_url", file_id=part.get("file_id")
        )
    elif kind == "input_file":
        block = document_block(
            part.get("file_data"),
            where=at,
            filename=part.get("filename"),
            file_id=part.get("file_id"),
            file_url=part.get("file_url"),
        )
    else:
        raise invalid_param(
            f"{at}.type",
            f"`{at}.type` {kind!r} is not a content part Claude takes (input_text, "
            "output_text, input_image, input_file).",
        )
    return cache_control(part, block)
