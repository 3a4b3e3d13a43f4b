"""Responses API <-> Messages translation: the request, the answer and the event stream.

Answers are checked with the openai SDK's own models (``Response.model_validate``) and streams
with its own accumulator (``ResponseStreamState``, each event validated with the SDK's
``ResponseStreamEvent`` type first), so what the gateway emits is what the SDK accepts.
"""

from __future__ import annotations

import base64
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from azure_asgi._errors import GatewayError
from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._responses import (
    ResponsesStream,
    messages_to_response,
    responses_to_messages,
)

from .conftest import sse_events

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
TOP = _keys(MessageCreateParamsNonStreaming)
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


# --- the request -------------------------------------------------------------------------


def test_a_string_input_is_one_user_turn_and_instructions_the_system() -> None:
    body = translate({"model": "claude", "input": "Hello", "instructions": "Be brief."})
    assert body == {
        "model": "claude-dep",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "system": [{"type": "text", "text": "Be brief."}],
    }
    assert_valid_messages(body)


def test_settings_that_pass_and_max_output_tokens() -> None:
    body = translate(
        {"model": "claude", "input": "hi", "max_output_tokens": 77, "stream": True, "user": "u-1"}
    )
    assert body["max_tokens"] == 77
    assert body["stream"] is True
    assert body["metadata"] == {"user_id": "u-1"}
    assert_valid_messages(body)


def test_sampling_parameters_are_never_sent() -> None:
    # The Messages API (anthropic SDK 2.x) has no temperature or top_p: current Claude models
    # refuse them, so they are checked and echoed in the answer only.
    body = translate({"model": "claude", "input": "hi", "temperature": 0.2, "top_p": 0.5})
    assert body == translate({"model": "claude", "input": "hi"})
    error = refused({"model": "claude", "input": "hi", "temperature": "hot"})
    assert (error.code, error.param) == ("invalid_request", "temperature")


def test_dropped_fields_never_reach_claude() -> None:
    dropped = {
        "metadata": {"a": "b"},
        "service_tier": "auto",
        "truncation": "auto",
        "parallel_tool_calls": True,
        "safety_identifier": "x",
        "prompt_cache_key": "k",
        "stream_options": {"include_obfuscation": False},
        "store": True,
        "include": ["reasoning.encrypted_content"],
        "background": False,
        "previous_response_id": None,
        "top_logprobs": 0,
        "reasoning": {"summary": "auto"},
        "text": {"format": {"type": "text"}, "verbosity": "low"},
    }
    body = translate({"model": "claude", "input": "hi", **dropped})
    assert body == translate({"model": "claude", "input": "hi"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_1"),
        ("conversation", "conv_1"),
        ("background", True),
        ("prompt", {"id": "pmpt_1"}),
        ("include", ["file_search_call.results"]),
        ("top_logprobs", 3),
        ("context_management", [{"type": "compaction"}]),
        ("frequency_penalty", 0.5),
    ],
)
def test_what_claude_cannot_do_is_refused_naming_the_field(field: str, value: Any) -> None:
    error = refused({"model": "claude", "input": "hi", field: value})
    assert (error.code, error.param) == ("unsupported_parameter", field)


def test_an_item_list_with_every_role_merges_adjacent_turns() -> None:
    body = translate(
        {
            "model": "claude",
            "instructions": "Sys.",
            "input": [
                {"role": "developer", "content": "Dev."},
                {"role": "user", "content": "one"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "two"}],
                },
                {"role": "assistant", "content": [{"type": "output_text", "text": "three"}]},
                {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_text", "text": "S2"}],
                },
                {"role": "assistant", "content": "four"},
                {"role": "user", "content": "five"},
            ],
        }
    )
    assert body["system"] == [
        {"type": "text", "text": "Sys."},
        {"type": "text", "text": "Dev."},
        {"type": "text", "text": "S2"},
    ]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "five"}]},
    ]
    assert_valid_messages(body)


def test_images_and_files_become_claude_blocks() -> None:
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    text = base64.b64encode("héllo".encode()).decode()
    content = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/a.jpg", "detail": "low"},
        {
            "type": "input_file",
            "file_data": f"data:application/pdf;base64,{pdf}",
            "filename": "a.pdf",
        },
        {"type": "input_file", "file_data": f"data:text/plain;base64,{text}"},
        {"type": "input_file", "file_url": "https://example.com/b.pdf"},
    ]
    body = translate({"model": "claude", "input": [{"role": "user", "content": content}]})
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
            "title": "a.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "héllo"},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/b.pdf"}},
    ]
    assert_valid_messages(body)


def test_cache_control_and_cache_breakpoints_mark_blocks() -> None:
    content = [
        {"type": "input_text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "input_text", "text": "b", "prompt_cache_breakpoint": {"mode": "explicit"}},
    ]
    body = translate({"model": "claude", "input": [{"role": "user", "content": content}]})
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
    ]


@pytest.mark.parametrize(
    ("part", "code", "param"),
    [
        ({"type": "input_image", "file_id": "file-1"}, "unsupported_parameter", "file_id"),
        ({"type": "input_file", "file_id": "file-1"}, "unsupported_parameter", "file_id"),
        ({"type": "input_image", "image_url": "ftp://x/a.png"}, "invalid_request", "image_url"),
        (
            {"type": "input_image", "image_url": "data:image/png,abc"},
            "invalid_request",
            "image_url",
        ),
        (
            {"type": "input_image", "image_url": "data:image/bmp;base64,AAAA"},
            "unsupported_parameter",
            "image_url",
        ),
        (
            {"type": "input_file", "file_data": "data:application/zip;base64,AAAA"},
            "unsupported_parameter",
            "file_data",
        ),
        ({"type": "input_file", "file_data": "JVBERi0="}, "invalid_request", "file_data"),
        ({"type": "input_file", "filename": "a.pdf"}, "invalid_request", None),
        ({"type": "input_audio", "input_audio": {}}, "invalid_request", "type"),
        ({"type": "input_text", "text": 3}, "invalid_request", "text"),
    ],
)
def test_content_parts_claude_cannot_read_are_refused_naming_the_part(
    part: dict[str, Any], code: str, param: str | None
) -> None:
    content = [{"type": "input_text", "text": "x"}, part]
    body = {"model": "claude", "input": [{"role": "user", "content": content}]}
    error = refused(body)
    assert error.code == code
    assert error.param == "input[0].content[1]" + (f".{param}" if param else "")


def test_an_image_in_the_system_prompt_is_refused() -> None:
    image = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}
    error = refused({"model": "claude", "input": [{"role": "system", "content": [image]}, "x"]})
    assert error.param == "input[0].content[0].type"


def test_function_calls_and_outputs_are_tool_use_and_tool_results() -> None:
    body = translate(
        {
            "model": "claude",
            "tools": [WEATHER],
            "input": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather"}
                | {"arguments": '{"city": "Paris"}', "id": "fc_1", "status": "completed"},
                {"type": "function_call", "call_id": "call_2", "name": "get_weather"}
                | {"arguments": '{"city": "Rome"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                {"role": "user", "content": "and be quick"},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
            ],
        }
    )
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "rain"}],
                },
                {"type": "text", "text": "and be quick"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert "tool_choice" not in body
    assert_valid_messages(body)


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "3"])
def test_arguments_that_are_not_a_json_object_are_refused_naming_the_item(arguments: str) -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": arguments}
    error = refused({"model": "claude", "input": [{"role": "user", "content": "hi"}, call]})
    assert (error.code, error.param) == ("invalid_request", "input[1].arguments")


def test_empty_arguments_are_an_empty_input() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""}
    body = translate({"model": "claude", "input": [{"role": "user", "content": "hi"}, call]})
    assert body["messages"][1]["content"][0]["input"] == {}


def test_an_output_without_its_call_is_refused() -> None:
    output = {"type": "function_call_output", "call_id": "nope", "output": "x"}
    error = refused({"model": "claude", "input": [{"role": "user", "content": "hi"}, output]})
    assert (error.code, error.param) == ("invalid_request", "input[1].call_id")


@pytest.mark.parametrize(
    ("item", "code", "param"),
    [
        ({"type": "item_reference", "id": "msg_1"}, "unsupported_parameter", "input[0].type"),
        ({"type": "web_search_call", "id": "ws_1"}, "unsupported_parameter", "input[0].type"),
        ({"role": "tool", "content": "x"}, "invalid_request", "input[0].role"),
        (
            {"type": "function_call", "name": "f", "arguments": "{}"},
            "invalid_request",
            "input[0].call_id",
        ),
        ("just a string", "invalid_request", "input[0]"),
        ({"role": "user", "content": 5}, "invalid_request", "input[0].content"),
    ],
)
def test_malformed_or_foreign_items_are_refused(item: Any, code: str, param: str) -> None:
    error = refused({"model": "claude", "input": [item]})
    assert (error.code, error.param) == (code, param)


@pytest.mark.parametrize("given", [None, "", [], [{"role": "user", "content": ""}], 5])
def test_an_input_with_nothing_to_answer_is_refused(given: Any) -> None:
    body = {"model": "claude"} if given is None else {"model": "claude", "input": given}
    assert refused(body).param == "input"


def test_reasoning_items_from_claude_become_thinking_blocks_and_others_are_dropped() -> None:
    body = translate(
        {
            "model": "claude",
            "input": [
                {"role": "user", "content": "hi"},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "Let me think."}],
                    "encrypted_content": "claude.thinking:SIG==",
                },
                {
                    "type": "reasoning",
                    "id": "rs_2",
                    "summary": [],
                    "encrypted_content": "claude.redacted_thinking:DATA",
                },
                {
                    "type": "reasoning",
                    "id": "rs_3",
                    "summary": [],
                    "encrypted_content": "gAAAAAopenai",
                },
                {
                    "type": "reasoning",
                    "id": "rs_4",
                    "summary": [{"type": "summary_text", "text": "x"}],
                },
                {"role": "assistant", "content": "Hello"},
            ],
        }
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "SIG=="},
            {"type": "redacted_thinking", "data": "DATA"},
            {"type": "text", "text": "Hello"},
        ],
    }
    assert_valid_messages(body)


def test_tools_other_than_functions_are_refused_naming_the_tool() -> None:
    for kind in ("web_search", "file_search", "code_interpreter", "computer_use_preview", "mcp"):
        error = refused({"model": "claude", "input": "hi", "tools": [WEATHER, {"type": kind}]})
        assert (error.code, error.param) == ("unsupported_parameter", "tools[1].type")


def test_a_tool_without_parameters_takes_an_empty_object() -> None:
    body = translate(
        {"model": "claude", "input": "hi", "tools": [{"type": "function", "name": "now"}]}
    )
    assert body["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, None),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "name": "get_weather"},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            None,
            {"type": "any"},
        ),
    ],
)
def test_tool_choice_and_parallel_tool_calls(choice: Any, parallel: Any, expected: Any) -> None:
    request: dict[str, Any] = {"model": "claude", "input": "hi", "tools": [WEATHER]}
    if choice is not None:
        request["tool_choice"] = choice
    if parallel is not None:
        request["parallel_tool_calls"] = parallel
    body = translate(request)
    assert body.get("tool_choice") == expected
    assert_valid_messages(body)


def test_allowed_tools_keeps_only_the_tools_it_names() -> None:
    other = {"type": "function", "name": "other"}
    choice = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "function", "name": "other"}],
    }
    body = translate(
        {"model": "claude", "input": "hi", "tools": [WEATHER, other], "tool_choice": choice}
    )
    assert [t["name"] for t in body["tools"]] == ["other"]
    assert "tool_choice" not in body


def test_a_named_tool_choice_must_name_a_tool() -> None:
    choice = {"type": "function", "name": "missing"}
    error = refused({"model": "claude", "input": "hi", "tools": [WEATHER], "tool_choice": choice})
    assert (error.code, error.param) == ("invalid_request", "tool_choice.name")
    error = refused(
        {
            "model": "claude",
            "input": "hi",
            "tools": [WEATHER],
            "tool_choice": {"type": "web_search"},
        }
    )
    assert (error.code, error.param) == ("unsupported_parameter", "tool_choice.type")


@pytest.mark.parametrize(
    ("effort", "budget"),
    [("minimal", 1024), ("low", 2048), ("medium", 8192), ("high", 16384), ("xhigh", 32768)],
)
def test_reasoning_effort_is_a_thinking_budget_below_max_tokens(effort: str, budget: int) -> None:
    body = translate(
        {"model": "claude", "input": "hi", "reasoning": {"effort": effort, "summary": "auto"}}
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + 1000  # the default was not above the budget
    big = translate(
        {"model": "claude", "input": "hi", "reasoning": {"effort": effort}}, max_tokens=100000
    )
    assert big["max_tokens"] == 100000
    assert_valid_messages(body)


def test_reasoning_effort_none_is_no_thinking_and_an_unknown_effort_is_refused() -> None:
    assert "thinking" not in translate(
        {"model": "claude", "input": "hi", "reasoning": {"effort": "none"}}
    )
    error = refused({"model": "claude", "input": "hi", "reasoning": {"effort": "huge"}})
    assert (error.code, error.param) == ("invalid_request", "reasoning.effort")


def test_thinking_cannot_be_combined_with_a_forced_tool() -> None:
    request = {"model": "claude", "input": "hi", "tools": [WEATHER], "reasoning": {"effort": "low"}}
    error = refused({**request, "tool_choice": "required"})
    assert (error.code, error.param) == ("unsupported_parameter", "tool_choice")
    schema = {"type": "json_schema", "name": "out", "schema": {"type": "object"}}
    error = refused({**request, "text": {"format": schema}})
    assert (error.code, error.param) == ("unsupported_parameter", "text.format")


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def test_a_json_schema_format_is_a_forced_tool() -> None:
    fmt = {"type": "json_schema", "name": "reply", "schema": SCHEMA, "strict": True}
    body = translate({"model": "claude", "input": "hi", "text": {"format": fmt}})
    assert body["tools"] == [
        {"name": "reply", "description": body["tools"][0]["description"], "input_schema": SCHEMA}
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "reply"}
    assert_valid_messages(body)
    body = translate(
        {"model": "claude", "input": "hi", "text": {"format": {"type": "json_object"}}}
    )
    assert body["tools"][0]["input_schema"] == {"type": "object", "properties": {}}
    assert body["tool_choice"] == {"type": "tool", "name": "json_answer"}


def test_a_json_format_beside_function_tools_lets_claude_call_either() -> None:
    fmt = {"type": "json_schema", "name": "reply", "schema": SCHEMA}
    request = {"model": "claude", "input": "hi", "tools": [WEATHER], "text": {"format": fmt}}
    body = translate(request)
    assert [t["name"] for t in body["tools"]] == ["get_weather", "reply"]
    assert body["tool_choice"] == {"type": "any"}
    assert translate({**request, "tool_choice": "none"})["tool_choice"] == {
        "type": "tool",
        "name": "reply",
    }
    named = {"type": "function", "name": "get_weather"}
    assert translate({**request, "tool_choice": named})["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
    }
    clash = {"type": "json_schema", "name": "get_weather", "schema": SCHEMA}
    assert refused({**request, "text": {"format": clash}}).param == "text.format.name"


@pytest.mark.parametrize(
    ("fmt", "param"),
    [
        ({"type": "json_schema", "name": "x", "schema": {"type": "array"}}, "text.format.schema"),
        ({"type": "json_schema", "name": "x"}, "text.format.schema"),
        ({"type": "json_schema", "schema": SCHEMA}, "text.format.name"),
        ({"type": "grammar"}, "text.format.type"),
    ],
)
def test_formats_claude_cannot_follow_are_refused(fmt: dict[str, Any], param: str) -> None:
    assert refused({"model": "claude", "input": "hi", "text": {"format": fmt}}).param == param
