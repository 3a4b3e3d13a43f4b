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
from azure_asgi.families.anthropic._responses_answer import messages_to_response
from azure_asgi.families.anthropic._responses_request import responses_to_messages
from azure_asgi.families.anthropic._responses_stream import ResponsesStream

from .conftest import async_openai, request_body, sse_events

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


def test_sampling_parameters_follow_chats_rule() -> None:
    # temperature wins over top_p (current Claude models refuse both together); thinking on
    # leaves all out; a malformed value is refused either way (one helper for both APIs).
    body = translate({"model": "claude", "input": "hi", "temperature": 0.2, "top_p": 0.5})
    assert (body["temperature"], "top_p" in body) == (0.2, False)
    assert translate({"model": "claude", "input": "hi", "top_p": 0.5})["top_p"] == 0.5
    thinking = translate(
        {"model": "claude", "input": "hi", "temperature": 0.2, "reasoning": {"effort": "low"}}
    )
    assert not {"temperature", "top_p", "top_k"} & set(thinking)
    assert_valid_messages(body)
    error = refused({"model": "claude", "input": "hi", "temperature": "hot"})
    assert (error.code, error.param) == ("invalid_request", "temperature")
    error = refused({"model": "claude", "input": "hi", "top_k": 5})
    assert (error.code, error.param) == ("unsupported_parameter", "top_k")


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


def test_bare_base64_file_data_is_a_pdf_as_for_chat() -> None:
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    part = {"type": "input_file", "file_data": pdf, "filename": "a.pdf"}
    body = translate({"model": "claude", "input": [{"role": "user", "content": [part]}]})
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
            "title": "a.pdf",
        }
    ]


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
        # The media types Claude cannot read are malformed input, as for chat (one _content).
        (
            {"type": "input_image", "image_url": "data:image/bmp;base64,AAAA"},
            "invalid_request",
            "image_url",
        ),
        (
            {"type": "input_file", "file_data": "data:application/zip;base64,AAAA"},
            "invalid_request",
            "file_data",
        ),
        ({"type": "input_file", "file_url": "ftp://x/a.pdf"}, "invalid_request", "file_data"),
        ({"type": "input_file", "filename": "a.pdf"}, "invalid_request", "file_data"),
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
    [
        ("minimal", 1024),
        ("low", 2048),
        ("medium", 8192),
        ("high", 16384),
        ("xhigh", 24576),
        ("max", 32768),
    ],
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


def test_an_answer_is_a_response_the_sdk_parses() -> None:
    response = answer(CLAUDE_ANSWER)
    assert (response.id, response.object, response.model) == ("resp_01XYZ", "response", "claude")
    assert (response.status, response.incomplete_details, response.created_at) == (
        "completed",
        None,
        1700000000,
    )
    assert response.output_text == "Let me check."
    kinds = [(o.type, o.id) for o in response.output]
    assert kinds == [
        ("reasoning", "rs_01XYZ_0"),
        ("reasoning", "rs_01XYZ_1"),
        ("message", "msg_01XYZ_2"),
        ("function_call", "fc_01XYZ_3"),
    ]
    thinking, redacted, message, call = response.output
    assert thinking.type == "reasoning"
    assert [s.text for s in thinking.summary] == ["Paris first."]
    assert thinking.encrypted_content == "claude.thinking:SIG1"
    assert redacted.type == "reasoning"
    assert (redacted.summary, redacted.encrypted_content) == ([], "claude.redacted_thinking:OPAQUE")
    assert message.type == "message"
    assert (message.role, message.status) == ("assistant", "completed")
    assert calls(response) == [("toolu_1", "get_weather", '{"city":"Paris"}')]
    assert call.status == "completed"
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (150, 50, 200)
    assert usage.input_tokens_details.cached_tokens == 30
    assert usage.input_tokens_details.cache_write_tokens == 20
    assert usage.output_tokens_details.reasoning_tokens == 12


def test_an_answer_echoes_the_callers_settings() -> None:
    request = {
        "model": "claude",
        "input": "hi",
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": "required",
        "temperature": 0.2,
        "top_p": 0.5,
        "max_output_tokens": 300,
        "parallel_tool_calls": False,
        "reasoning": {"effort": "low", "summary": "auto"},
        "metadata": {"k": "v"},
        "user": "u-1",
    }
    response = answer(CLAUDE_ANSWER, request)
    assert response.instructions == "Be brief."
    assert [t.type for t in response.tools] == ["function"]
    assert response.tools[0].name == "get_weather"  # type: ignore[union-attr]
    assert (response.tool_choice, response.parallel_tool_calls) == ("required", False)
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.2, 0.5, 300)
    assert response.reasoning is not None
    assert (response.reasoning.effort, response.reasoning.summary) == ("low", "auto")
    assert (response.metadata, response.user) == ({"k": "v"}, "u-1")
    plain = answer(CLAUDE_ANSWER, {"model": "claude", "input": "hi"})
    assert (plain.tool_choice, plain.tools, plain.parallel_tool_calls) == ("auto", [], True)
    assert plain.text is not None
    assert plain.text.format is not None
    assert plain.text.format.type == "text"


@pytest.mark.parametrize(
    ("stop_reason", "status", "reason"),
    [
        ("end_turn", "completed", None),
        ("stop_sequence", "completed", None),
        ("pause_turn", "completed", None),
        ("max_tokens", "incomplete", "max_output_tokens"),
        ("model_context_window_exceeded", "incomplete", "max_output_tokens"),
        ("refusal", "incomplete", "content_filter"),
    ],
)
def test_stop_reasons_set_the_status(stop_reason: str, status: str, reason: str | None) -> None:
    message = {
        **CLAUDE_ANSWER,
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": stop_reason,
    }
    response = answer(message)
    assert response.status == status
    details = response.incomplete_details
    assert (details.reason if details else None) == reason
    assert response.output_text == "Hi"


def test_the_json_answer_tool_becomes_the_output_text() -> None:
    fmt = {"type": "json_schema", "name": "reply", "schema": SCHEMA}
    request = {"model": "claude", "input": "hi", "text": {"format": fmt}}
    message = {
        **CLAUDE_ANSWER,
        "content": [
            {"type": "tool_use", "id": "toolu_9", "name": "reply", "input": {"answer": "42"}}
        ],
    }
    response = answer(message, request)
    assert json.loads(response.output_text) == {"answer": "42"}
    assert [o.type for o in response.output] == ["message"]
    assert response.status == "completed"
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"


def test_a_reasoning_item_sent_back_is_the_same_thinking_block() -> None:
    response = answer(CLAUDE_ANSWER)
    history = [{"role": "user", "content": "hi"}] + [
        o.model_dump(exclude_none=True) for o in response.output
    ]
    history.append({"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"})
    body = translate({"model": "claude", "input": history, "tools": [WEATHER]})
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            CLAUDE_ANSWER["content"][0],
            CLAUDE_ANSWER["content"][1],
            {"type": "text", "text": "Let me check."},
            CLAUDE_ANSWER["content"][4],
        ],
    }
    assert_valid_messages(body)


# --- the stream --------------------------------------------------------------------------


def test_a_text_stream_is_the_full_event_sequence() -> None:
    events = message_events([{"type": "text", "pieces": ["Hel", "lo", " world"]}])
    stream, payloads, response = run_stream(events)
    assert [p["type"] for p in payloads] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert payloads[0]["response"]["status"] == "in_progress"
    assert payloads[0]["response"]["output"] == []
    assert {p["item_id"] for p in payloads[3:9]} == {"msg_01abc_0"}
    assert all(p["output_index"] == 0 for p in payloads[2:10])
    assert all(p["content_index"] == 0 for p in payloads[3:9])
    assert response.output_text == "Hello world"
    assert response.id == "resp_01abc"
    assert response.usage.input_tokens == 14
    assert response.usage.output_tokens == 42
    assert stream.complete
    assert stream.failure is None
    assert stream.usage == {"input_tokens": 10, "output_tokens": 42, "cache_read_input_tokens": 4}
    assert stream.end() == []


def test_a_tool_call_stream_with_arguments_split_anywhere() -> None:
    arguments = '{"city": "Paris", "unit": "c"}'
    pieces = [arguments[:1], arguments[1:9], "", arguments[9:]]
    events = message_events(
        [
            {"type": "text", "pieces": ["Checking."]},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "pieces": pieces},
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "get_weather",
                "pieces": ['{"city":"Rome"}'],
            },
        ],
        stop_reason="tool_use",
    )
    request = {"model": "claude", "input": "hi", "tools": [WEATHER]}
    _, payloads, response = run_stream(events, request)
    assert response.output_text == "Checking."
    assert calls(response) == [
        ("toolu_1", "get_weather", arguments),
        ("toolu_2", "get_weather", '{"city":"Rome"}'),
    ]
    done = [p for p in payloads if p["type"] == "response.function_call_arguments.done"]
    assert [(p["item_id"], p["output_index"], p["arguments"]) for p in done] == [
        ("fc_01abc_1", 1, arguments),
        ("fc_01abc_2", 2, '{"city":"Rome"}'),
    ]
    assert response.status == "completed"


def test_a_stream_and_the_answer_of_the_same_message_agree() -> None:
    blocks = [
        {"type": "thinking", "pieces": ["Paris ", "first."], "signature": "SIG1"},
        {"type": "redacted_thinking", "data": "OPAQUE"},
        {"type": "text", "pieces": ["Let me "]},
        {"type": "text", "pieces": ["check."]},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "get_weather",
            "pieces": ['{"city":"Paris"}'],
        },
    ]
    events = message_events(blocks, stop_reason="tool_use", message_id="msg_01XYZ")
    _, payloads, streamed = run_stream(
        events, {"model": "claude", "input": "hi", "tools": [WEATHER]}
    )
    whole = answer(CLAUDE_ANSWER)
    assert [(o.type, o.id) for o in streamed.output] == [(o.type, o.id) for o in whole.output]
    assert streamed.output_text == whole.output_text
    assert calls(streamed) == calls(whole)
    reasoning = [o for o in streamed.output if o.type == "reasoning"]
    assert [o.encrypted_content for o in reasoning] == [
        "claude.thinking:SIG1",
        "claude.redacted_thinking:OPAQUE",
    ]
    assert [s.text for s in reasoning[0].summary] == ["Paris first."]
    kinds = [p["type"] for p in payloads]
    assert kinds[2:8] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]


def test_max_tokens_ends_with_response_incomplete() -> None:
    events = message_events([{"type": "text", "pieces": ["cut sh"]}], stop_reason="max_tokens")
    stream, payloads, response = run_stream(events)
    assert response is None  # the SDK keeps only a completed response
    last = payloads[-1]
    assert last["type"] == "response.incomplete"
    final = Response.model_validate(last["response"])
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.output_text == "cut sh"
    assert stream.complete


def test_the_json_answer_tool_streams_as_output_text() -> None:
    fmt = {"type": "json_schema", "name": "reply", "schema": SCHEMA}
    request = {"model": "claude", "input": "hi", "text": {"format": fmt}}
    pieces = ['{"ans', 'wer": "4', '2"}']
    events = message_events([{"type": "tool_use", "id": "t", "name": "reply", "pieces": pieces}])
    _, payloads, response = run_stream(events, request)
    assert json.loads(response.output_text) == {"answer": "42"}
    assert not calls(response)
    assert "response.function_call_arguments.delta" not in {p["type"] for p in payloads}
    empty = message_events([{"type": "tool_use", "id": "t", "name": "reply", "pieces": []}])
    assert run_stream(empty, request)[2].output_text == "{}"


def test_an_upstream_error_event_is_a_failure_and_emits_nothing() -> None:
    events = message_events([{"type": "text", "pieces": ["Hi"]}], stop=False)[:4]
    stream = ResponsesStream(model="claude", created=1, request={"model": "claude", "input": "x"})
    emitted = [chunk for event in events for chunk in stream.feed(event)]
    error = {"type": "overloaded_error", "message": "Overloaded"}
    assert stream.feed(anthropic_event("error", error=error)) == []
    assert stream.failure == (
        529,
        {
            "message": "Overloaded",
            "type": "overloaded_error",
            "code": "overloaded_error",
            "param": None,
        },
    )
    assert not stream.complete
    assert emitted  # what came before the error was sent
    assert stream.feed(anthropic_event("message_stop")) == []
    assert stream.end() == []


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("request_too_large", 413),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("overloaded_error", 529),
        ("something_new", 502),
    ],
)
def test_error_types_keep_their_status(kind: str, status: int) -> None:
    stream = ResponsesStream(model="claude", created=1, request={"model": "claude", "input": "x"})
    stream.feed(anthropic_event("error", error={"type": kind, "message": "m"}))
    assert stream.failure is not None
    assert stream.failure[0] == status
    assert stream.failure[1]["code"] == kind


def test_a_cut_stream_is_not_complete() -> None:
    events = message_events([{"type": "text", "pieces": ["Hi"]}], stop=False)
    stream, payloads, response = run_stream(events)
    assert response is None
    assert not stream.complete
    assert payloads[-1]["type"] == "response.output_item.done"  # closed at message_delta
    assert stream.end() == []


def test_pings_comments_and_junk_emit_nothing() -> None:
    stream = ResponsesStream(model="claude", created=1, request={"model": "claude", "input": "x"})
    assert stream.feed(anthropic_event("ping")) == []
    assert stream.feed(SSEEvent("", has_data=False)) == []
    assert stream.feed(SSEEvent("not json")) == []
    assert stream.feed(SSEEvent("[1]")) == []
    assert stream.feed(anthropic_event("content_block_delta", index=7, delta={})) == []


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


@HYPOTHESIS
@given(
    items=responses_inputs(),
    instructions=st.none() | texts,
    effort=st.none() | st.sampled_from(["none", "minimal", "low", "high"]),
    choice=st.sampled_from([None, "auto", "none"]),
    parallel=st.none() | st.booleans(),
    max_tokens=st.integers(1, 40000),
)
def test_any_valid_input_translates_to_messages_claude_accepts(
    items: list[dict[str, Any]],
    instructions: str | None,
    effort: str | None,
    choice: str | None,
    parallel: bool | None,
    max_tokens: int,
) -> None:
    request: dict[str, Any] = {"model": "claude", "input": items, "tools": [WEATHER]}
    for key, value in (
        ("instructions", instructions),
        ("reasoning", effort and {"effort": effort}),
        ("tool_choice", choice),
        ("parallel_tool_calls", parallel),
        ("max_output_tokens", max_tokens),
    ):
        if value is not None:
            request[key] = value
    body = translate(request)
    assert_valid_messages(body)
    json.dumps(body)
    # Nothing is lost: every text and call the caller sent is in the Messages body.
    sent = json.dumps(body)
    for item in items:
        if item.get("type") == "function_call":
            assert json.dumps(item["call_id"]) in sent


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


@HYPOTHESIS
@given(
    blocks=claude_blocks(),
    stop_reason=st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence"]),
)
def test_any_messages_stream_is_a_responses_stream_the_sdk_accepts(
    blocks: list[dict[str, Any]], stop_reason: str
) -> None:
    request = {"model": "claude", "input": "hi", "tools": [WEATHER]}
    stream, payloads, response = run_stream(
        message_events(blocks, stop_reason=stop_reason), request
    )
    assert stream.complete
    final = Response.model_validate(payloads[-1]["response"])
    if stop_reason == "max_tokens":
        assert payloads[-1]["type"] == "response.incomplete"
    else:
        assert payloads[-1]["type"] == "response.completed"
        assert response is not None
        assert response.output_text == final.output_text
    expected_text = "".join(b["value"] for b in blocks if b["type"] == "text")
    expected_calls = [(b["id"], b["name"], b["value"]) for b in blocks if b["type"] == "tool_use"]
    assert final.output_text == expected_text
    assert calls(final) == expected_calls
    # The JSON answer of the same message names the same items, with the same content.
    whole = Response.model_validate(
        messages_to_response(
            as_message(blocks, stop_reason), model="claude", created=1, request=request
        )
    )
    assert [(o.type, o.id) for o in whole.output] == [(o.type, o.id) for o in final.output]
    assert whole.output_text == expected_text
    assert [(c, n, json.loads(a)) for c, n, a in calls(whole)] == [
        (c, n, json.loads(a)) for c, n, a in expected_calls
    ]
    assert whole.status == final.status
    reasoning = [o.model_dump() for o in final.output if o.type == "reasoning"]
    assert reasoning == [o.model_dump() for o in whole.output if o.type == "reasoning"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "yes"),
        ("include", "reasoning.encrypted_content"),
        ("max_output_tokens", 0),
        ("max_output_tokens", True),
        ("reasoning", "high"),
        ("instructions", ["a"]),
        ("text", "json"),
        ("tools", {"type": "function"}),
        ("tool_choice", 3),
        ("tool_choice", {"type": "allowed_tools", "mode": "sometimes", "tools": []}),
    ],
)
def test_malformed_settings_are_refused_naming_the_field(field: str, value: Any) -> None:
    error = refused({"model": "claude", "input": "hi", "tools": [WEATHER], field: value})
    assert (error.code, error.param) == ("invalid_request", field)


def test_a_malformed_format_is_refused_naming_it() -> None:
    error = refused({"model": "claude", "input": "hi", "text": {"format": "json"}})
    assert (error.code, error.param) == ("invalid_request", "text.format")


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ("not a tool", "tools[0]"),
        ({"type": "function"}, "tools[0].name"),
        (
            {"type": "function", "name": "f", "parameters": {"type": "string"}},
            "tools[0].parameters",
        ),
    ],
)
def test_malformed_tools_are_refused_naming_the_tool(tool: Any, param: str) -> None:
    error = refused({"model": "claude", "input": "hi", "tools": [tool]})
    assert (error.code, error.param) == ("invalid_request", param)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert refused(["hi"]).code == "invalid_request"  # type: ignore[arg-type]


def test_tool_outputs_carry_images_and_files_and_reject_junk() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}
    image = {"type": "input_image", "image_url": "https://example.com/a.png"}
    output = {
        "type": "function_call_output",
        "call_id": "c",
        "output": [image, {"type": "input_text", "text": ""}],
    }
    body = translate(
        {"model": "claude", "input": [{"role": "user", "content": "hi"}, call, output]}
    )
    assert body["messages"][1]["content"][0]["input"] == {"a": 1}
    assert body["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "c",
            "content": [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
            ],
        }
    ]
    bad = {"type": "function_call_output", "call_id": "c", "output": 5}
    error = refused({"model": "claude", "input": [{"role": "user", "content": "hi"}, call, bad]})
    assert error.param == "input[2].output"
    text = {"type": "input_file", "file_data": "data:text/plain;base64,@@@"}
    error = refused({"model": "claude", "input": [{"role": "user", "content": [text]}]})
    assert error.param == "input[0].content[0].file_data"


def test_a_stream_from_a_misbehaving_upstream_still_parses() -> None:
    # Content before message_start, blocks that start with their content, deltas after the
    # next block began, a block never stopped: the caller still gets a stream the SDK accepts.
    events = [
        anthropic_event(
            "content_block_start", index=0, content_block={"type": "text", "text": "A"}
        ),
        anthropic_event("message_start", message={"id": "msg_late", "usage": {"input_tokens": 1}}),
        anthropic_event("content_block_stop", index=0),
        anthropic_event(
            "content_block_start",
            index=1,
            content_block={"type": "thinking", "thinking": "T", "signature": "S"},
        ),
        anthropic_event(
            "content_block_delta", index=1, delta={"type": "thinking_delta", "thinking": "U"}
        ),
        anthropic_event("content_block_stop", index=1),
        anthropic_event("content_block_start", index=2, content_block={"type": "text", "text": ""}),
        anthropic_event(
            "content_block_start",
            index=3,
            content_block={
                "type": "tool_use",
                "id": "t1",
                "name": "get_weather",
                "input": {"city": "Oslo"},
            },
        ),
        anthropic_event("content_block_delta", index=2, delta={"type": "text_delta", "text": "B"}),
        anthropic_event("content_block_start", index=4, content_block={"type": "server_tool_use"}),
        anthropic_event("message_stop"),
    ]
    request = {"model": "claude", "input": "hi", "tools": [WEATHER]}
    stream, _, response = run_stream(events, request)
    assert stream.complete
    assert response.id == "resp_unknown"
    assert response.output_text == "AB"
    assert calls(response) == [("t1", "get_weather", '{"city":"Oslo"}')]
    reasoning = [o for o in response.output if o.type == "reasoning"]
    assert [s.text for s in reasoning[0].summary] == ["TU"]
    assert reasoning[0].encrypted_content == "claude.thinking:S"


def test_an_error_without_details_is_still_a_failure() -> None:
    stream = ResponsesStream(model="claude", created=1, request={"model": "claude", "input": "x"})
    stream.feed(anthropic_event("error", error="boom"))
    assert stream.failure == (
        500,
        {
            "message": "Claude's stream failed (api_error).",
            "type": "api_error",
            "code": "api_error",
            "param": None,
        },
    )


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


async def test_the_sdk_creates_and_streams_a_tool_call_round_trip() -> None:
    blocks = blocks_of(
        ("thinking", "Need weather."), ("text", "Checking."), ("tool_use", '{"city": "Paris"}')
    )
    app, sent = canned_claude(blocks, stop_reason="tool_use")
    client = async_openai(app)
    tools: Any = [WEATHER]
    first = await client.responses.create(model="claude", input="Weather in Paris?", tools=tools)
    assert first.output_text == "Checking."
    call = next(o for o in first.output if o.type == "function_call")
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    history: Any = [{"role": "user", "content": "Weather in Paris?"}, *first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    async with client.responses.stream(model="claude", input=history, tools=tools) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Checking."
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call"]
    assistant = sent[1]["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "Need weather.", "signature": "SIG"}
    assert sent[1]["messages"][2]["content"][0]["tool_use_id"] == call.call_id
    await client.close()


async def test_the_sdk_parses_a_json_answer() -> None:
    blocks = blocks_of(("tool_use", '{"answer": "42"}'))
    blocks[0]["name"] = "Reply"
    app, sent = canned_claude(blocks, stop_reason="tool_use")
    client = async_openai(app)
    parsed = await client.responses.parse(model="claude", input="6 x 7?", text_format=Reply)
    assert parsed.output_parsed == Reply(answer="42")
    assert sent[0]["tool_choice"] == {"type": "tool", "name": "Reply"}
    async with client.responses.stream(model="claude", input="6 x 7?", text_format=Reply) as stream:
        final = await stream.get_final_response()
    assert final.output_parsed == Reply(answer="42")
    await client.close()
