"""Pure rendering of scripted replies in the chat completions and Responses wire shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._json import json_bytes
from ._script import PIECE, Reply

__all__ = ["chat_reply", "chat_reply_events", "response_reply", "response_reply_events"]

_SAFE = {"filtered": False, "severity": "safe"}
_PROMPT_FILTERS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": _SAFE,
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": _SAFE,
            "sexual": _SAFE,
            "violence": _SAFE,
        },
    }
]
_CHOICE_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


def _tokens(reply: Reply) -> int:
    words = len((reply.text or "").split())
    words += sum(len(call.arguments_json.split()) for call in reply.tool_calls)
    return max(1, words)


def _usage(reply: Reply, prompt: int) -> dict[str, Any]:
    out = _tokens(reply)
    return {"completion_tokens": out, "prompt_tokens": prompt, "total_tokens": prompt + out}


def chat_reply(reply: Reply, *, seq: int, model: str, created: int, prompt: int) -> bytes:
    """A ``chat.completion`` body saying exactly ``reply``."""
    message: dict[str, Any] = {
        "annotations": [],
        "content": reply.text,
        "refusal": None,
        "role": "assistant",
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "function": {"arguments": call.arguments_json, "name": call.name},
                "id": reply.call_id(seq, index),
                "type": "function",
            }
            for index, call in enumerate(reply.tool_calls)
        ]
    choice = {
        "content_filter_results": _CHOICE_FILTERS,
        "finish_reason": reply.finish,
        "index": 0,
        "logprobs": None,
        "message": message,
    }
    return json_bytes(
        {
            "choices": [choice],
            "created": created,
            "id": f"chatcmpl-script{seq:08d}",
            "model": model,
            "object": "chat.completion",
            "prompt_filter_results": _PROMPT_FILTERS,
            "system_fingerprint": "fp_emulator",
            "usage": _usage(reply, prompt),
        }
    )


def chat_reply_events(
    reply: Reply, *, seq: int, model: str, created: int, prompt: int, include_usage: bool
) -> list[bytes]:
    """The SSE events of ``reply`` streamed as Azure does, ``[DONE]`` last."""
    base = {
        "created": created,
        "id": f"chatcmpl-script{seq:08d}",
        "model": model,
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_emulator",
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
        return _data({"choices": [{"content_filter_results": _CHOICE_FILTERS, **choice}], **base})

    first = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    events = [_data({**first, "prompt_filter_results": _PROMPT_FILTERS})]
    events.append(chunk({"content": "" if reply.text is not None else None, "role": "assistant"}))
    events.extend(chunk({"content": piece}) for piece in reply.deltas())
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": reply.call_id(seq, index), "type": "function"}
        head["function"] = {"name": call.name, "arguments": ""}
        events.append(chunk({"tool_calls": [head]}))
        for piece in PIECE.findall(call.arguments_json):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events.append(chunk({}, reply.finish))
    if include_usage:
        events.append(_data({**base, "choices": [], "usage": _usage(reply, prompt)}))
    events.append(b"data: [DONE]\n\n")
    return events


def _data(obj: Any) -> bytes:
    return b"data: " + json_bytes(obj) + b"\n\n"


def response_reply(
    reply: Reply, body: Mapping[str, Any], *, new_id: Callable[..., str], model: str, created: int
) -> dict[str, Any]:
    """A finished ``response`` object saying exactly ``reply``; ``new_id(prefix)`` or
    ``new_id(prefix, length)`` mints its ids (the emulator's store, so ids stay deterministic)."""
    output: list[dict[str, Any]] = []
    if reply.text is not None:
        part = {"annotations": [], "logprobs": [], "text": reply.text, "type": "output_text"}
        message = {"content": [part], "id": new_id("msg_"), "role": "assistant"}
        output.append({**message, "status": "completed", "type": "message"})
    for call in reply.tool_calls:
        output.append(
            {
                "arguments": call.arguments_json,
                "call_id": call.id or new_id("call_", 24),
                "id": new_id("fc_"),
                "name": call.name,
                "status": "completed",
                "type": "function_call",
            }
        )
    out = _tokens(reply)
    return {
        "background": False,
        "completed_at": created,
        "created_at": created,
        "error": None,
        "id": new_id("resp_"),
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "model": model,
        "object": "response",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "status": "completed",
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "usage": {
            "input_tokens": 1,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1 + out,
        },
    }


def response_reply_events(response: Mapping[str, Any], reply: Reply) -> list[bytes]:
    """The SSE events of a scripted response: text deltas are ``reply``'s chunks,
    ``response.completed`` last."""
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(events), **fields}
        events.append(b"event: " + kind.encode() + b"\ndata: " + json_bytes(data) + b"\n\n")

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    pending["completed_at"] = None
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            for piece in PIECE.findall(item["arguments"]):
                emit("response.function_call_arguments.delta", **at, delta=piece)
            emit("response.function_call_arguments.done", **at, arguments=item["arguments"])
        else:
            part = item["content"][0]
            started = {**item, "content": [], "status": "in_progress"}
            emit("response.output_item.added", output_index=index, item=started)
            where = {**at, "content_index": 0}
            emit("response.content_part.added", **where, part={**part, "text": ""})
            for piece in reply.deltas():
                emit("response.output_text.delta", **where, delta=piece, logprobs=[])
            emit("response.output_text.done", **where, text=part["text"], logprobs=[])
            emit("response.content_part.done", **where, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=response)
    return events
