"""Responses ``input`` -> Messages turns (``_responses_input``): messages, parts, images and
files, function calls and outputs, reasoning items sent back."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .anthropic_responses_support import (
    HYPOTHESIS,
    PNG,
    WEATHER,
    assert_valid_messages,
    refused,
    responses_inputs,
    texts,
    translate,
)


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
