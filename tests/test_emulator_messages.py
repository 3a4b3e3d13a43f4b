"""The emulator's Claude Messages route, as strict as Foundry, driven by the anthropic SDK."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import httpx2
import jsonschema
import pydantic
import pytest

from azure_asgi.testing import AzureEmulator, Fault
from azure_asgi.testing._messages_strict import check_messages, sign_thinking

from .conftest import EMULATOR_KEY as KEY
from .conftest import sse_events

USER = [{"role": "user", "content": "hello big wide world"}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        },
        "required": ["city", "unit", "days"],
        "additionalProperties": False,
    },
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
PATH = "/anthropic/v1/messages"


def claude(app: Any, **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://emulator/anthropic",
        api_key=KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        **kwargs,
    )


def raw(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator",
        headers={"api-key": KEY, "anthropic-version": "2023-06-01"},
    )


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude", "max_tokens": 100, "messages": USER, **fields}


# ---------------------------------------------------------------- replies


async def test_create_answers_in_the_real_shape_with_cache_usage(emulator: AzureEmulator) -> None:
    system = [{"type": "text", "text": "you are terse", "cache_control": {"type": "ephemeral"}}]
    async with claude(emulator) as client:
        plain = await client.messages.create(model="claude-dep", max_tokens=50, messages=USER)
        cached = await client.messages.create(
            model="claude-dep", max_tokens=50, system=system, messages=USER
        )
    assert plain.id.startswith("msg_") and plain.model == "claude-dep"
    assert [b.type for b in plain.content] == ["text"]
    assert plain.content[0].text == "hello big wide world"  # type: ignore[union-attr]
    assert (plain.stop_reason, plain.stop_sequence) == ("end_turn", None)
    usage = plain.usage
    assert (usage.input_tokens, usage.output_tokens) == (4, 4)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    # The system prompt up to its cache_control breakpoint is read from the cache.
    assert (cached.usage.input_tokens, cached.usage.cache_read_input_tokens) == (4, 3)


async def test_count_tokens_counts_like_usage(emulator: AzureEmulator) -> None:
    messages: Any = [*USER, {"role": "assistant", "content": "ok then"}, *USER]
    async with claude(emulator) as client:
        counted = await client.messages.count_tokens(
            model="claude", system="be brief", messages=messages, tools=[WEATHER]
        )
        created = await client.messages.create(
            model="claude",
            max_tokens=50,
            system="be brief",
            messages=messages,
            tools=[WEATHER],
            tool_choice={"type": "none"},
        )
    assert counted.input_tokens == created.usage.input_tokens > 12
    assert emulator.last_request.path == PATH
    async with raw(emulator) as client:
        refused = await client.post(f"{PATH}/count_tokens", json=body())
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "max_tokens: Extra inputs are not permitted"


async def test_max_tokens_and_stop_sequences(emulator: AzureEmulator) -> None:
    async with claude(emulator) as client:
        cut = await client.messages.create(model="c", max_tokens=2, messages=USER)
        stopped = await client.messages.create(
            model="c", max_tokens=50, messages=USER, stop_sequences=["zzz", " wide"]
        )
        warm = await client.messages.create(model="c", max_tokens=0, messages=USER)
    assert (warm.content, warm.stop_reason) == ([], "max_tokens")  # pre-warming the cache
    assert cut.content[0].text == "hello big" and cut.stop_reason == "max_tokens"  # type: ignore[union-attr]
    assert stopped.content[0].text == "hello big"  # type: ignore[union-attr]
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", " wide")


async def test_stream_sends_every_event_type_in_order(emulator: AzureEmulator) -> None:
    async with raw(emulator) as client:
        resp = await client.post(
            PATH,
            json=body(
                stream=True,
                max_tokens=2000,
                thinking=THINKING,
                tools=[WEATHER],
                messages=[{"role": "user", "content": "weather in Paris please"}],
            ),
        )
    events = sse_events(resp.content)
    names = [e.event for e in events]
    datas = [json.loads(e.data) for e in events]
    assert all(d["type"] == n for d, n in zip(datas, names, strict=True))
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("ping") == 1 and names[-2:] == ["message_delta", "message_stop"]
    start = datas[0]["message"]
    assert start["usage"]["output_tokens"] == 1 and start["usage"]["input_tokens"] > 0
    deltas = [d["delta"] for d in datas if d["type"] == "content_block_delta"]
    kinds = [d["type"] for d in deltas]
    assert kinds.index("thinking_delta") < kinds.index("signature_delta")
    assert kinds.index("signature_delta") < kinds.index("input_json_delta")
    partial = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(partial) > 2
    tool_input = json.loads("".join(partial))
    jsonschema.validate(tool_input, WEATHER["input_schema"])
    assert datas[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    stops = [d["index"] for d in datas if d["type"] == "content_block_stop"]
    assert stops == [0, 1]


async def test_sdk_stream_accumulates_thinking_and_text(emulator: AzureEmulator) -> None:
    client = claude(emulator)
    async with (
        client,
        client.messages.stream(
            model="c", max_tokens=2000, thinking=THINKING, messages=USER
        ) as stream,
    ):
        final = await stream.get_final_message()
    async with claude(emulator) as client:
        plain = await client.messages.create(
            model="c", max_tokens=2000, thinking=THINKING, messages=USER
        )
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    thinking = final.content[0]
    assert thinking.type == "thinking" and "hello big wide world" in thinking.thinking
    assert thinking.signature == sign_thinking(thinking.thinking)
    assert emulator.streams_completed == 1


async def test_tool_use_round_trip_with_thinking_sent_back(emulator: AzureEmulator) -> None:
    question = {"role": "user", "content": "what is the weather in Paris"}
    async with claude(emulator) as client:
        first = await client.messages.create(
            model="c", max_tokens=2000, thinking=THINKING, tools=[WEATHER], messages=[question]
        )
        assert first.stop_reason == "tool_use"
        use = first.content[-1]
        assert use.type == "tool_use" and use.name == "get_weather"
        assert use.id.startswith("toolu_")
        jsonschema.validate(use.input, WEATHER["input_schema"])
        assert use.input["city"] == "what is the weather in Paris"  # type: ignore[index]
        result = {"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 22 C"}
        second = await client.messages.create(
            model="c",
            max_tokens=2000,
            thinking=THINKING,
            tools=[WEATHER],
            messages=[
                question,
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {"role": "user", "content": [result]},
            ],
        )
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["thinking", "text"]
    assert second.content[1].text == "sunny, 22 C"  # type: ignore[union-attr]


async def test_tool_choice_any_tool_none_and_the_mention_rule(emulator: AzureEmulator) -> None:
    lookup = {"name": "lookup", "input_schema": {"type": "object"}}
    tools: Any = [lookup, WEATHER]
    async with claude(emulator) as client:
        auto = await client.messages.create(model="c", max_tokens=50, messages=USER, tools=tools)
        mention = await client.messages.create(
            model="c",
            max_tokens=50,
            tools=tools,
            messages=[{"role": "user", "content": "use get weather for Oslo"}],
        )
        named = await client.messages.create(
            model="c",
            max_tokens=50,
            messages=USER,
            tools=tools,
            tool_choice={"type": "tool", "name": "get_weather"},
        )
        none = await client.messages.create(
            model="c", max_tokens=50, messages=USER, tools=tools, tool_choice={"type": "none"}
        )
    assert [auto.content[0].name, mention.content[0].name] == ["lookup", "get_weather"]  # type: ignore[union-attr]
    assert auto.content[0].input == {"text": "hello big wide world"}  # type: ignore[union-attr]
    assert named.content[0].name == "get_weather"  # type: ignore[union-attr]
    assert none.content[0].type == "text" and none.stop_reason == "end_turn"


async def test_output_format_gives_a_parsed_instance(emulator: AzureEmulator) -> None:
    class City(pydantic.BaseModel):
        name: str
        population: int
        tags: list[str]

    async with claude(emulator) as client:
        parsed = await client.messages.parse(
            model="c", max_tokens=200, messages=USER, output_format=City
        )
    assert parsed.parsed_output == City(
        name="hello big wide world", population=4, tags=["hello big wide world"]
    )


async def test_a_529_fault_raises_overloaded_and_a_cut_stream_breaks(
    emulator: AzureEmulator,
) -> None:
    emulator.inject(Fault.status(529), path_contains="/anthropic/")
    async with claude(emulator, max_retries=0) as client:
        with pytest.raises(anthropic.OverloadedError) as caught:
            await client.messages.create(model="c", max_tokens=5, messages=USER)
        assert isinstance(caught.value, anthropic.InternalServerError)
        assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
        emulator.inject(Fault.cut_stream(after_chunks=3))
        # This SDK wraps the app's ConnectionResetError (the openai one lets it through).
        with pytest.raises(anthropic.APIConnectionError):
            async with client.messages.stream(model="c", max_tokens=5, messages=USER) as stream:
                await stream.get_final_message()
    assert emulator.streams_completed == 0


# ---------------------------------------------------------------- strictness


def _use(use_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_use", "id": use_id, "name": "get_weather", "input": {}}


def _result(use_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": use_id, "content": "ok"}


REFUSED: list[tuple[dict[str, Any], str]] = [
    (body(temperature_x=1), "temperature_x: Extra inputs are not permitted"),
    (body(frequency_penalty=0.5), "frequency_penalty: Extra inputs are not permitted"),
    ({"max_tokens": 5, "messages": USER}, "model: Field required"),
    ({"model": "c", "messages": USER}, "max_tokens: Field required"),
    (body(messages=[{"role": "system", "content": "x"}, *USER]), 'Unexpected role "system"'),
    (body(messages=[{"role": "tool", "content": "x"}]), "messages.0.role: Input should be"),
    (body(messages=[{"role": "user", "content": ""}]), "messages.0: all messages must have"),
    (body(messages=[{"role": "user", "content": []}]), "messages.0: all messages must have"),
    (
        body(messages=[{"role": "user", "content": [{"type": "image_url", "url": "x"}]}]),
        "messages.0.content.0: Input tag 'image_url' found",
    ),
    (body(system=[{"type": "image"}]), "system.0.type: Input should be 'text'"),
    (
        body(messages=[*USER, {"role": "assistant", "content": "a"}, *USER, *USER]),
        "messages.3: consecutive `user` turns",
    ),
    (
        body(
            messages=[
                *USER,
                {"role": "assistant", "content": [_use("toolu_1")]},
                {"role": "user", "content": [_result("toolu_2")]},
            ]
        ),
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2",
    ),
    (
        body(messages=[{"role": "user", "content": [_result()]}]),
        "messages.0.content.0: unexpected `tool_use_id`",
    ),
    (
        body(
            messages=[
                *USER,
                {"role": "assistant", "content": [_use("toolu_1"), _use("toolu_2")]},
                {"role": "user", "content": [_result("toolu_1")]},
            ]
        ),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "toolu_2",
    ),
    (
        body(thinking={"type": "enabled", "budget_tokens": 1000}),
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (body(thinking=THINKING), "`max_tokens` must be greater than `thinking.budget_tokens`"),
    (
        body(max_tokens=2000, thinking=THINKING, temperature=0.2),
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    (
        body(
            messages=[
                *USER,
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "hm", "signature": "forged"}],
                },
                *USER,
            ]
        ),
        "messages.1.content.0: Invalid `signature` in `thinking` block",
    ),
    (
        body(
            max_tokens=2000,
            thinking=THINKING,
            messages=[
                *USER,
                {"role": "assistant", "content": [_use()]},
                {"role": "user", "content": [_result()]},
            ],
        ),
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        "`tool_use`",
    ),
    (body(tools=[{"name": "t"}]), "tools.0.custom.input_schema: Field required"),
    (body(tool_choice={"type": "required"}), "tool_choice: Input tag 'required' found"),
    (
        body(messages=[*USER, {"role": "assistant", "content": "so "}]),
        "final assistant content cannot end with trailing whitespace",
    ),
]


@pytest.mark.parametrize(("request_body", "message"), REFUSED)
async def test_each_strictness_rule_is_a_400_the_sdk_raises(
    emulator: AzureEmulator, request_body: dict[str, Any], message: str
) -> None:
    # The SDK's own post, since its typed create() insists on model and max_tokens.
    async with claude(emulator, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.post("/v1/messages", body=request_body, cast_to=anthropic.types.Message)
    error = caught.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert message in error["message"]


def test_accepted_bodies_pass_the_checks() -> None:
    thought = "about it"
    thinking = {"type": "thinking", "thinking": thought, "signature": sign_thinking(thought)}
    omitted = {**thinking, "thinking": ""}  # display "omitted": the signature still verifies
    loop = [
        *USER,
        {"role": "assistant", "content": [thinking, _use("toolu_1"), _use("toolu_2")]},
        {
            "role": "user",
            "content": [_result("toolu_1"), _result("toolu_2"), {"type": "text", "text": "and?"}],
        },
        {"role": "assistant", "content": [omitted, {"type": "text", "text": "done"}]},
        *USER,
    ]
    good = [
        body(),
        body(messages=loop, thinking=THINKING, max_tokens=2000),
        body(temperature=0.3, top_p=0.9, top_k=5, metadata={"user_id": "u"}, stop_sequences=["x"]),
        body(messages=[*USER, {"role": "assistant", "content": "The answer is ("}]),
        body(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
    ]
    for request_body in good:
        assert check_messages(request_body, strict=True, count_tokens=False) is None


async def test_strict_mode_off_merges_consecutive_turns(emulator: AzureEmulator) -> None:
    lenient = AzureEmulator(strict_messages=False)
    split = [
        *USER,
        {"role": "assistant", "content": [_use("toolu_1")]},
        {"role": "assistant", "content": [_use("toolu_2")]},
        {"role": "user", "content": [_result("toolu_1")]},
        {"role": "user", "content": [_result("toolu_2")]},
    ]
    async with raw(lenient) as client:
        merged = await client.post(PATH, json=body(messages=split, tools=[WEATHER]))
    async with raw(emulator) as client:
        strict = await client.post(PATH, json=body(messages=split, tools=[WEATHER]))
    assert merged.status_code == 200, merged.text
    assert merged.json()["content"] == [{"type": "text", "text": "ok\nok"}]
    assert strict.status_code == 400
    assert "messages.2: consecutive `assistant` turns" in strict.json()["error"]["message"]
