"""A Messages API answer -> a Responses ``response`` object (:func:`messages_to_response`),
and the ``response`` object itself as the stream reports it too (:func:`response_object`), with
the caller's settings echoed. Pure, no I/O (docs/claude.md, "Responses API").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _json
from ._common import finish_reason, responses_usage
from ._responses_items import (
    REDACTED_PREFIX,
    THINKING_PREFIX,
    base_id,
    call_item,
    message_item,
    output_item_id,
    reasoning_item,
)
from ._responses_tools import format_tool_name

__all__ = ["messages_to_response", "response_object"]


def _status(stop_reason: Any) -> tuple[str, dict[str, Any] | None]:
    """The response's ``status`` and ``incomplete_details``, read off Chat Completions'
    ``finish_reason`` for the stop reason (one table for both translations)."""
    reason = finish_reason(stop_reason)
    if reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_object(
    response_id: str,
    *,
    model: str,
    created: int,
    request: Mapping[str, Any],
    stop_reason: Any = None,
    output: list[dict[str, Any]] | None = None,
    usage: Any = None,
) -> dict[str, Any]:
    """The ``response`` object, echoing the caller's settings as the Responses API does.

    ``output`` None means in progress (the stream's first events).
    """
    status, incomplete = ("in_progress", None) if output is None else _status(stop_reason)
    reasoning = request.get("reasoning")
    text = request.get("text")
    parallel = request.get("parallel_tool_calls")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output or [],
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": None,
        "reasoning": {
            "effort": reasoning.get("effort") if isinstance(reasoning, Mapping) else None,
            "summary": reasoning.get("summary") if isinstance(reasoning, Mapping) else None,
        },
        "store": False,  # Claude responses are not stored (docs/claude.md)
        "temperature": request.get("temperature", 1.0),
        "text": text if isinstance(text, Mapping) else {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None if output is None else responses_usage(usage),
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def messages_to_response(
    message: Mapping[str, Any], *, model: str, created: int, request: Mapping[str, Any]
) -> dict[str, Any]:
    """A Messages API answer -> a Responses ``response`` object.

    ``model`` is the alias the caller used, ``created`` the Unix time to report and
    ``request`` the caller's Responses body (its settings are echoed, and its ``text.format``
    tells which tool_use is the JSON answer).
    """
    base = base_id(message.get("id"))
    answer_tool = format_tool_name(request)
    output: list[dict[str, Any]] = []
    joinable = False  # whether the last item is a message that the next text block extends
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        index = len(output)
        if kind == "text" or (kind == "tool_use" and block.get("name") == answer_tool):
            if kind == "text":
                text = str(block.get("text") or "")
            else:
                text = _json.dumps(block.get("input") or {}).decode()
            if joinable:
                output[-1]["content"][0]["text"] += text
            else:
                output.append(message_item(output_item_id(base, "msg", index), text))
            joinable = kind == "text"
            continue
        joinable = False
        if kind == "tool_use":
            arguments = _json.dumps(block.get("input") or {}).decode()
            item_id = output_item_id(base, "fc", index)
            output.append(
                call_item(item_id, str(block.get("id")), str(block.get("name")), arguments)
            )
        elif kind == "thinking":
            signature = THINKING_PREFIX + str(block.get("signature") or "")
            item_id = output_item_id(base, "rs", index)
            output.append(reasoning_item(item_id, str(block.get("thinking") or ""), signature))
        elif kind == "redacted_thinking":
            encrypted = REDACTED_PREFIX + str(block.get("data") or "")
            output.append(reasoning_item(output_item_id(base, "rs", index), "", encrypted))
    return response_object(
        f"resp_{base}",
        model=model,
        created=created,
        request=request,
        stop_reason=message.get("stop_reason"),
        output=output,
        usage=message.get("usage"),
    )
