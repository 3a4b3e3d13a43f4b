"""Responses tools, ``tool_choice`` and ``text.format`` -> Messages tools (``_responses_tools``)."""

from __future__ import annotations

from typing import Any

import pytest

from .anthropic_responses_support import (
    SCHEMA,
    WEATHER,
    assert_valid_messages,
    refused,
    translate,
)


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


def test_thinking_cannot_be_combined_with_a_forced_tool() -> None:
    request = {"model": "claude", "input": "hi", "tools": [WEATHER], "reasoning": {"effort": "low"}}
    error = refused({**request, "tool_choice": "required"})
    assert (error.code, error.param) == ("unsupported_parameter", "tool_choice")
    schema = {"type": "json_schema", "name": "out", "schema": {"type": "object"}}
    error = refused({**request, "text": {"format": schema}})
    assert (error.code, error.param) == ("unsupported_parameter", "text.format")


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
