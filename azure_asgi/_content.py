"""Prompts and completions in the GenAI conventions' message shape, for content capture.

Used only with ``telemetry: {capture_content: true}`` (docs/observability.md): messages become
``{"role": ..., "parts": [{"type": "text", "content": ...}]}`` as the conventions'
``gen_ai.input.messages`` / ``gen_ai.output.messages`` describe them. Pure functions; parts
that are not text (images, audio, files) are named by type only, never copied.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StreamText", "input_messages", "output_messages"]

Message = dict[str, Any]


def _parts(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                parts.append({"type": "text", "content": part})
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append({"type": "text", "content": text})
                elif part.get("type") in ("tool_use", "function_call"):
                    parts.append(
                        {
                            "type": "tool_call",
                            "id": part.get("id") or part.get("call_id"),
                            "name": part.get("name"),
                            "arguments": part.get("input", part.get("arguments")),
                        }
                    )
                else:
                    parts.append({"type": str(part.get("type", "unknown"))})
    return parts


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls = message.get("tool_calls")
    parts = []
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                fn = call["function"]
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "arguments": fn.get("arguments"),
                    }
                )
    return parts


def input_messages(data: dict[str, Any] | None) -> list[Message]:
    """The request's input: chat ``messages``, a Responses ``input``, a completion ``prompt``,
    or Anthropic ``system`` + ``messages``."""
    if not isinstance(data, dict):
        return []
    out: list[Message] = []
    system = data.get("system") or data.get("instructions")
    if system:
        out.append({"role": "system", "parts": _parts(system)})
    messages = data.get("messages")
    if messages is None:
        messages = data.get("input")
    if messages is None and isinstance(data.get("prompt"), str | list):
        messages = [{"role": "user", "content": data["prompt"]}]
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                parts = _parts(message.get("content")) + _tool_calls(message)
                out.append({"role": str(message.get("role", "user")), "parts": parts})
    return out


def output_messages(data: dict[str, Any]) -> list[Message]:
    """A JSON answer's output: chat or completion ``choices``, Responses ``output`` items, or
    an Anthropic message's ``content``."""
    choices = data.get("choices")
    if isinstance(choices, list):
        out = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                parts = _parts(message.get("content")) + _tool_calls(message)
            else:
                parts = _parts(choice.get("text"))
            out.append(
                {"role": "assistant", "parts": parts, "finish_reason": choice.get("finish_reason")}
            )
        return out
    if isinstance(data.get("output"), list):
        parts = []
        for item in data["output"]:
            if isinstance(item, dict):
                parts += _parts(item.get("content")) if "content" in item else _parts([item])
        return [{"role": "assistant", "parts": parts, "finish_reason": data.get("status")}]
    if isinstance(data.get("content"), list):
        return [
            {
                "role": str(data.get("role", "assistant")),
                "parts": _parts(data["content"]),
                "finish_reason": data.get("stop_reason"),
            }
        ]
    return []


class StreamText:
    """Accumulates a stream's text deltas (chat, completions, Responses, Anthropic)."""

    __slots__ = ("_texts", "_whole")

    def __init__(self) -> None:
        self._texts: dict[int, list[str]] = {}
        #: A Responses stream's completed response, whose output is the whole answer.
        self._whole: list[Message] | None = None

    def feed(self, data: dict[str, Any]) -> None:
        choices = data.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
                if isinstance(text, str) and text:
                    index = choice.get("index", 0)
                    self._texts.setdefault(index if isinstance(index, int) else 0, []).append(text)
            return
        kind = data.get("type")
        if kind == "response.completed" and isinstance(data.get("response"), dict):
            self._whole = output_messages(data["response"])
        elif kind == "content_block_delta" and isinstance(data.get("delta"), dict):
            text = data["delta"].get("text")
            if isinstance(text, str):
                self._texts.setdefault(0, []).append(text)

    def messages(self, finish_reasons: list[str]) -> list[Message]:
        if self._whole is not None:
            return self._whole
        out = []
        for n, index in enumerate(sorted(self._texts)):
            reason = finish_reasons[n] if n < len(finish_reasons) else None
            parts = [{"type": "text", "content": "".join(self._texts[index])}]
            out.append({"role": "assistant", "parts": parts, "finish_reason": reason})
        return out
