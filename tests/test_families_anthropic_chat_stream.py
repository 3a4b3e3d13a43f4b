"""Messages event stream -> ``chat.completion.chunk`` events (``_chat_stream``), accumulated
by the openai SDK's ``ChatCompletionStreamState``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._chat_answer import messages_to_chat
from azure_asgi.families.anthropic._chat_stream import ChatStream
from azure_asgi.families.anthropic._common import JSON_TOOL

from .anthropic_chat_support import (
    accumulate,
    block_strategy,
    chat,
    message,
    odd_events,
    run,
    split,
    sse,
    start_event,
    stream_of,
    translate,
    user,
    whole,
)
from .conftest import sse_data


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


@settings(max_examples=300, deadline=None)
@given(st.lists(odd_events, max_size=8), st.booleans())
def test_stream_never_fails_on_malformed_events(events: list[dict[str, Any]], usage: bool) -> None:
    stream = ChatStream(model="m", created=1, include_usage=usage)
    for event in events:
        for chunk in stream.feed(sse(event)):
            assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
            json.loads(chunk[6:])
    stream.end()


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


def _raw(event: dict[str, Any]) -> bytes:
    """An event as the Messages API writes it on the wire: compact JSON, LF line ends."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def _feed_raw_in(events: list[bytes], cuts: list[int], stream: ChatStream) -> bytes:
    """The raw path's output for ``events`` handed over in runs that end at ``cuts``."""
    out: list[bytes] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(events)]:
        if cut > start:
            out += stream.feed_raw(b"".join(events[start:cut]))
            start = cut
    return b"".join(out + stream.end())


@settings(max_examples=80, deadline=None)
@given(
    st.lists(block_strategy, min_size=1, max_size=4),
    st.data(),
    st.booleans(),
    st.lists(st.integers(0, 40), max_size=6),
    st.sampled_from(["end_turn", "max_tokens", "tool_use", "refusal", "pause_turn"]),
    st.lists(st.integers(1, 40), max_size=3),
)
def test_raw_path_translates_exactly_as_the_decoded_path(
    blocks: list[dict[str, Any]],
    data: st.DataObject,
    usage: bool,
    cuts: list[int],
    stop_reason: str,
    pings: list[int],
) -> None:
    for n, block in enumerate(blocks):
        if block["type"] == "tool_use":
            block["id"] = f"toolu_{n}"
    splits = [split(data.draw, whole(block)) for block in blocks]
    events = stream_of(blocks, stop_reason, splits=splits)
    for at in sorted(pings, reverse=True):  # the API may ping anywhere, inside a run too
        events.insert(min(at, len(events)), {"type": "ping"})
    decoded_stream, decoded = run(events, compact=True, include_usage=usage)
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=usage)
    raw = _feed_raw_in([_raw(event) for event in events], cuts, stream)
    assert raw == b"".join(decoded)
    assert (stream.complete, stream.usage) == (decoded_stream.complete, decoded_stream.usage)


def test_raw_run_of_text_deltas_is_cut_whole_or_block_by_block() -> None:
    """A run checked at once, and one broken by a ping or an ``id:`` line, give the same
    chunks as the decoded path; a delta that only looks like one is left to the decoder."""
    words = ["the", " quick", " brown", ' "fox"', " jumps"]
    deltas = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        for w in words
    ]
    opened = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    head = [start_event(), opened]
    tail = [{"type": "content_block_stop", "index": 0}]
    ping = _raw({"type": "ping"})
    with_id = b"id: 7\n" + _raw(deltas[2])
    for middle in (
        [_raw(d) for d in deltas],
        [_raw(deltas[0]), _raw(deltas[1]), ping, *map(_raw, deltas[2:])],
        [_raw(deltas[0]), _raw(deltas[1]), with_id, *map(_raw, deltas[3:])],
    ):
        stream = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
        raw = stream.feed_raw(b"".join([*map(_raw, head), *middle, *map(_raw, tail)]))
        _, decoded = run([*head, *deltas, *tail], compact=True)
        assert b"".join(raw) == b"".join(decoded)
        chunks = [json.loads(item) for item in sse_data(b"".join(raw))]
        contents = [chunk["choices"][0]["delta"].get("content") for chunk in chunks]
        assert contents == ["", *words]


def test_raw_path_copies_only_literals_fit_for_one_data_line() -> None:
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
    delta = {"type": "content_block_delta", "index": 0}
    head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    text = _raw({**delta, "delta": {"type": "text_delta", "text": "hi"}})
    assert stream.feed_raw(text) == []  # no block 0 opened yet: nothing to add it to
    stream.feed_raw(
        _raw({"type": "content_block_start", "index": 0, "content_block": whole_text()})
    )
    contents = [
        text,
        _raw({**delta, "delta": {"type": "text_delta", "text": 'a "quoted" \\ word\\'}}),
        # Not JSON the API would send; an unescaped quote, a lone final backslash and a raw
        # line break must never be copied as they are.
        head + b'"delta":{"type":"text_delta","text":"x"y"}}\n\n',
        head + b'"delta":{"type":"text_delta","text":"x\\"}}\n\n',
        head + b'"delta":{"type":"text_delta","text":"x\ny"}}\n\n',
        b'event: ping\ndata: {"type": "ping"}\n\n',
        b": a comment\n\n",
        _raw({**delta, "delta": {"type": "text_delta", "text": ""}}),
        _raw({**delta, "delta": {"type": "text_delta", "text": "é\u2028"}}),
    ]
    out = stream.feed_raw(b"".join(contents))
    deltas = [json.loads(d)["choices"][0]["delta"] for piece in out for d in sse_data(piece)]
    assert deltas == [
        {"content": "hi"},
        {"content": 'a "quoted" \\ word\\'},
        {"content": "é\u2028"},
    ]
    assert all(line.startswith(b"data: ") for piece in out for line in piece.split(b"\n") if line)


@pytest.mark.parametrize(
    "message",
    [
        # usage not last, nested usage, an id that is not a plain token, a key ending "usage"
        {"id": "msg_1", "usage": {"input_tokens": 7, "output_tokens": 1}, "model": "m"},
        {"id": "msg_1", "usage": {"input_tokens": 7, "cache_creation": {"e5m": 2}}},
        {"id": 'msg "1"', "usage": {"input_tokens": 7}},
        {"id": "msg_1", 'x",,"usage":{': "y", "usage": {"input_tokens": 7}},
    ],
)
def test_message_start_in_any_shape_reads_as_the_decoded_path(message: dict[str, Any]) -> None:
    events = [{"type": "message_start", "message": message}, *stream_of([whole_text()])[2:]]
    _, decoded = run(events, compact=True, include_usage=True)
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=True)
    assert _feed_raw_in([_raw(e) for e in events], [], stream) == b"".join(decoded)
    assert stream.usage is not None and stream.usage["input_tokens"] == 7


def test_raw_path_hands_other_shapes_to_the_decoder() -> None:
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
    # Comments, an id line and a data line without its space: not the two-line shape.
    start = {"type": "content_block_start", "index": 0, "content_block": whole_text()}
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "ok"},
    }
    events = [
        b": keep-alive\nevent: content_block_start\nid: 7\ndata:" + _raw(start).split(b"data: ")[1],
        b"event: content_block_delta\ndata:" + _raw(delta).split(b"data: ")[1],
        _raw({"type": "content_block_stop", "index": 0}),
        _raw({"type": "message_stop"}),
    ]
    out = b"".join(stream.feed_raw(b"".join(events)) + stream.end())
    deltas = [json.loads(d)["choices"][0]["delta"] for d in sse_data(out) if d != "[DONE]"]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "ok"}]
    assert stream.complete and out.endswith(b"data: [DONE]\n\n")


def whole_text() -> dict[str, Any]:
    return {"type": "text", "text": ""}


def test_raw_path_decodes_usage_only_when_asked_and_in_event_order() -> None:
    start = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 7}}}
    events = [start, *stream_of([whole_text()])[1:]]
    raw = [_raw(e) for e in events]
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
    _feed_raw_in(raw, [], stream)
    # Read after the stream: message_start's usage, updated by message_delta's.
    assert stream.usage is not None and stream.usage["input_tokens"] == 7
    assert "output_tokens" in stream.usage
    # A second message_start (a new answer) replaces what the first one said.
    again = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
    again.feed_raw(raw[0])
    again.feed_raw(_raw({**start, "message": {"id": "msg_2", "usage": {"input_tokens": 9}}}))
    assert again.usage == {"input_tokens": 9}


def test_raw_message_delta_with_usage_that_is_not_json_still_ends_the_answer() -> None:
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=False)
    events = stream_of([whole_text()])
    stream.feed_raw(b"".join(_raw(e) for e in events[:-2]))
    broken = (
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"output_tokens":}}\n\n'
    )
    out = b"".join(stream.feed_raw(broken + _raw({"type": "message_stop"})) + stream.end())
    finish = [json.loads(d) for d in sse_data(out) if d != "[DONE]"]
    assert finish[-1]["choices"][0]["finish_reason"] == "stop"
    assert out.endswith(b"data: [DONE]\n\n")
    # The cut usage is not JSON: only message_start's is known.
    assert stream.usage == events[0]["message"]["usage"]


@pytest.mark.parametrize(
    "delta",
    [
        {"stop_reason": "end_turn", "stop_sequence": None},
        {"stop_reason": "stop_sequence", "stop_sequence": "END"},
        {"stop_reason": "max_tokens", "stop_sequence": None, "extra": 1},
        {"stop_reason": "tool_use", "stop_sequence": None},
        {"stop_reason": 'end_"turn', "stop_sequence": None},
        {"stop_reason": None, "stop_sequence": None},
    ],
)
@pytest.mark.parametrize(
    "usage",
    [{"output_tokens": 26}, {"output_tokens": 3, "note": 'a}\\n"b'}, None],
)
def test_raw_message_delta_in_any_shape_reads_as_the_decoded_path(
    delta: dict[str, Any], usage: dict[str, Any] | None
) -> None:
    """The stop reason and usage are cut from message_delta's bytes only in the API's own
    form; every other shape gives what the decoded path gives."""
    events = stream_of([whole_text()])
    ended = {"type": "message_delta", "delta": delta}
    if usage is not None:
        ended["usage"] = usage
    events[-2] = ended
    decoded_stream, decoded = run(events, compact=True, include_usage=True)
    stream = ChatStream(model="claude-sonnet", created=1700, include_usage=True)
    assert _feed_raw_in([_raw(e) for e in events], [], stream) == b"".join(decoded)
    assert stream.usage == decoded_stream.usage
