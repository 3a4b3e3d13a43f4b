"""Helpers for the Responses <-> Claude Messages tests: a strict validator of Messages bodies
(what Claude on Foundry accepts), Messages event streams run through the translator and the
openai SDK's accumulator, hypothesis strategies, a canned Claude upstream."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from anthropic.types import (
    DocumentBlockParam,
    ImageBlockParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    ThinkingBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from azure_asgi._errors import GatewayError
from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._responses_answer import messages_to_response
from azure_asgi.families.anthropic._responses_request import responses_to_messages
from azure_asgi.families.anthropic._responses_stream import ResponsesStream

from .conftest import request_body, sse_events

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
PNG = "iVBORw0KGgo="


def translate(body: Mapping[str, Any], max_tokens: int = 1000) -> dict[str, Any]:
    return responses_to_messages(body, "claude-dep", max_tokens=max_tokens)


def refused(body: Mapping[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        translate(body)
    assert info.value.status == 400
    return info.value


# --- a strict Messages validator: what Claude on Foundry accepts -------------------------


def _keys(typed: Any) -> frozenset[str]:
    return frozenset(typed.__required_keys__ | typed.__optional_keys__)


BLOCKS = {
    "text": (_keys(TextBlockParam), {"text"}),
    "image": (_keys(ImageBlockParam), {"source"}),
    "document": (_keys(DocumentBlockParam), {"source"}),
    "tool_use": (_keys(ToolUseBlockParam), {"id", "name", "input"}),
    "tool_result": (_keys(ToolResultBlockParam), {"tool_use_id"}),
    "thinking": (_keys(ThinkingBlockParam), {"thinking", "signature"}),
    "redacted_thinking": (_keys(RedactedThinkingBlockParam), {"data"}),
}
#: The request keys the installed anthropic SDK types, and the sampling parameters it no longer
#: lists but anthropic-version 2023-06-01, which the gateway sends, still takes (docs/claude.md).
TOP = _keys(MessageCreateParamsNonStreaming) | {"temperature", "top_p", "top_k"}
CHOICES = {"auto": {"disable_parallel_tool_use"}, "any": {"disable_parallel_tool_use"}}
CHOICES |= {"tool": {"name", "disable_parallel_tool_use"}, "none": set()}


def _block(block: Any, role: str) -> None:
    assert isinstance(block, dict), block
    allowed, required = BLOCKS[block["type"]]
    assert set(block) <= allowed, block
    assert required <= set(block), block
    if block["type"] == "text":
        assert block["text"], "Claude refuses empty text blocks"
    if block["type"] in ("tool_use", "thinking", "redacted_thinking"):
        assert role == "assistant", block
    if block["type"] in ("tool_result", "image", "document"):
        assert role == "user", block


def assert_valid_messages(body: Mapping[str, Any]) -> None:
    """Fails unless ``body`` is a Messages request Claude accepts (the checks the real API and
    the strict emulator make): known keys only, alternating user/assistant turns, non-empty
    text, tool results first in the user turn right after their tool_use."""
    assert set(body) <= TOP, set(body) - TOP
    assert isinstance(body["model"], str)
    assert isinstance(body["max_tokens"], int)
    assert body["max_tokens"] >= 1
    messages = body["messages"]
    assert messages
    previous_role = None
    previous_uses: set[str] = set()
    for message in messages:
        assert set(message) == {"role", "content"}
        role = message["role"]
        assert role in ("user", "assistant")
        assert role != previous_role, "adjacent same-role turns"
        blocks = message["content"]
        assert isinstance(blocks, list)
        assert blocks
        seen_other = False
        for block in blocks:
            _block(block, role)
            if block["type"] == "tool_result":
                assert not seen_other, "tool results come first in their turn"
                assert block["tool_use_id"] in previous_uses, "tool_result without its tool_use"
            else:
                seen_other = True
        previous_uses = {b["id"] for b in blocks if b["type"] == "tool_use"}
        previous_role = role
    for block in body.get("system", []):
        _block(block, "system")
        assert block["type"] == "text"
    names = set()
    for tool in body.get("tools", []):
        assert set(tool) <= _keys(ToolParam), tool
        assert tool["input_schema"]["type"] == "object"
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        assert body.get("tools")
        assert set(choice) - {"type"} <= CHOICES[choice["type"]]
        if choice["type"] == "tool":
            assert choice["name"] in names
    thinking = body.get("thinking")
    if thinking is not None:
        assert thinking["type"] == "enabled"
        assert 1024 <= thinking["budget_tokens"] < body["max_tokens"]
        assert choice is None or choice["type"] in ("auto", "none")


# --- the SDK's stream accumulator --------------------------------------------------------


def anthropic_event(kind: str, **data: Any) -> SSEEvent:
    return SSEEvent(json.dumps({"type": kind, **data}), event=kind)


def run_stream(
    events: list[SSEEvent], request: Mapping[str, Any] | None = None
) -> tuple[ResponsesStream, list[dict[str, Any]], Any]:
    """Translate ``events``; parse what came out with the SDK: (translator, the JSON of each
    emitted event, the SDK's completed response or None)."""
    request = request or {"model": "claude", "input": "hi"}
    stream = ResponsesStream(model="claude", created=1700000000, request=request)
    raw = b"".join(chunk for event in events for chunk in stream.feed(event))
    raw += b"".join(stream.end())
    state: ResponseStreamState[Any] = ResponseStreamState(
        input_tools=request.get("tools", omit), text_format=omit
    )
    payloads = []
    for sse in sse_events(raw):
        payload = json.loads(sse.data)
        assert sse.event == payload["type"]
        state.handle_event(EVENTS.validate_python(payload))
        payloads.append(payload)
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    return stream, payloads, state._completed_response


def message_events(
    blocks: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    message_id: str = "msg_01abc",
    stop: bool = True,
) -> list[SSEEvent]:
    """The Messages stream of ``blocks`` as Claude sends it (deltas one per piece given)."""
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 4}
    events = [
        anthropic_event(
            "message_start",
            message={"id": message_id, "type": "message", "role": "assistant", "content": []}
            | {"model": "claude-dep", "stop_reason": None, "usage": usage},
        ),
        anthropic_event("ping"),
    ]
    for index, block in enumerate(blocks):
        kind = block["type"]
        pieces = block.get("pieces", [])
        if kind == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
        elif kind == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            start = {"type": "redacted_thinking", "data": block["data"]}
            deltas = []
        events.append(anthropic_event("content_block_start", index=index, content_block=start))
        events += [anthropic_event("content_block_delta", index=index, delta=d) for d in deltas]
        events.append(anthropic_event("content_block_stop", index=index))
    events.append(
        anthropic_event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": 42},
        )
    )
    if stop:
        events.append(anthropic_event("message_stop"))
    return events


def final_text(response: Any) -> str:
    return str(response.output_text)


def calls(response: Any) -> list[tuple[str, str, str]]:
    return [(o.call_id, o.name, o.arguments) for o in response.output if o.type == "function_call"]


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


# --- the answer --------------------------------------------------------------------------

CLAUDE_ANSWER = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-dep",
    "content": [
        {"type": "thinking", "thinking": "Paris first.", "signature": "SIG1"},
        {"type": "redacted_thinking", "data": "OPAQUE"},
        {"type": "text", "text": "Let me "},
        {"type": "text", "text": "check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "output_tokens": 50,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 12},
    },
}


def answer(message: Mapping[str, Any], request: Mapping[str, Any] | None = None) -> Response:
    request = request or {"model": "claude", "input": "hi", "tools": [WEATHER]}
    raw = messages_to_response(message, model="claude", created=1700000000, request=request)
    json.dumps(raw)  # plain JSON types only
    return Response.model_validate(raw)


# --- property-based ----------------------------------------------------------------------

HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(texts, json_values, max_size=4)


@st.composite
def contents(draw: st.DrawFn, role: str) -> Any:
    if draw(st.booleans()):
        return draw(texts)
    kind = "output_text" if role == "assistant" else "input_text"
    parts: list[dict[str, Any]] = [
        {"type": kind, "text": t} for t in draw(st.lists(texts, max_size=3))
    ]
    if role == "user" and draw(st.booleans()):
        parts.append({"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"})
    return draw(st.permutations(parts))


@st.composite
def tool_rounds(draw: st.DrawFn, ids: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if draw(st.booleans()):
        items.append(
            {
                "type": "reasoning",
                "id": "rs_x",
                "summary": [{"type": "summary_text", "text": draw(texts)}],
                "encrypted_content": "claude.thinking:" + draw(st.text("abcXYZ09+/=", max_size=8)),
            }
        )
    if draw(st.booleans()):
        items.append({"role": "assistant", "content": draw(contents("assistant"))})
    count = draw(st.integers(1, 3))
    call_ids = [f"call_{next(ids)}" for _ in range(count)]
    for call_id in call_ids:
        args = draw(arguments)
        items.append(
            {"type": "function_call", "call_id": call_id, "name": "get_weather"}
            | {"arguments": json.dumps(args)}
        )
    outputs = draw(st.permutations(call_ids))
    # A user message may come among the outputs: Claude's turn still starts with the results.
    aside = draw(st.integers(0, len(outputs)))
    for n, call_id in enumerate(outputs):
        if n == aside:
            items.append({"role": "user", "content": draw(contents("user"))})
        output: Any = draw(texts)
        if draw(st.booleans()):
            output = [{"type": "input_text", "text": output}]
        items.append({"type": "function_call_output", "call_id": call_id, "output": output})
    return items


@st.composite
def responses_inputs(draw: st.DrawFn) -> list[dict[str, Any]]:
    counter = iter(range(10**6))
    items: list[dict[str, Any]] = [{"role": "user", "content": draw(texts) + "q"}]
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 3)) == 0:
            items += draw(tool_rounds(counter))
        else:
            role = draw(st.sampled_from(["user", "assistant", "system", "developer"]))
            item: dict[str, Any] = {"role": role, "content": draw(contents(role))}
            if draw(st.booleans()):
                item["type"] = "message"
            items.append(item)
    return items


@st.composite
def claude_blocks(draw: st.DrawFn) -> list[dict[str, Any]]:
    blocks = []
    for n in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "text", "tool_use", "thinking", "redacted_thinking"]))
        if kind == "text":
            value = draw(texts)
        elif kind == "tool_use":
            value = json.dumps(draw(arguments))
        elif kind == "thinking":
            value = draw(texts)
        else:
            value = ""
        cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=4)))
        pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
        block: dict[str, Any] = {"type": kind, "pieces": pieces, "value": value}
        if kind == "tool_use":
            block |= {"id": f"toolu_{n}", "name": "get_weather"}
        if kind == "thinking":
            block["signature"] = f"sig{n}"
        if kind == "redacted_thinking":
            block["data"] = f"data{n}"
        blocks.append(block)
    return blocks


def as_message(blocks: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "text":
            content.append({"type": "text", "text": block["value"]})
        elif block["type"] == "tool_use":
            content.append(
                {"type": "tool_use", "id": block["id"], "name": block["name"]}
                | {"input": json.loads(block["value"])}
            )
        elif block["type"] == "thinking":
            content.append(
                {"type": "thinking", "thinking": block["value"], "signature": block["signature"]}
            )
        else:
            content.append({"type": "redacted_thinking", "data": block["data"]})
    usage = {"input_tokens": 10, "output_tokens": 42, "cache_read_input_tokens": 4}
    return {"id": "msg_01abc", "content": content, "stop_reason": stop_reason, "usage": usage}


# --- the openai SDK end to end (its own request bodies, its own parsers) ------------------


def canned_claude(
    blocks: list[dict[str, Any]], stop_reason: str = "end_turn"
) -> tuple[Any, list[Any]]:
    """An ASGI app standing in for the gateway: translates what the SDK sent (checked valid),
    answers with ``blocks`` as Claude would, translated back."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = json.loads(await request_body(receive))
        body = translate(request)
        assert_valid_messages(body)
        sent.append(body)
        if request.get("stream"):
            stream = ResponsesStream(model=request["model"], created=1, request=request)
            events = message_events(blocks, stop_reason=stop_reason)
            payload = b"".join(chunk for event in events for chunk in stream.feed(event))
            kind = b"text/event-stream"
        else:
            message = as_message(blocks, stop_reason)
            answer = messages_to_response(
                message, model=request["model"], created=1, request=request
            )
            payload = json.dumps(answer).encode()
            kind = b"application/json"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": payload})

    return app, sent


def blocks_of(*specs: tuple[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, (kind, value) in enumerate(specs):
        block: dict[str, Any] = {"type": kind, "value": value, "pieces": [value[:3], value[3:]]}
        if kind == "tool_use":
            block |= {"id": f"toolu_{n}", "name": "get_weather"}
        if kind == "thinking":
            block["signature"] = "SIG"
        out.append(block)
    return out


class Reply(BaseModel):
    answer: str
