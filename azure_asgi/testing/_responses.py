"""The Responses API: create (JSON or SSE), retrieve, delete, input items and cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._exchange import Exchange, Handler, positive_int
from ._json import json_bytes, json_text
from ._replies import DEFAULT_MODEL
from ._schema import (
    Conversation,
    ToolSpec,
    instance_for,
    json_pieces,
    structured_text,
    tool_for,
)
from ._store import Store, Tracked, page
from ._text import count_words, pieces, truncate

__all__ = ["RESPONSES", "response_events"]

_TEXT_PARTS = ("input_text", "output_text", "text")
_TERMINAL = ("completed", "incomplete", "failed")


def _input_items(value: Any, store: Store) -> list[dict[str, Any]] | None:
    """The request's ``input`` as stored items, each with an id; None when malformed."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return None
    items = []
    for raw in value:
        if not isinstance(raw, Mapping):
            return None
        item = dict(raw)
        if "role" in item and item.get("type", "message") == "message":
            content = item.get("content")
            if isinstance(content, str):
                kind = "output_text" if item["role"] == "assistant" else "input_text"
                content = [{"type": kind, "text": content}]
            given = {"id": item["id"]} if isinstance(item.get("id"), str) else {}
            item = {**given, "content": content, "role": item["role"], "status": "completed"}
            item["type"] = "message"
        item.setdefault("id", store.new_id("msg_" if item.get("type") == "message" else "item_"))
        items.append(item)
    return items


def _text(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return " ".join(
        part["text"]
        for part in content
        if isinstance(part, Mapping)
        and part.get("type") in _TEXT_PARTS
        and isinstance(part.get("text"), str)
    )


def _last_user_text(items: Sequence[Mapping[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("role") == "user" and _text(item):
            return _text(item)
    return ""


def _tools(body: Mapping[str, Any]) -> list[ToolSpec]:
    tools, offered = [], body.get("tools")
    for tool in offered if isinstance(offered, list) else []:
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            continue
        if isinstance(tool.get("name"), str):
            parameters = tool.get("parameters")
            schema = parameters if isinstance(parameters, Mapping) else {"type": "object"}
            tools.append(ToolSpec(tool["name"], schema))
    return tools


def _tool_choice(choice: Any) -> tuple[str, str | None]:
    """``(mode, name)`` of a Responses ``tool_choice``: auto, none, required or named."""
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        name = choice.get("name")
        return "named", name if isinstance(name, str) else None
    if choice in ("none", "required"):
        return str(choice), None
    return "auto", None


def _output_text(output: Any) -> str:
    """The text of a ``function_call_output``: a string, or its text parts."""
    if isinstance(output, str):
        return output
    return _text({"content": output})


def _conversation(items: Sequence[Mapping[str, Any]]) -> Conversation:
    """As for chat: whether the last item is a user message, the trailing tool outputs'
    text (None when there are none), the functions called since the last user message."""
    results = []
    for item in reversed(items):
        if item.get("type") != "function_call_output":
            break
        results.append(_output_text(item.get("output")))
    called = []
    for item in reversed(items):
        if item.get("role") == "user":
            break
        if item.get("type") == "function_call" and isinstance(item.get("name"), str):
            called.append(item["name"])
    last_is_user = bool(items) and items[-1].get("role") == "user"
    return Conversation(last_is_user, "\n".join(reversed(results)) if results else None, called)


def _format_schema(body: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    """Whether ``text.format`` asks for JSON, and the schema of a ``json_schema`` one."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping):
        return False, None
    if fmt.get("type") == "json_object":
        return True, None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return True, schema if isinstance(schema, Mapping) else {}
    return False, None


def _plan(ex: Exchange, items: list[dict[str, Any]], previous: Tracked | None) -> dict[str, Any]:
    """The finished response to a validated create request (tools: the rule in ``_schema``)."""
    body, store = ex.payload, ex.store
    prompt = _last_user_text(items) or (_last_user_text(previous.items) if previous else "")
    where = _conversation(items)
    result = where.result
    tool = tool_for(_tools(body), _tool_choice(body.get("tool_choice")), prompt, where)
    incomplete = None
    if tool is not None:
        arguments = json_text(instance_for(tool.parameters, prompt))
        output: dict[str, Any] = {
            "arguments": arguments,
            "call_id": store.new_id("call_", 24),
            "id": store.new_id("fc_"),
            "name": tool.name,
            "status": "completed",
            "type": "function_call",
        }
        words = count_words(arguments)
    else:
        echo = prompt if result is None else result
        wants_json, schema = _format_schema(body)
        if wants_json:
            echo = structured_text(schema, echo)
        text, cut = truncate(echo, body.get("max_output_tokens"))
        part = {"annotations": [], "logprobs": [], "text": text, "type": "output_text"}
        output = {
            "content": [part],
            "id": store.new_id("msg_"),
            "role": "assistant",
            "status": "incomplete" if cut else "completed",
            "type": "message",
        }
        incomplete = {"reason": "max_output_tokens"} if cut else None
        words = count_words(text)
    instructions = body.get("instructions")
    tokens = sum(len(_text(item).split()) for item in items)
    tokens = max(1, tokens + len(instructions.split() if isinstance(instructions, str) else []))
    created = ex.now
    return {
        "background": body.get("background") is True,
        "completed_at": None if incomplete else created,
        "created_at": created,
        "error": None,
        "id": store.new_id("resp_"),
        "incomplete_details": incomplete,
        "instructions": instructions,
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "metadata": body.get("metadata") or {},
        "model": ex.model(ex.record.deployment or DEFAULT_MODEL),
        "object": "response",
        "output": [output],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "status": "incomplete" if incomplete else "completed",
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": {
            "input_tokens": tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": tokens + words,
        },
        "user": body.get("user"),
    }


def response_events(response: Mapping[str, Any]) -> list[bytes]:
    """The SSE events of a streamed response, ``response.completed`` (or ``.incomplete``) last.

    Every event is ``event: <type>`` plus ``data`` carrying the same ``type`` and a
    ``sequence_number`` counting from 0; text arrives as one ``output_text.delta`` per word.
    """
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(events), **fields}
        events.append(b"event: " + kind.encode() + b"\ndata: " + json_bytes(data) + b"\n\n")

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    pending.update(completed_at=None, incomplete_details=None)
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            for piece in json_pieces(item["arguments"]):
                emit("response.function_call_arguments.delta", **at, delta=piece)
            emit("response.function_call_arguments.done", **at, arguments=item["arguments"])
        else:
            started = {**item, "content": [], "status": "in_progress"}
            emit("response.output_item.added", output_index=index, item=started)
            for content_index, part in enumerate(item["content"]):
                where = {**at, "content_index": content_index}
                emit("response.content_part.added", **where, part={**part, "text": ""})
                for piece in pieces(part["text"]):
                    emit("response.output_text.delta", **where, delta=piece, logprobs=[])
                emit("response.output_text.done", **where, text=part["text"], logprobs=[])
                emit("response.content_part.done", **where, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    final = "response.completed" if response["status"] == "completed" else "response.incomplete"
    emit(final, response=response)
    return events


async def responses_create(ex: Exchange) -> None:
    body, store = ex.payload, ex.store
    items = _input_items(body.get("input"), store)
    if items is None:
        message = "Invalid 'input': expected a string or an array of input items."
        return await ex.invalid(message, "input")
    limit = body.get("max_output_tokens")
    if limit is not None and positive_int(limit, 1) is None:
        message = "Invalid 'max_output_tokens': expected a positive integer."
        return await ex.invalid(message, "max_output_tokens")
    previous_id = body.get("previous_response_id")
    previous = store.responses.get(previous_id) if isinstance(previous_id, str) else None
    if previous_id is not None and previous is None:
        message = f"Previous response with id '{previous_id}' not found."
        return await ex.invalid(message, "previous_response_id", "previous_response_not_found")
    background = body.get("background") is True
    if background and body.get("store") is False:
        return await ex.invalid("Background mode requires 'store' to be true.", "store")
    response = _plan(ex, items, previous)
    if background:
        later = {key: response[key] for key in ("completed_at", "output", "status", "usage")}
        response.update(completed_at=None, output=[], status="queued", usage=None)
        store.responses[response["id"]] = Tracked(response, items=items, later=later)
        return await ex.json(response)
    if response["store"]:
        store.responses[response["id"]] = Tracked(response, items=items)
    if body.get("stream") is True:
        return await ex.sse(response_events(response))
    await ex.json(response)


def _stored(ex: Exchange) -> Tracked | None:
    return ex.store.responses.get(ex.object_id)


async def responses_retrieve(ex: Exchange) -> None:
    """A background response moves on with each retrieval: queued, in_progress, finished."""
    tracked = _stored(ex)
    if tracked is None:
        return await ex.not_found("Response", ex.object_id)
    response = tracked.obj
    if response["status"] == "queued":
        response["status"] = "in_progress"
    elif response["status"] == "in_progress" and tracked.later is not None:
        response.update(tracked.later)
        tracked.later = None
    await ex.json(response)


async def responses_delete(ex: Exchange) -> None:
    if ex.store.responses.pop(ex.object_id, None) is None:
        return await ex.not_found("Response", ex.object_id)
    await ex.json({"deleted": True, "id": ex.object_id, "object": "response"})


async def responses_input_items(ex: Exchange) -> None:
    tracked = _stored(ex)
    if tracked is None:
        return await ex.not_found("Response", ex.object_id)
    await ex.json(page(tracked.items, ex.record.query))


async def responses_cancel(ex: Exchange) -> None:
    tracked = _stored(ex)
    if tracked is None:
        return await ex.not_found("Response", ex.object_id)
    response = tracked.obj
    if not response["background"]:
        message = "Only responses created with background=true can be cancelled."
        return await ex.invalid(message, None, "invalid_request_error")
    if response["status"] in _TERMINAL:
        message = f"Cannot cancel a response with status '{response['status']}'."
        return await ex.invalid(message, None, "invalid_state")
    response["status"] = "cancelled"
    tracked.later = None
    await ex.json(response)


RESPONSES: dict[str, Handler] = {
    "responses.create": responses_create,
    "responses.retrieve": responses_retrieve,
    "responses.delete": responses_delete,
    "responses.input_items": responses_input_items,
    "responses.cancel": responses_cancel,
}
