"""Messages event stream -> Responses events (``_responses_stream``), accumulated by the
openai SDK; and the SDK end to end against a canned Claude."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import Response

from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._responses_answer import messages_to_response
from azure_asgi.families.anthropic._responses_stream import ResponsesStream

from .anthropic_responses_support import (
    CLAUDE_ANSWER,
    HYPOTHESIS,
    SCHEMA,
    WEATHER,
    Reply,
    answer,
    anthropic_event,
    as_message,
    blocks_of,
    calls,
    canned_claude,
    claude_blocks,
    message_events,
    run_stream,
)
from .conftest import async_openai

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
