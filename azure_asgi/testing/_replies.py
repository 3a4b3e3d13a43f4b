"""Pure builders of Azure OpenAI chat completion bodies and their SSE events.

Nothing here does I/O: the emulator plans a reply once per request (:func:`plan_chat`) and
renders it either as one JSON body (:func:`chat_json`) or as a list of ready-to-send SSE
events (:func:`chat_events`), so the per-request path is a handful of ``json_text`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._json import json_text
from ._schema import (
    Conversation,
    ToolSpec,
    instance_for,
    json_pieces,
    structured_text,
    tool_for,
)
from ._text import content_text, count_words, last_user_text, pieces, prompt_words, truncate

__all__ = [
    "DEFAULT_MODEL",
    "ChatReply",
    "azure_error",
    "chat_events",
    "chat_json",
    "plan_chat",
    "validate_chat",
]

DEFAULT_MODEL = "gpt-4o-2024-11-20"
SYSTEM_FINGERPRINT = "fp_emulator"

_SAFE = {"filtered": False, "severity": "safe"}
_NOT_DETECTED = {"filtered": False, "detected": False}
# Azure annotates each choice with the four harm categories plus protected-material checks,
# and the prompt with the four categories plus jailbreak detection.
CHOICE_FILTER_RESULTS: dict[str, Any] = {
    "hate": _SAFE,
    "protected_material_code": _NOT_DETECTED,
    "protected_material_text": _NOT_DETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
PROMPT_FILTER_RESULTS: list[dict[str, Any]] = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": _SAFE,
            "jailbreak": _NOT_DETECTED,
            "self_harm": _SAFE,
            "sexual": _SAFE,
            "violence": _SAFE,
        },
    }
]
# Streamed content chunks carry only the harm categories (protected material is annotated
# once the whole completion is known).
_CHUNK_FILTER_JSON = json_text(
    {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
)


def azure_error(code: str, message: str, **extra: Any) -> bytes:
    """An Azure-shaped error body: ``{"error": {"code": ..., "message": ..., **extra}}``."""
    return json_text({"error": {"code": code, "message": message, **extra}}).encode()


def validate_chat(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(message, param, code)`` of the first problem with a chat request, or None."""
    messages = body.get("messages")
    if messages is None:
        return ("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        return ("Invalid type for 'messages': expected an array.", "messages", "invalid_type")
    if not messages:
        return (
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "messages",
            "empty_array",
        )
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        return ("Invalid 'n': expected an integer of at least 1.", "n", "invalid_value")
    return None


@dataclass(frozen=True, slots=True)
class ChatReply:
    """Everything a chat completion reply says, decided once per request."""

    id: str
    created: int
    model: str
    n: int
    text: str | None  # None when the reply is a tool call
    tool_name: str | None
    arguments: str
    call_ids: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _tools(body: Mapping[str, Any]) -> list[ToolSpec]:
    """The function tools offered, with their parameters schemas."""
    tools, offered = [], body.get("tools")
    for tool in offered if isinstance(offered, list) else []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            schema = parameters if isinstance(parameters, Mapping) else {"type": "object"}
            tools.append(ToolSpec(function["name"], schema))
    return tools


def _tool_choice(choice: Any) -> tuple[str, str | None]:
    """``(mode, name)`` of a chat ``tool_choice``: auto, none, required or named."""
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return "named", function["name"]
    if choice in ("none", "required"):
        return str(choice), None
    return "auto", None


def _conversation(messages: Sequence[Any]) -> Conversation:
    """Whether the last message is a user one; the trailing tool results' text (None when
    the last message is no tool result); the tools called since the last user message."""
    last = messages[-1] if isinstance(messages[-1], Mapping) else {}
    results = []
    for message in reversed(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ("tool", "function"):
            break
        results.append(content_text(message.get("content")))
    called: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, Mapping) or message.get("role") == "user":
            break
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                called.append(function["name"])
    result = "\n".join(reversed(results)) if results else None
    return Conversation(last.get("role") == "user", result, called)


def _format_schema(body: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    """Whether ``response_format`` asks for JSON, and the schema of a ``json_schema`` one."""
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping):
        return False, None
    if fmt.get("type") == "json_object":
        return True, None
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return True, schema if isinstance(schema, Mapping) else {}
    return False, None


def plan_chat(body: Mapping[str, Any], *, seq: int, model: str, created: int) -> ChatReply:
    """Decide the deterministic reply to a validated chat completions request body.

    Tools and response formats follow the rule in :mod:`._schema` (docs/testing.md).
    """
    messages = body["messages"]
    n = body.get("n") or 1
    prompt = last_user_text(messages)
    where = _conversation(messages)
    result = where.result
    tool = tool_for(_tools(body), _tool_choice(body.get("tool_choice")), prompt, where)
    call_ids = tuple(f"call_{seq}_{i}" for i in range(n)) if tool else ()
    if tool is not None:
        arguments = json_text(instance_for(tool.parameters, prompt))
        text: str | None = None
        finish = "tool_calls"
        words = count_words(arguments)
    else:
        echo = prompt if result is None else result
        wants_json, schema = _format_schema(body)
        if wants_json:
            echo = structured_text(schema, echo)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        text, cut = truncate(echo, limit)
        arguments = ""
        finish = "length" if cut else "stop"
        words = count_words(text)
    return ChatReply(
        id=f"chatcmpl-emu{seq:08d}",
        created=created,
        model=model,
        n=n,
        text=text,
        tool_name=tool.name if tool else None,
        arguments=arguments,
        call_ids=call_ids,
        finish_reason=finish,
        prompt_tokens=prompt_words(messages),
        completion_tokens=words * n,
    )


def _usage(reply: ChatReply) -> dict[str, Any]:
    return {
        "completion_tokens": reply.completion_tokens,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": reply.prompt_tokens,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def chat_json(reply: ChatReply) -> bytes:
    """The non-streaming ``chat.completion`` body, in Azure's shape."""
    choices = []
    for index in range(reply.n):
        message: dict[str, Any] = {
            "annotations": [],
            "content": reply.text,
            "refusal": None,
            "role": "assistant",
        }
        if reply.tool_name is not None:
            message["tool_calls"] = [
                {
                    "function": {"arguments": reply.arguments, "name": reply.tool_name},
                    "id": reply.call_ids[index],
                    "type": "function",
                }
            ]
        choices.append(
            {
                "content_filter_results": CHOICE_FILTER_RESULTS,
                "finish_reason": reply.finish_reason,
                "index": index,
                "logprobs": None,
                "message": message,
            }
        )
    body = {
        "choices": choices,
        "created": reply.created,
        "id": reply.id,
        "model": reply.model,
        "object": "chat.completion",
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": _usage(reply),
    }
    return json_text(body).encode()


def _event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def chat_events(reply: ChatReply, *, include_usage: bool = False) -> list[bytes]:
    """The SSE events of a streamed reply, in Azure's order, ``data: [DONE]`` last.

    Azure first sends a chunk with empty ``choices`` carrying ``prompt_filter_results``, then
    a role chunk, content chunks annotated with ``content_filter_results``, a finish chunk,
    the usage chunk when ``stream_options.include_usage`` is set, and ``[DONE]``.
    """
    # The common tail of every chunk is serialised once; each content chunk then costs one
    # json.dumps of its text piece.
    usage_null = ',"usage":null' if include_usage else ""
    tail = (
        f'"created":{reply.created},"id":{json_text(reply.id)},"model":{json_text(reply.model)},'
        f'"object":"chat.completion.chunk","system_fingerprint":"{SYSTEM_FINGERPRINT}"'
        f"{usage_null}}}"
    )

    def chunk(index: int, filters: str, delta: str, finish: str | None = None) -> bytes:
        return _event(
            f'{{"choices":[{{"content_filter_results":{filters},"delta":{delta},'
            f'"finish_reason":{json_text(finish)},"index":{index},"logprobs":null}}],{tail}'
        )

    first: dict[str, Any] = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
    }
    events = [_event(json_text(first))]
    choices = range(reply.n)
    if reply.tool_name is None:
        for index in choices:
            events.append(chunk(index, "{}", '{"content":"","refusal":null,"role":"assistant"}'))
        for piece in pieces(reply.text or ""):
            delta = f'{{"content":{json_text(piece)}}}'
            events.extend(chunk(index, _CHUNK_FILTER_JSON, delta) for index in choices)
    else:
        for index in choices:
            call = {
                "index": 0,
                "id": reply.call_ids[index],
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": ""},
            }
            delta = json_text(
                {"content": None, "refusal": None, "role": "assistant", "tool_calls": [call]}
            )
            events.append(chunk(index, "{}", delta))
        for piece in json_pieces(reply.arguments):
            delta = json_text({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            events.extend(chunk(index, "{}", delta) for index in choices)
    events.extend(chunk(index, "{}", "{}", reply.finish_reason) for index in choices)
    if include_usage:
        usage = {
            "choices": [],
            "created": reply.created,
            "id": reply.id,
            "model": reply.model,
            "object": "chat.completion.chunk",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "usage": _usage(reply),
        }
        events.append(_event(json_text(usage)))
    events.append(b"data: [DONE]\n\n")
    return events
