"""What observers read from answers and streams, for every family's shape (pure)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from azure_asgi._content import input_messages, output_messages
from azure_asgi._sse import SSEEvent
from azure_asgi._tap import BlockTap, Facts, StreamTap, read_answer
from azure_asgi._usage import usage_counts

from .conftest import sse_events


def event(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


ANTHROPIC_STREAM = [
    event(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-sonnet-4-5",
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 5,
                    "cache_creation_input_tokens": 0,
                },
                "stop_reason": None,
            },
        },
        "message_start",
    ),
    event(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        "content_block_delta",
    ),
    event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 7},
        },
        "message_delta",
    ),
    event({"type": "message_stop"}, "message_stop"),
]


def run(tap: StreamTap, raw: bytes) -> bytes:
    out = [piece for e in sse_events(raw) for piece in tap.feed(e)]
    out += tap.end()
    tap.finish_reading()
    return b"".join(out)


def blocks(tap: BlockTap, *parts: bytes) -> bytes:
    out = b"".join(tap(part) for part in parts)
    tap.finish_reading()
    return out


def test_a_passed_anthropic_stream_is_read_and_left_untouched() -> None:
    facts = Facts()
    tap = BlockTap(facts, (b"message_stop",), strip=False, capture=True)
    # Blocks as the relay cuts them: whole events, one or several.
    parts = (ANTHROPIC_STREAM[0], ANTHROPIC_STREAM[1] + ANTHROPIC_STREAM[2], ANTHROPIC_STREAM[3])
    assert blocks(tap, *parts) == b"".join(ANTHROPIC_STREAM)
    assert tap.complete
    assert (facts.response_id, facts.response_model) == ("msg_1", "claude-sonnet-4-5")
    assert facts.finish_reasons == ["end_turn"]
    counts = usage_counts(facts.usage)
    assert (counts.input_tokens, counts.output_tokens, counts.cached_tokens) == (15, 7, 5)
    assert facts.output == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hi"}],
            "finish_reason": "end_turn",
        }
    ]


def test_an_unterminated_stream_is_not_complete() -> None:
    tap = BlockTap(Facts(), (b"message_stop",), strip=False, capture=False)
    blocks(tap, *ANTHROPIC_STREAM[:2])
    assert not tap.complete


class Upper:
    """A stand-in family translator with its own usage."""

    def __init__(self) -> None:
        self.complete = False
        self.failure = None
        self.usage = {"input_tokens": 3, "output_tokens": 4}

    def feed(self, e: SSEEvent) -> list[bytes]:
        self.complete = True
        return [e.raw.upper()]

    def end(self) -> list[bytes]:
        return [b"data: [DONE]\n\n"]


def test_a_translated_stream_goes_through_its_translator() -> None:
    inner = Upper()
    tap = StreamTap(inner, Facts(), strip=False, capture=False)
    assert not tap.complete
    out = run(tap, b"data: {}\n\n")
    assert out == b"DATA: {}\n\ndata: [DONE]\n\n"
    assert tap.complete
    assert tap.usage == inner.usage
    assert tap.failure is None


@given(st.lists(st.text(alphabet=st.sampled_from('ab ",:{}[]\\'), max_size=12), max_size=5))
def test_stripping_gives_back_the_stream_without_the_usage_it_asked_for(pieces: list[str]) -> None:
    def chunk(content: str, asked: bool) -> bytes:
        data: dict[str, Any] = {
            "choices": [{"delta": {"content": content}, "finish_reason": None, "index": 0}],
            "id": "c",
        }
        if asked:
            data["usage"] = None
        return event(data)

    usage = {"prompt_tokens": 2, "completion_tokens": len(pieces)}
    plain = b"".join(chunk(p, False) for p in pieces) + b"data: [DONE]\n\n"
    asked = (
        b"".join(chunk(p, True) for p in pieces)
        + event({"choices": [], "id": "c", "usage": usage})
        + b"data: [DONE]\n\n"
    )
    facts = Facts()
    tap = BlockTap(facts, (b"[DONE]",), strip=True, capture=False)
    events = [e.raw for e in sse_events(asked)]
    # Every way the relay may cut it: one block per event, or all in one block.
    assert blocks(tap, *events) == plain
    assert facts.usage == usage
    whole = Facts()
    assert blocks(BlockTap(whole, (b"[DONE]",), strip=True, capture=False), asked) == plain
    assert whole.usage == usage
    # A translated stream (Claude's chat chunks) is stripped the same way.
    translated = Facts()

    class Same(Upper):
        def feed(self, e: SSEEvent) -> list[bytes]:
            return [e.raw]

        def end(self) -> list[bytes]:
            return []

    assert run(StreamTap(Same(), translated, strip=True, capture=False), asked) == plain


def test_json_answers_of_every_shape() -> None:
    anthropic = {
        "id": "msg_2",
        "model": "claude",
        "role": "assistant",
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    responses = {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-4o",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "t"}]}],
        "usage": {"input_tokens": 4, "output_tokens": 5},
    }
    for body, reason, text in (
        (anthropic, "max_tokens", "yo"),
        (responses, "max_output_tokens", "t"),
    ):
        facts = Facts()
        read_answer(facts, json.dumps(body).encode(), whole=True, capture=True)
        assert facts.response_id == body["id"]
        assert facts.finish_reasons == [reason]
        assert facts.usage == body["usage"]
        assert facts.output is not None
        assert facts.output[0]["parts"] == [{"type": "text", "content": text}]
        only = Facts()
        read_answer(only, json.dumps(body).encode(), whole=False, capture=False)
        assert (only.usage, only.response_id) == (body["usage"], None)
    broken = Facts()
    read_answer(broken, b"not json", whole=True, capture=True)
    assert broken.usage is None


def test_input_messages_of_every_request_shape() -> None:
    text = [{"type": "text", "content": "q"}]
    chat = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}
    assert input_messages(chat) == [
        {"role": "system", "parts": [{"type": "text", "content": "s"}]},
        {"role": "user", "parts": text},
    ]
    assert input_messages({"input": "q"}) == [{"role": "user", "parts": text}]
    assert input_messages({"prompt": "q"}) == [{"role": "user", "parts": text}]
    claude = {
        "system": "s",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}],
    }
    assert input_messages(claude)[1] == {"role": "user", "parts": text}
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}
    assert input_messages(image) == [{"role": "user", "parts": [{"type": "image_url"}]}]
    assert input_messages(None) == []


def test_tool_calls_are_parts() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    answer = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ]
    }
    (message,) = output_messages(answer)
    assert message["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "f", "arguments": "{}"}
    ]
    assert message["finish_reason"] == "tool_calls"
