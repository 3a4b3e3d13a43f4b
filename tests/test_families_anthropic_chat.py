"""Chat Completions <-> Claude Messages: requests, answers and streams, checked against the real
SDKs (the openai accumulator parses every chunk; the request validator allows only what
``anthropic.types.MessageCreateParams`` names)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from anthropic.types.message_create_params import MessageCreateParamsStreaming
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from azure_asgi._errors import GatewayError
from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._chat_answer import messages_to_chat
from azure_asgi.families.anthropic._chat_request import chat_to_messages
from azure_asgi.families.anthropic._chat_stream import ChatStream
from azure_asgi.families.anthropic._common import JSON_TOOL, THINKING_BUDGETS

from .conftest import sse_data

DEFAULT_MAX = 4096
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
PDF = base64.b64encode(b"%PDF-1.7 fake").decode()


def translate(body: dict[str, Any], max_tokens: int = DEFAULT_MAX) -> dict[str, Any]:
    result = chat_to_messages(body, "my-claude", max_tokens=max_tokens)
    validate_messages_body(result)
    return result


def refused(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        chat_to_messages(body, "my-claude", max_tokens=DEFAULT_MAX)
    assert info.value.status == 400
    return info.value


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet", "messages": list(messages), **fields}


def user(content: Any = "hello") -> dict[str, Any]:
    return {"role": "user", "content": content}


def call(id_: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> Any:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool(id_: str, content: Any = "sunny") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": id_, "content": content}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}

# --- a strict validator for Messages bodies ---------------------------------------------------

#: The request keys the installed anthropic SDK types. The sampling parameters are not among
#: them any more (API version 2026-10-21 removed them), but anthropic-version 2023-06-01,
#: which the gateway sends, still takes them on the models that sample (docs/claude.md).
ALLOWED_KEYS = set(MessageCreateParamsStreaming.__annotations__) | {"temperature", "top_p", "top_k"}
USER_BLOCKS = {"text", "image", "document", "tool_result"}
ASSISTANT_BLOCKS = {"text", "tool_use", "thinking", "redacted_thinking"}


def _check_text(block: dict[str, Any]) -> None:
    assert set(block) <= {"type", "text", "cache_control"}, block
    assert isinstance(block["text"], str) and block["text"], "empty text block"


def validate_messages_body(body: dict[str, Any]) -> None:
    """What Claude's Messages API enforces, as strictly as the emulator is meant to."""
    assert set(body) <= ALLOWED_KEYS, set(body) - ALLOWED_KEYS
    assert isinstance(body["model"], str) and body["model"]
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] >= 1
    for block in body.get("system", []):
        assert block["type"] == "text"
        _check_text(block)
    turns = body["messages"]
    assert isinstance(turns, list) and turns
    assert turns[0]["role"] == "user", "the first turn must be the user's"
    previous_uses: set[str] = set()
    for n, turn in enumerate(turns):
        assert set(turn) == {"role", "content"}
        assert turn["role"] == ("user" if n % 2 == 0 else "assistant"), "roles must alternate"
        content = turn["content"]
        assert isinstance(content, list) and content, "empty turn"
        if turn["role"] == "user":
            kinds = [b["type"] for b in content]
            assert set(kinds) <= USER_BLOCKS, kinds
            results = [b["tool_use_id"] for b in content if b["type"] == "tool_result"]
            assert kinds[: len(results)] == ["tool_result"] * len(results), "results first"
            assert set(results) == previous_uses, "tool results must answer the last tool uses"
            assert len(results) == len(set(results))
            previous_uses = set()
            for block in content:
                if block["type"] == "text":
                    _check_text(block)
                elif block["type"] == "image":
                    assert block["source"]["type"] in ("base64", "url")
                elif block["type"] == "tool_result":
                    inner = block.get("content", [])
                    if isinstance(inner, list):
                        for part in inner:
                            _check_text(part)
                    else:
                        assert isinstance(inner, str) and inner
        else:
            kinds = [b["type"] for b in content]
            assert set(kinds) <= ASSISTANT_BLOCKS, kinds
            uses = [b["id"] for b in content if b["type"] == "tool_use"]
            assert len(uses) == len(set(uses))
            previous_uses = set(uses)
            for block in content:
                if block["type"] == "text":
                    _check_text(block)
                elif block["type"] == "tool_use":
                    assert set(block) <= {"type", "id", "name", "input", "cache_control"}
                    assert isinstance(block["input"], dict)
                elif block["type"] == "thinking":
                    assert set(block) == {"type", "thinking", "signature"}
    if turns[-1]["role"] == "assistant":
        assert not previous_uses, "a final assistant turn cannot hold unanswered tool uses"
        last = turns[-1]["content"][-1]
        if last["type"] == "text":
            assert last["text"] == last["text"].rstrip(), "a prefill cannot end in whitespace"
    tools = body.get("tools", [])
    names = [t["name"] for t in tools]
    assert len(names) == len(set(names))
    for t in tools:
        assert set(t) <= {"name", "description", "input_schema", "cache_control"}
        assert t["input_schema"]["type"] == "object"
    if "tool_choice" in body:
        assert tools, "tool_choice needs tools"
        choice = body["tool_choice"]
        assert choice["type"] in ("auto", "any", "tool", "none")
        if choice["type"] == "tool":
            assert choice["name"] in names
    thinking = body.get("thinking")
    if thinking is not None and thinking.get("type") == "enabled":
        assert 1024 <= thinking["budget_tokens"] < body["max_tokens"]
        assert "temperature" not in body and "top_k" not in body
        assert body.get("tool_choice", {"type": "auto"})["type"] in ("auto", "none")
    for stop in body.get("stop_sequences", []):
        assert isinstance(stop, str) and stop
    if "metadata" in body:
        assert set(body["metadata"]) == {"user_id"}


# --- requests ---------------------------------------------------------------------------------


def test_minimal_request() -> None:
    assert translate(chat(user())) == {
        "model": "my-claude",
        "max_tokens": DEFAULT_MAX,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }


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


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any] | None) -> None:
    body = translate(chat(user(), tools=[WEATHER_TOOL], tool_choice=choice))
    assert body.get("tool_choice") == expected


def test_parallel_tool_calls_false() -> None:
    body = translate(chat(user(), tools=[WEATHER_TOOL], parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = translate(
        chat(user(), tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False)
    )
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert "tool_choice" not in translate(
        chat(user(), tools=[WEATHER_TOOL], parallel_tool_calls=True)
    )


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    body = translate(chat(user(), tools=[{"type": "function", "function": {"name": "now"}}]))
    assert body["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


def test_tool_choice_without_tools_is_left_out() -> None:
    assert "tool_choice" not in translate(chat(user(), tool_choice="none"))


def test_limits_sampling_stop_and_user() -> None:
    body = translate(
        chat(
            user(),
            max_tokens=50,
            max_completion_tokens=70,
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stop="END",
            user="u-1",
            seed=7,
            store=True,
            service_tier="auto",
            metadata={"a": "b"},
            stream=True,
            stream_options={"include_usage": True},
            prompt_cache_key="k",
            verbosity="low",
            n=1,
            logprobs=False,
            frequency_penalty=0,
        )
    )
    assert body == {
        "model": "my-claude",
        "max_tokens": 70,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "stop_sequences": ["END"],
        "temperature": 0.2,  # top_p left out: Claude refuses both together
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    assert translate(chat(user(), max_tokens=9, stop=["a", "b"]))["max_tokens"] == 9
    assert translate(chat(user(), stop=["a", "b"]))["stop_sequences"] == ["a", "b"]
    assert translate(chat(user(), safety_identifier="s-1"))["metadata"] == {"user_id": "s-1"}
    assert "stream" not in translate(chat(user(), stream=False))


@pytest.mark.parametrize("effort", list(THINKING_BUDGETS))
def test_reasoning_effort_becomes_a_thinking_budget(effort: str) -> None:
    body = translate(chat(user(), reasoning_effort=effort, temperature=0.3, top_k=5, top_p=0.5))
    budget = THINKING_BUDGETS[effort]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    # Raised above the budget when the default does not exceed it.
    assert body["max_tokens"] == (DEFAULT_MAX if budget < DEFAULT_MAX else budget + DEFAULT_MAX)
    assert not {"temperature", "top_p", "top_k"} & set(body)


def test_reasoning_effort_none_and_a_roomy_limit() -> None:
    assert "thinking" not in translate(chat(user(), reasoning_effort="none"))
    body = translate(chat(user(), reasoning_effort="low", max_completion_tokens=50_000))
    assert body["max_tokens"] == 50_000


def test_explicit_thinking_passes_as_is() -> None:
    thinking = {"type": "enabled", "budget_tokens": 3000, "display": "summarized"}
    body = translate(chat(user(), thinking=thinking, reasoning_effort="high", max_tokens=100))
    assert body["thinking"] == thinking
    assert body["max_tokens"] == 3000 + DEFAULT_MAX
    assert translate(chat(user(), thinking={"type": "adaptive"}))["thinking"] == {
        "type": "adaptive"
    }
    assert (
        translate(chat(user(), thinking={"type": "disabled"}, temperature=0.1))["temperature"]
        == 0.1
    )


def test_top_p_alone_passes() -> None:
    assert translate(chat(user(), top_p=0.8))["top_p"] == 0.8


def test_adaptive_thinking_takes_the_effort_in_output_config() -> None:
    body = translate(chat(user(), thinking={"type": "adaptive"}, reasoning_effort="minimal"))
    assert (body["thinking"], body["output_config"]) == ({"type": "adaptive"}, {"effort": "low"})
    body = translate(
        chat(
            user(),
            thinking={"type": "adaptive"},
            reasoning_effort="high",
            output_config={"effort": "max"},
        )
    )
    assert body["output_config"] == {"effort": "max"}  # the caller's own wins
    assert "output_config" not in translate(chat(user(), thinking={"type": "adaptive"}))
    assert refused(chat(user(), output_config="fast")).param == "output_config"
    error = refused(chat(user(), thinking={"type": "adaptive"}, reasoning_effort="turbo"))
    assert error.param == "reasoning_effort"


def test_forced_tool_use_with_thinking_is_refused() -> None:
    error = refused(
        chat(user(), tools=[WEATHER_TOOL], tool_choice="required", reasoning_effort="low")
    )
    assert (error.code, error.param) == ("unsupported_parameter", "tool_choice")


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_response_format_json_schema_forces_the_json_tool() -> None:
    body = translate(
        chat(
            user(),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Person", "schema": SCHEMA, "strict": True},
            },
        )
    )
    assert body["tools"] == [
        {
            "name": JSON_TOOL,
            "description": "Give the final answer as JSON matching this schema.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}


def test_response_format_variants() -> None:
    assert "tools" not in translate(chat(user(), response_format={"type": "text"}))
    body = translate(chat(user(), response_format={"type": "json_object"}))
    assert body["tools"][0]["input_schema"] == {"type": "object"}
    # With the caller's tools the model must call one of them or answer through the JSON tool.
    body = translate(chat(user(), tools=[WEATHER_TOOL], response_format={"type": "json_object"}))
    assert [t["name"] for t in body["tools"]] == ["get_weather", JSON_TOOL]
    assert body["tool_choice"] == {"type": "any"}
    body = translate(
        chat(
            user(),
            tools=[WEATHER_TOOL],
            tool_choice="none",
            response_format={"type": "json_object"},
        )
    )
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    # Thinking refuses forced tools: the model is told to use it instead.
    body = translate(chat(user(), reasoning_effort="low", response_format={"type": "json_object"}))
    assert "tool_choice" not in body
    assert JSON_TOOL in body["system"][-1]["text"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"presence_penalty": -1}, "presence_penalty"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"no_such_field": 1}, "no_such_field"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        (
            {
                "tool_choice": {"type": "allowed_tools", "allowed_tools": {}},
                "tools": [WEATHER_TOOL],
            },
            "tool_choice",
        ),
    ],
)
def test_untranslatable_fields_are_refused(fields: dict[str, Any], param: str) -> None:
    error = refused(chat(user(), **fields))
    assert (error.code, error.param) == ("unsupported_parameter", param)
    assert "Claude" in error.message


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


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": "10"}, "max_completion_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"stop": [1]}, "stop"),
        ({"reasoning_effort": "turbo"}, "reasoning_effort"),
        ({"thinking": "on"}, "thinking"),
        ({"response_format": {"type": "yaml"}}, "response_format"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "array"}},
                }
            },
            "response_format.json_schema.schema",
        ),
        ({"tools": [{"type": "function", "function": {"name": JSON_TOOL}}]}, "tools[0]"),
        ({"tools": "get_weather"}, "tools"),
    ],
)
def test_malformed_fields_name_the_field(fields: dict[str, Any], param: str) -> None:
    error = refused(chat(user(), **fields))
    assert (error.code, error.param) == ("invalid_request", param)


def test_empty_arguments_are_an_empty_object() -> None:
    body = translate(
        chat(user(), {"role": "assistant", "tool_calls": [call("c1", "now", "")]}, tool("c1", ""))
    )
    assert body["messages"][1]["content"][0]["input"] == {}
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c1"}]


# --- answers ----------------------------------------------------------------------------------

USAGE = {
    "input_tokens": 12,
    "output_tokens": 30,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 8,
}


def message(*content: dict[str, Any], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "my-claude",
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
    }


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


# --- streams ----------------------------------------------------------------------------------


def sse(data: dict[str, Any], *, compact: bool = False) -> SSEEvent:
    """An upstream event: compact as the Messages API writes it (the translator's fast path
    for text), or spaced (its general path)."""
    if compact:
        return SSEEvent(
            json.dumps(data, separators=(",", ":"), ensure_ascii=False), event=data["type"]
        )
    return SSEEvent(json.dumps(data), event=data["type"])


def start_event(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_stream",
            "type": "message",
            "role": "assistant",
            "model": "my-claude",
            "content": [],
            "stop_reason": None,
            "usage": usage
            or {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5},
        },
    }


def block_events(index: int, block: dict[str, Any], pieces: list[str]) -> list[dict[str, Any]]:
    """The events Claude streams for one content block whose text (or input JSON, or
    thinking) arrives in ``pieces``."""
    kind = block["type"]
    if kind == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in pieces]
    elif kind == "thinking":
        opening = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    else:
        opening, deltas = block, []
    return [
        {"type": "content_block_start", "index": index, "content_block": opening},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def whole(block: dict[str, Any]) -> str:
    if block["type"] == "text":
        return str(block["text"])
    if block["type"] == "thinking":
        return str(block["thinking"])
    if block["type"] == "tool_use":
        return json.dumps(block["input"])
    return ""


def stream_of(
    blocks: list[dict[str, Any]],
    stop_reason: str = "end_turn",
    splits: list[list[str]] | None = None,
) -> list[dict[str, Any]]:
    events = [start_event(), {"type": "ping"}]
    for i, block in enumerate(blocks):
        pieces = splits[i] if splits else [whole(block)]
        events += block_events(i, block, pieces)
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 42},
        }
    )
    events.append({"type": "message_stop"})
    return events


def run(
    events: list[dict[str, Any]], *, include_usage: bool = False, compact: bool = False
) -> tuple[ChatStream, list[bytes]]:
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=include_usage)
    out: list[bytes] = []
    for event in events:
        out += stream.feed(sse(event, compact=compact))
    out += stream.end()
    return stream, out


def accumulate(out: list[bytes]) -> tuple[Any, list[ChatCompletionChunk], bool]:
    """The openai SDK's own accumulation of the chunks (each parsed by its model), the chunks,
    and whether [DONE] ended them."""
    data = sse_data(b"".join(out))
    done = bool(data) and data[-1] == "[DONE]"
    assert "[DONE]" not in data[:-1]
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    chunks = []
    for item in data:
        if item == "[DONE]":
            continue
        chunk = ChatCompletionChunk.model_validate(json.loads(item))
        assert (chunk.id, chunk.object, chunk.created, chunk.model) == (
            "msg_stream",
            "chat.completion.chunk",
            1700,
            "claude-sonnet",
        )
        chunks.append(chunk)
        state.handle_chunk(chunk)
    snapshot = state.current_completion_snapshot
    if snapshot.choices and snapshot.choices[0].finish_reason in ("length", "content_filter"):
        return snapshot, chunks, done  # get_final_completion raises for these, as it should
    return state.get_final_completion(), chunks, done


@pytest.mark.parametrize("compact", [True, False])
def test_stream_text(compact: bool) -> None:
    blocks = [{"type": "text", "text": "Hello world"}]
    stream, out = run(stream_of(blocks, splits=[["Hel", "lo", " world"]]), compact=compact)
    final, chunks, done = accumulate(out)
    assert done and stream.complete and stream.failure is None
    assert chunks[0].choices[0].delta.role == "assistant"
    assert final.choices[0].message.content == "Hello world"
    assert final.choices[0].finish_reason == "stop"
    assert stream.usage == {"input_tokens": 25, "output_tokens": 42, "cache_read_input_tokens": 5}


@pytest.mark.parametrize(
    "pieces",
    [
        ['say "hi"', " and \\", "\\", " end"],
        ["tab\there", "line\nbreak", "\u2028 é 😀", "\\"],
        ["\\n is not a newline", '"', ""],
    ],
)
def test_stream_text_literals_survive_both_paths(pieces: list[str]) -> None:
    text = "".join(pieces)
    for compact in (True, False):
        _, out = run(stream_of([{"type": "text", "text": text}], splits=[pieces]), compact=compact)
        assert accumulate(out)[0].choices[0].message.content == text


def test_fast_path_refuses_deltas_it_cannot_copy() -> None:
    stream = ChatStream(model="m", created=1, include_usage=False)
    stream.feed(
        sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
    )
    # Another block's index, or a shape the fast path does not know: the general path decides.
    head = '{"type":"content_block_delta","index":'
    assert stream.feed(SSEEvent(head + '1,"delta":{"type":"text_delta","text":"x"}}')) == []
    assert stream.feed(SSEEvent(head + 'x,"delta":{"type":"text_delta","text":"x"}}')) == []
    (chunk,) = stream.feed(SSEEvent(head + '0,"delta":{"type":"text_delta","text":"a\\\\"}}'))
    assert json.loads(sse_data(chunk)[0])["choices"][0]["delta"] == {"content": "a\\"}


def test_stream_tool_calls_are_indexed_from_zero() -> None:
    blocks = [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {
            "type": "tool_use",
            "id": "toolu_b",
            "name": "get_time",
            "input": {"zone": "CET", "n": [1, 2]},
        },
    ]
    splits = [
        ["Checking both."],
        ['{"ci', 'ty": "Par', 'is"}'],
        ["", '{"zone": "CET", ', '"n": [1, 2]}'],
    ]
    _, out = run(stream_of(blocks, "tool_use", splits))
    final, _, done = accumulate(out)
    assert done
    message_ = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message_.content == "Checking both."
    calls = message_.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("toolu_a", "get_weather", {"city": "Paris"}),
        ("toolu_b", "get_time", {"zone": "CET", "n": [1, 2]}),
    ]


def test_stream_tool_without_input_gets_empty_object_arguments() -> None:
    blocks = [{"type": "tool_use", "id": "t", "name": "now", "input": {}}]
    final, _, _ = accumulate(run(stream_of(blocks, "tool_use", [[""]]))[1])
    assert final.choices[0].message.tool_calls[0].function.arguments == "{}"


def test_stream_thinking_with_signature_can_be_sent_back() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-xyz"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "42"},
    ]
    _, out = run(stream_of(blocks, splits=[["Let me", " think."], [], ["42"]]))
    final, _, _ = accumulate(out)
    dumped = final.choices[0].message.model_dump()
    assert dumped["content"] == "42"
    assert dumped["reasoning_content"] == "Let me think."
    assert dumped["thinking_blocks"] == [
        {"index": 0, "type": "thinking", "thinking": "Let me think.", "signature": "sig-xyz"},
        {"index": 1, "type": "redacted_thinking", "data": "opaque"},
    ]
    assistant = {
        "role": "assistant",
        "content": dumped["content"],
        "thinking_blocks": dumped["thinking_blocks"],
    }
    body = translate(chat(user(), assistant, user("more"), reasoning_effort="low"))
    assert body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-xyz"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]


def test_stream_max_tokens_finishes_with_length() -> None:
    final, _, done = accumulate(
        run(stream_of([{"type": "text", "text": "trunc"}], "max_tokens"))[1]
    )
    assert done and final.choices[0].finish_reason == "length"


def test_stream_usage_chunk_when_asked() -> None:
    _, out = run(stream_of([{"type": "text", "text": "hi"}]), include_usage=True)
    final, chunks, done = accumulate(out)
    assert done
    assert chunks[-1].choices == []
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (
        30,
        42,
        72,
    )
    assert final.usage.prompt_tokens_details is not None
    assert final.usage.prompt_tokens_details.cached_tokens == 5
    _, out = run(stream_of([{"type": "text", "text": "hi"}]))
    assert all(c.usage is None for c in accumulate(out)[1])


def test_stream_json_tool_streams_as_content() -> None:
    blocks = [
        {"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"name": "Ada", "age": 36}}
    ]
    final, _, _ = accumulate(
        run(stream_of(blocks, "tool_use", [['{"name": ', '"Ada", "age": 36}']]))[1]
    )
    choice = final.choices[0]
    assert json.loads(choice.message.content or "") == {"name": "Ada", "age": 36}
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"


def test_stream_error_event_sets_failure_and_never_done() -> None:
    events = stream_of([{"type": "text", "text": "partial"}])[:5]
    events.append({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    stream, out = run(events)
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
    final, _, done = accumulate(out)
    assert not done
    assert final.choices[0].finish_reason is None
    assert final.choices[0].message.content == "partial"


def test_cut_stream_ends_without_done_or_finish_reason() -> None:
    events = stream_of([{"type": "text", "text": "abc"}], splits=[["a", "b", "c"]])[:6]
    stream, out = run(events)
    assert not stream.complete and stream.failure is None
    assert stream.end() == []
    final, _, done = accumulate(out)
    assert not done and final.choices[0].finish_reason is None


def test_stream_ignores_pings_comments_and_unknown_events() -> None:
    stream = ChatStream(model="m", created=1, include_usage=False)
    assert stream.feed(SSEEvent("", has_data=False)) == []
    assert stream.feed(SSEEvent("not json")) == []
    assert stream.feed(SSEEvent("[1]")) == []
    assert stream.feed(sse({"type": "ping"})) == []
    assert stream.feed(sse({"type": "future_event", "x": 1})) == []
    assert (
        stream.feed(
            sse(
                {
                    "type": "content_block_delta",
                    "index": 3,
                    "delta": {"type": "text_delta", "text": "x"},
                }
            )
        )
        == []
    )


# --- property: any valid chat request translates into a valid Messages body -----------------

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(["", " ", "hi", "  spaced  "])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
arguments = st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=3)


@st.composite
def user_content(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return draw(texts)
    parts = draw(
        st.lists(
            st.one_of(
                texts.map(lambda t: {"type": "text", "text": t}),
                st.just({"type": "image_url", "image_url": {"url": PNG}}),
                st.just({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}),
                st.just({"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}}),
                texts.map(
                    lambda t: {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}
                ),
            ),
            max_size=4,
        )
    )
    return parts


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(texts)}
        )
    ids = iter(f"call_{n}" for n in range(1000))
    thinking = draw(st.booleans())
    for _ in range(draw(st.integers(1, 7))):
        step = draw(st.sampled_from(["user", "user", "assistant", "tools", "system"]))
        if step == "user":
            messages.append(user(draw(user_content())))
        elif step == "system":
            messages.append({"role": "system", "content": draw(texts)})
        elif step == "assistant":
            messages.append({"role": "assistant", "content": draw(texts | st.none())})
        else:
            calls = [
                call(
                    next(ids),
                    draw(st.sampled_from(["get_weather", "now"])),
                    json.dumps(draw(arguments)),
                )
                for _ in range(draw(st.integers(1, 3)))
            ]
            assistant: dict[str, Any] = {
                "role": "assistant",
                "content": draw(texts | st.none()),
                "tool_calls": calls,
            }
            if thinking and draw(st.booleans()):
                assistant["thinking_blocks"] = [
                    {"type": "thinking", "thinking": draw(texts), "signature": "sig"}
                ]
            messages.append(assistant)
            answers = draw(st.permutations([c["id"] for c in calls]))
            messages += [
                tool(i, draw(texts | st.just([{"type": "text", "text": "r"}]))) for i in answers
            ]
    # A conversation the model can answer: it holds something a user said.
    messages.append(user(draw(texts.filter(lambda t: t.strip()))))
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["tools"] = [WEATHER_TOOL, {"type": "function", "function": {"name": "now"}}]
        choices = (
            ["auto", "none"]
            if thinking
            else ["auto", "none", "required", {"type": "function", "function": {"name": "now"}}]
        )
        fields["tool_choice"] = draw(st.sampled_from(choices))
        fields["parallel_tool_calls"] = draw(st.booleans())
    if thinking:
        fields["reasoning_effort"] = draw(st.sampled_from(list(THINKING_BUDGETS)))
    for name, strategy in [
        ("temperature", st.floats(0, 1)),
        ("top_p", st.floats(0, 1)),
        ("max_completion_tokens", st.integers(1, 100_000)),
        ("stop", st.one_of(texts, st.lists(texts, max_size=3))),
        ("user", st.text(min_size=1, max_size=8)),
        ("seed", st.integers()),
        ("stream", st.booleans()),
        (
            "response_format",
            st.sampled_from(
                [
                    {"type": "text"},
                    {"type": "json_object"},
                    {"type": "json_schema", "json_schema": {"name": "P", "schema": SCHEMA}},
                ]
            ),
        ),
    ]:
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    return chat(*messages, **fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_requests())
def test_any_valid_chat_request_translates_to_a_valid_messages_body(body: dict[str, Any]) -> None:
    result = translate(body)
    # Nothing said is lost: every non-blank text of the request is somewhere in the result.
    sent = json.dumps(result)
    for m in body["messages"]:
        if isinstance(m.get("content"), str) and m["content"].strip():
            assert json.dumps(m["content"].rstrip())[1:-1] in sent


# --- property: any Messages stream translates into chunks the openai accumulator takes -------

block_strategy = st.one_of(
    texts.map(lambda t: {"type": "text", "text": t}),
    st.tuples(texts, st.text(min_size=1, max_size=10)).map(
        lambda p: {"type": "thinking", "thinking": p[0], "signature": p[1]}
    ),
    st.text(min_size=1, max_size=10).map(lambda d: {"type": "redacted_thinking", "data": d}),
    st.tuples(st.sampled_from(["get_weather", "now"]), arguments).map(
        lambda p: {"type": "tool_use", "name": p[0], "input": p[1]}
    ),
)


def split(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(block_strategy, max_size=6),
    st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal"]),
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_any_messages_stream_accumulates_like_the_json_answer(
    blocks: list[dict[str, Any]],
    stop_reason: str,
    include_usage: bool,
    compact: bool,
    data: st.DataObject,
) -> None:
    for n, block in enumerate(blocks):
        if block["type"] == "tool_use":
            block["id"] = f"toolu_{n}"
    splits = [
        split(data.draw, whole(b)) if b["type"] != "redacted_thinking" else [] for b in blocks
    ]
    events = stream_of(blocks, stop_reason, splits)
    pings = data.draw(st.lists(st.integers(1, len(events) - 1), max_size=3))
    for at in sorted(pings, reverse=True):
        events.insert(at, {"type": "ping"})
    stream, out = run(events, include_usage=include_usage, compact=compact)
    final, _, done = accumulate(out)
    assert done and stream.complete

    expected = messages_to_chat(
        {**message(*blocks, stop_reason=stop_reason), "id": "msg_stream", "usage": stream.usage},
        model="claude-sonnet",
        created=1700,
    )
    want = expected["choices"][0]
    got = final.choices[0].message.model_dump()
    assert (got["content"] or "") == (want["message"]["content"] or "")
    assert final.choices[0].finish_reason == want["finish_reason"]
    calls = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in got["tool_calls"] or []
    ]
    assert calls == [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in want["message"].get("tool_calls", [])
    ]
    if "thinking_blocks" in want["message"]:
        assert got.get("reasoning_content", "") == want["message"].get("reasoning_content", "")
        assert [
            {k: v for k, v in b.items() if k != "index"} for b in got["thinking_blocks"]
        ] == want["message"]["thinking_blocks"]
    else:
        assert got.get("thinking_blocks") is None
    if include_usage:
        assert final.usage is not None and final.usage.model_dump(exclude_none=True) == {
            **expected["usage"],
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }


# --- robustness: whatever the upstream sends, the translators answer -----------------------

EVENT_TYPES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
    "ping",
]
odd_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(
            st.sampled_from(
                ["type", "index", "text", "delta", "content_block", "message", "error"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
odd_events = st.builds(
    lambda kind, extra: {**extra, "type": kind},
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(
        st.sampled_from(["index", "delta", "content_block", "message", "error", "usage"]),
        odd_values,
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(odd_events, max_size=8), st.booleans())
def test_stream_never_fails_on_malformed_events(events: list[dict[str, Any]], usage: bool) -> None:
    stream = ChatStream(model="m", created=1, include_usage=usage)
    for event in events:
        for chunk in stream.feed(sse(event)):
            assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
            json.loads(chunk[6:])
    stream.end()


@settings(max_examples=200, deadline=None)
@given(st.lists(odd_values, max_size=4), odd_values)
def test_answer_never_fails_on_malformed_blocks(content: list[Any], stop: Any) -> None:
    result = messages_to_chat(
        {"id": "x", "content": content, "stop_reason": stop}, model="m", created=1
    )
    assert result["object"] == "chat.completion"


def test_json_tool_with_thinking_and_tool_choice_none_lets_the_model_answer() -> None:
    body = translate(
        chat(
            user(),
            tools=[WEATHER_TOOL],
            tool_choice="none",
            reasoning_effort="low",
            response_format={"type": "json_object"},
        )
    )
    assert "tool_choice" not in body  # auto: the JSON tool can be called
    assert [t["name"] for t in body["tools"]] == ["get_weather", JSON_TOOL]


def test_json_tool_stream_parses_into_the_callers_model() -> None:
    """What ``chat.completions.stream(response_format=Person)`` does with the chunks."""
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    blocks = [
        {"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"name": "Ada", "age": 36}}
    ]
    _, out = run(stream_of(blocks, "tool_use", [['{"na', 'me": "Ada", "age": 36}']]), compact=True)
    state: ChatCompletionStreamState[Person] = ChatCompletionStreamState(response_format=Person)
    for item in sse_data(b"".join(out)):
        if item != "[DONE]":
            state.handle_chunk(ChatCompletionChunk.model_validate(json.loads(item)))
    assert state.get_final_completion().choices[0].message.parsed == Person(name="Ada", age=36)
