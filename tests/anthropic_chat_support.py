"""Helpers for the Chat Completions <-> Claude Messages tests: request builders, a strict
validator of Messages bodies (only what ``anthropic.types.MessageCreateParams`` names, plus
sampling), Messages answers and event streams, the openai accumulator."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from anthropic.types.message_create_params import MessageCreateParamsStreaming
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from azure_asgi._errors import GatewayError
from azure_asgi._sse import SSEEvent
from azure_asgi.families.anthropic._chat_request import chat_to_messages
from azure_asgi.families.anthropic._chat_stream import ChatStream
from azure_asgi.families.anthropic._common import THINKING_BUDGETS

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


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


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
