"""Messages answer -> Responses ``response`` (``_responses_answer``, ``_responses_items``),
parsed by the openai SDK."""

from __future__ import annotations

import json

import pytest

from .anthropic_responses_support import (
    CLAUDE_ANSWER,
    SCHEMA,
    WEATHER,
    answer,
    assert_valid_messages,
    calls,
    translate,
)


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
