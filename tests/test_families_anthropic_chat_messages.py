"""Chat Completions ``messages`` -> Messages turns (``_chat_messages``): parts, images and
documents, tool calls and results, thinking blocks sent back, the turn rules."""

from __future__ import annotations

from typing import Any

import pytest

from .anthropic_chat_support import (
    PDF,
    PNG,
    WEATHER_TOOL,
    call,
    chat,
    refused,
    tool,
    translate,
    user,
)


def test_system_and_developer_messages_become_system_blocks() -> None:
    body = translate(
        chat(
            {"role": "system", "content": "Be brief."},
            {
                "role": "developer",
                "content": [
                    {"type": "text", "text": "Long policy", "cache_control": {"type": "ephemeral"}}
                ],
            },
            user(),
            {"role": "system", "content": "Late note."},
        )
    )
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Long policy", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Late note."},
    ]
    assert [t["role"] for t in body["messages"]] == ["user"]


def test_user_parts_images_documents_and_cache_control() -> None:
    body = translate(
        chat(
            user(
                [
                    {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.webp"}},
                    {
                        "type": "file",
                        "file": {
                            "file_data": f"data:application/pdf;base64,{PDF}",
                            "filename": "r.pdf",
                        },
                    },
                    {
                        "type": "text",
                        "text": "end",
                        "prompt_cache_breakpoint": {"mode": "explicit"},
                    },
                ]
            )
        )
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",")[1]},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.webp"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "title": "r.pdf",
        },
        {"type": "text", "text": "end", "cache_control": {"type": "ephemeral"}},
    ]


def test_tool_round_trip_request() -> None:
    body = translate(
        chat(
            user("weather in Paris and Rome?"),
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    call("call_1"),
                    call("call_2", arguments='{"city": "Rome"}'),
                ],
            },
            tool("call_2", [{"type": "text", "text": "rainy"}]),
            tool("call_1"),
            user("thanks"),
            tools=[WEATHER_TOOL],
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
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
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "rainy"}],
                },
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert "tool_choice" not in body  # auto is the Messages default


def test_adjacent_same_role_turns_merge_and_empty_ones_vanish() -> None:
    body = translate(
        chat(
            user("a"),
            user([{"type": "text", "text": "b"}]),
            user(""),
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": None},
            {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
            user("e"),
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "e"}]},
    ]


def test_leading_assistant_turn_gets_a_user_turn_and_final_prefill_is_trimmed() -> None:
    body = translate(
        chat(
            {"role": "assistant", "content": "Hi! How can I help?"},
            user(),
            {"role": "assistant", "content": "Sure:  \n"},
        )
    )
    roles = [t["role"] for t in body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert body["messages"][-1]["content"] == [{"type": "text", "text": "Sure:"}]


def test_thinking_blocks_sent_back_lead_the_assistant_turn() -> None:
    body = translate(
        chat(
            user(),
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "dropped: unsigned",
                "thinking_blocks": [
                    {"index": 0, "type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                ],
                "tool_calls": [call("toolu_1")],
            },
            tool("toolu_1"),
            tools=[WEATHER_TOOL],
            reasoning_effort="low",
        )
    )
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]


def test_file_id_and_audio_parts_are_refused() -> None:
    error = refused(chat(user([{"type": "file", "file": {"file_id": "file-abc"}}])))
    assert (error.code, error.param) == (
        "unsupported_parameter",
        "messages[0].content[0].file.file_id",
    )
    error = refused(
        chat(user([{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]))
    )
    assert (error.code, error.param) == ("unsupported_parameter", "messages[0].content[0]")


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [
                user(),
                {"role": "assistant", "tool_calls": [call("c1", arguments="{nope")]},
                tool("c1"),
            ],
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            [
                user(),
                {"role": "assistant", "tool_calls": [call("c1", arguments="[1]")]},
                tool("c1"),
            ],
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            [
                user(),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}],
                },
            ],
            "messages[1].tool_calls[0].function.name",
        ),
        ([user(), {"role": "wizard", "content": "x"}], "messages[1].role"),
        ([user(), tool("c9")], "messages[1].tool_call_id"),
        (
            [user(), {"role": "assistant", "tool_calls": [call("c1")]}, user("skipped the result")],
            "messages[1].tool_calls",
        ),
        ([user(), {"role": "assistant", "tool_calls": [call("c1")]}], "messages[1].tool_calls"),
        ([user(42)], "messages[0].content"),
        ([user([{"type": "text", "text": 5}])], "messages[0].content[0].text"),
        ([user([{"type": "video"}])], "messages[0].content[0]"),
        (
            [
                {"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
                user(),
            ],
            "messages[0].content[0]",
        ),
        (
            [user([{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}])],
            "messages[0].content[0].image_url.url",
        ),
        (
            [user(), {"role": "assistant", "thinking_blocks": [{"type": "thinking"}]}],
            "messages[1].thinking_blocks[0]",
        ),
        ([{"role": "system", "content": "only a system prompt"}], "messages"),
        (["not an object"], "messages[0]"),
        ([], "messages"),
    ],
)
def test_malformed_messages_name_the_place(messages: list[Any], param: str) -> None:
    error = refused(chat(*messages))
    assert (error.code, error.param) == ("invalid_request", param)


def test_empty_arguments_are_an_empty_object() -> None:
    body = translate(
        chat(user(), {"role": "assistant", "tool_calls": [call("c1", "now", "")]}, tool("c1", ""))
    )
    assert body["messages"][1]["content"][0]["input"] == {}
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c1"}]
