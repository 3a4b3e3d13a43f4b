"""Responses request -> Messages body (``_responses_request``): fields translated, dropped
and refused, limits, reasoning as thinking, sampling."""

from __future__ import annotations

from typing import Any

import pytest

from .anthropic_responses_support import (
    WEATHER,
    assert_valid_messages,
    refused,
    translate,
)

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


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert refused(["hi"]).code == "invalid_request"  # type: ignore[arg-type]
