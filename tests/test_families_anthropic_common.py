"""The pieces both Claude translations share (``_common``): thinking budgets, sampling, the JSON
tool, stop reasons, usage, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azure_asgi._errors import GatewayError
from azure_asgi.families.anthropic._common import (
    JSON_TOOL,
    THINKING_BUDGETS,
    anthropic_error,
    chat_usage,
    error_status,
    finish_reason,
    fit_max_tokens,
    json_tool,
    sampling,
    thinking_for_effort,
    usage_counts,
)


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
def test_error_status(kind: str, status: int) -> None:
    assert error_status(kind) == status


def test_anthropic_error_keeps_type_as_code() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert anthropic_error(529, body) == {
        "message": "Overloaded",
        "type": "overloaded_error",
        "code": "overloaded_error",
        "param": None,
    }


@pytest.mark.parametrize(
    ("status", "body", "kind", "in_message"),
    [
        (502, b"<html>Bad gateway</html>", "api_error", "<html>Bad gateway</html>"),
        (429, b"", "rate_limit_error", "HTTP 429"),
        (400, b'{"unexpected": true}', "invalid_request_error", '{"unexpected": true}'),
        (503, b"[1]", "api_error", "HTTP 503"),
        (413, b'{"type":"error","error":{"type":"request_too_large"}}', "request_too_large", "413"),
    ],
)
def test_anthropic_error_falls_back_on_odd_bodies(
    status: int, body: bytes, kind: str, in_message: str
) -> None:
    obj = anthropic_error(status, body)
    assert obj["type"] == obj["code"] == kind
    assert in_message in obj["message"]
    assert obj["param"] is None


@given(st.binary(max_size=200), st.integers(400, 599))
def test_anthropic_error_never_fails(body: bytes, status: int) -> None:
    obj = anthropic_error(status, body)
    assert set(obj) == {"message", "type", "code", "param"}
    assert isinstance(obj["message"], str) and obj["message"]


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_finish_reason(stop: str | None, reason: str) -> None:
    assert finish_reason(stop) == reason


def test_usage_counts_cache_into_prompt_tokens() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 3},
    }
    assert usage_counts(usage) == (130, 7, 100, 3)
    assert chat_usage(usage) == {
        "prompt_tokens": 130,
        "completion_tokens": 7,
        "total_tokens": 137,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }


def test_usage_counts_tolerate_nulls_and_absence() -> None:
    assert usage_counts(None) == (0, 0, 0, 0)
    assert usage_counts({"input_tokens": 4, "cache_read_input_tokens": None}) == (4, 0, 0, 0)


def test_thinking_budgets() -> None:
    assert thinking_for_effort("none", where="reasoning_effort") is None
    budgets = [thinking_for_effort(e, where="r") for e in THINKING_BUDGETS]
    assert all(b is not None and b["type"] == "enabled" for b in budgets)
    values = [b["budget_tokens"] for b in budgets if b is not None]
    assert values == sorted(values) and values[0] == 1024
    with pytest.raises(GatewayError) as info:
        thinking_for_effort("extreme", where="reasoning.effort")
    assert info.value.param == "reasoning.effort"


def test_fit_max_tokens() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    assert fit_max_tokens(1000, thinking, 4096) == 2048 + 4096
    assert fit_max_tokens(2048, thinking, 4096) == 2048 + 4096
    assert fit_max_tokens(3000, thinking, 4096) == 3000
    assert fit_max_tokens(10, {"type": "adaptive"}, 4096) == 10
    assert fit_max_tokens(10, None, 4096) == 10


def test_json_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    tool = json_tool(schema, description=None, where="w")
    assert tool["name"] == JSON_TOOL
    assert tool["input_schema"] == schema
    with pytest.raises(GatewayError) as info:
        json_tool({"type": "array"}, description=None, where="response_format.json_schema.schema")
    assert info.value.param == "response_format.json_schema.schema"


def test_sampling() -> None:
    body = {"temperature": 0.3, "top_p": 0.9, "top_k": 7}
    assert sampling(body, thinking=False) == {"temperature": 0.3, "top_k": 7}
    assert sampling({"top_p": 0.9}, thinking=False) == {"top_p": 0.9}
    assert sampling(body, thinking=True) == {}
    assert sampling({}, thinking=False) == {}
    for bad in ({"temperature": "hot"}, {"top_p": True}, {"top_k": 0}):
        with pytest.raises(GatewayError) as info:
            sampling(bad, thinking=True)  # checked even when thinking leaves them out
        assert (info.value.code, info.value.param) == ("invalid_request", next(iter(bad)))
