"""Chat Completions request -> Messages body (``_chat_request``): tools, ``tool_choice``,
limits, sampling, thinking, ``response_format``, what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azure_asgi._errors import GatewayError
from azure_asgi.families.anthropic._chat_request import _plain_chat, general_chat_to_messages
from azure_asgi.families.anthropic._common import JSON_TOOL, THINKING_BUDGETS

from .anthropic_chat_support import (
    DEFAULT_MAX,
    SCHEMA,
    WEATHER_TOOL,
    chat,
    chat_requests,
    refused,
    translate,
    user,
)

# --- requests ---------------------------------------------------------------------------------


def test_minimal_request() -> None:
    assert translate(chat(user())) == {
        "model": "my-claude",
        "max_tokens": DEFAULT_MAX,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_requests())
def test_any_valid_chat_request_translates_to_a_valid_messages_body(body: dict[str, Any]) -> None:
    result = translate(body)
    # Nothing said is lost: every non-blank text of the request is somewhere in the result.
    sent = json.dumps(result)
    for m in body["messages"]:
        if isinstance(m.get("content"), str) and m["content"].strip():
            assert json.dumps(m["content"].rstrip())[1:-1] in sent


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


# --- the usual request's one pass --------------------------------------------------------------

_odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 5000),
    st.floats(0, 2, allow_nan=False),
    st.text(max_size=4),
    st.just([]),
    st.just({}),
)
_text_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "developer", "user", "assistant"]),
        "content": st.text(min_size=1, max_size=6),
    }
)
_odd_message = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "tool", 3]),
            "content": st.one_of(st.just(""), st.none(), st.just([])),
        }
    ),
    st.fixed_dictionaries({"role": st.just("user"), "content": st.just("x"), "name": st.just("n")}),
    st.just("not a message"),
)
#: Mostly what the one pass takes (text turns ending with the user's), sometimes not.
_plain_messages = st.tuples(
    st.one_of(
        st.lists(_text_message, max_size=5),
        st.lists(st.one_of(_text_message, _odd_message), max_size=5),
    ),
    st.booleans(),
).map(lambda drawn: [*drawn[0], {"role": "user", "content": "end"}] if drawn[1] else drawn[0])


def _fields(odd: bool) -> st.SearchStrategy[dict[str, Any]]:
    """The usual request's other fields: values of the right type, or (``odd``) any value,
    and fields the one pass leaves to the general path."""

    def value(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(right, _odd_values) if odd else right

    number = st.one_of(st.floats(0, 2, allow_nan=False), st.integers(0, 2))
    optional = {
        "stream": value(st.booleans()),
        "stream_options": st.just({"include_usage": True}),
        "max_tokens": value(st.integers(1, 5000)),
        "max_completion_tokens": value(st.integers(1, 5000)),
        "temperature": value(number),
        "top_p": value(number),
        "user": value(st.text(max_size=4)) if odd else st.one_of(st.text(max_size=4), st.just(5)),
    }
    if odd:
        optional |= {"seed": st.integers(0, 9), "tools": st.just([])}
    return st.fixed_dictionaries({}, optional=optional)


_plain_fields = st.one_of(_fields(odd=False), _fields(odd=True))


@settings(max_examples=500, deadline=None)
@given(_plain_messages, _plain_fields)
def test_the_usual_request_translates_as_the_general_path(
    messages: list[Any], fields: dict[str, Any]
) -> None:
    """Wherever the one-pass translation answers, its body is the general path's, byte for
    byte; where the general path refuses, it does not answer."""
    body = {"model": "claude", "messages": messages, **fields}
    plain = _plain_chat(body, "my-claude", DEFAULT_MAX)
    try:
        general = general_chat_to_messages(body, "my-claude", max_tokens=DEFAULT_MAX)
    except GatewayError:
        assert plain is None
        return
    if plain is not None:
        assert json.dumps(plain) == json.dumps(general)


def test_the_usual_request_takes_the_one_pass() -> None:
    body = chat(
        {"role": "system", "content": "Be brief."},
        user("hi"),
        user("there"),
        max_tokens=256,
        temperature=0.2,
        stream=True,
    )
    plain = _plain_chat(body, "my-claude", DEFAULT_MAX)
    assert plain == {
        "model": "my-claude",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}],
            }
        ],
        "temperature": 0.2,
        "stream": True,
    }
    assert plain == general_chat_to_messages(body, "my-claude", max_tokens=DEFAULT_MAX)
