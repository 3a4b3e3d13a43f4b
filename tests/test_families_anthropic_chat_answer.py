"""Messages answer -> ``chat.completion`` (``_chat_answer``), parsed by the openai SDK."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion

from azure_asgi.families.anthropic._chat_answer import messages_to_chat
from azure_asgi.families.anthropic._common import JSON_TOOL

from .anthropic_chat_support import (
    WEATHER_TOOL,
    chat,
    message,
    odd_values,
    tool,
    translate,
    user,
)


def test_text_answer() -> None:
    result = messages_to_chat(
        message({"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}),
        model="claude-sonnet",
        created=1700,
    )
    assert result == {
        "id": "msg_01",
        "object": "chat.completion",
        "created": 1700,
        "model": "claude-sonnet",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    ChatCompletion.model_validate(result)


def test_tool_use_and_thinking_answer_round_trips() -> None:
    answer = message(
        {"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_9",
            "name": "get_weather",
            "input": {"city": "Paris", "days": [1, 2]},
        },
        stop_reason="tool_use",
    )
    result = messages_to_chat(answer, model="claude-sonnet", created=1)
    parsed = ChatCompletion.model_validate(result)
    choice = parsed.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    assert choice.message.tool_calls is not None
    tool_call = choice.message.tool_calls[0]
    assert tool_call.type == "function"
    assert (tool_call.id, tool_call.function.name) == ("toolu_9", "get_weather")
    assert tool_call.function.arguments == '{"city":"Paris","days":[1,2]}'
    assert result["choices"][0]["message"]["reasoning_content"] == "Need weather."
    # Sent back in the next turn, the answer becomes the same blocks again.
    assistant = result["choices"][0]["message"]
    body = translate(
        chat(user(), assistant, tool("toolu_9"), tools=[WEATHER_TOOL], reasoning_effort="low")
    )
    assert body["messages"][1]["content"] == answer["content"]


def test_tool_calls_without_text_have_null_content() -> None:
    result = messages_to_chat(
        message({"type": "tool_use", "id": "t", "name": "f", "input": {}}, stop_reason="tool_use"),
        model="m",
        created=1,
    )
    assert result["choices"][0]["message"]["content"] is None
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
    ],
)
def test_answer_finish_reasons(stop: str, reason: str) -> None:
    result = messages_to_chat(
        message({"type": "text", "text": "x"}, stop_reason=stop), model="m", created=1
    )
    assert result["choices"][0]["finish_reason"] == reason


def test_json_tool_answer_is_the_content() -> None:
    result = messages_to_chat(
        message(
            {"type": "text", "text": "Here you go:"},
            {"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"name": "Ada", "age": 36}},
            stop_reason="tool_use",
        ),
        model="m",
        created=1,
    )
    choice = result["choices"][0]
    assert choice["message"]["content"] == '{"name":"Ada","age":36}'
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_server_blocks_are_ignored() -> None:
    result = messages_to_chat(
        message(
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
            {"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
            {"type": "text", "text": "ok"},
        ),
        model="m",
        created=1,
    )
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": "ok",
        "refusal": None,
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(odd_values, max_size=4), odd_values)
def test_answer_never_fails_on_malformed_blocks(content: list[Any], stop: Any) -> None:
    result = messages_to_chat(
        {"id": "x", "content": content, "stop_reason": stop}, model="m", created=1
    )
    assert result["object"] == "chat.completion"
