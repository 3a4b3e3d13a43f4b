"""Scripted replies render to wire shapes that reassemble exactly (hypothesis)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from azure_asgi.testing import Reply, ToolCall, sse_json
from azure_asgi.testing._script_render import (
    chat_reply,
    chat_reply_events,
    response_reply,
    response_reply_events,
)

texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
calls = st.builds(ToolCall, st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                  st.dictionaries(texts, json_values, max_size=4))  # fmt: skip


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    tool_calls = tuple(draw(st.lists(calls, max_size=2)))
    text = draw(st.none() | texts) if tool_calls else draw(texts)
    if text is not None and draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
        bounds = [0, *cuts, len(text)]
        chunks = tuple(text[a:b] for a, b in itertools.pairwise(bounds))
        return Reply(text=text, tool_calls=tool_calls, chunks=chunks)
    return Reply(text=text, tool_calls=tool_calls)


def _ids() -> Any:
    counter = iter(range(10_000))
    return lambda prefix, length=32: f"{prefix}{next(counter)}"


@given(replies(), st.booleans())
def test_a_chat_stream_reassembles_to_the_json_reply(reply: Reply, usage: bool) -> None:
    shape = {"seq": 7, "model": "m", "created": 1, "prompt": 2}
    whole = json.loads(chat_reply(reply, **shape))["choices"][0]
    chunks = sse_json(b"".join(chat_reply_events(reply, include_usage=usage, **shape)))
    text, arguments, names = "", {}, {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                names.setdefault(call["index"], call.get("function", {}).get("name"))
                arguments[call["index"]] = (
                    arguments.get(call["index"], "") + call["function"]["arguments"]
                )
    assert (whole["message"]["content"] or "") == text == (reply.text or "")
    got = [(names[i], json.loads(arguments[i])) for i in sorted(arguments)]
    expected = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                for c in whole["message"].get("tool_calls", [])]  # fmt: skip
    assert got == expected == [(c.name, c.arguments) for c in reply.tool_calls]
    assert chunks[-1]["choices"] == [] if usage else chunks[-1]["choices"][0]["finish_reason"]
    if reply.chunks is not None:
        assert [c["choices"][0]["delta"]["content"] for c in chunks[2 : 2 + len(reply.chunks)]] == [
            *reply.chunks
        ]


@given(replies())
def test_a_responses_stream_ends_with_the_whole_response(reply: Reply) -> None:
    response = response_reply(reply, {}, new_id=_ids(), model="m", created=1)
    events = sse_json(b"".join(response_reply_events(response, reply)))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1] == {"type": "response.completed", "sequence_number": len(events) - 1,
                          "response": response}  # fmt: skip
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == (reply.text or "")
    done = [json.loads(e["arguments"]) for e in events
            if e["type"] == "response.function_call_arguments.done"]  # fmt: skip
    assert done == [c.arguments for c in reply.tool_calls]
