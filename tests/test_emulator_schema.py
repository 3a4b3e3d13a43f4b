"""Schema-true replies: ``instance_for`` on any schema of its subset, and the real openai SDK
parsing the emulator's tool calls and structured outputs (chat and Responses)."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx2
import jsonschema
import openai
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from azure_asgi.testing import AzureEmulator
from azure_asgi.testing._messages import plan_messages
from azure_asgi.testing._replies import plan_chat
from azure_asgi.testing._schema import ToolSpec, choose_tool, instance_for

from .conftest import API_VERSION
from .conftest import EMULATOR_KEY as KEY

# ---------------------------------------------------------------- schemas of the subset

NAMES = st.text("abcdefgh_", min_size=1, max_size=6)
SEEDS = st.text(max_size=40)
SCALARS = st.one_of(st.booleans(), st.integers(-5, 5), st.text("xyz ", max_size=4))


def _strings() -> st.SearchStrategy[dict[str, Any]]:
    bounded = st.tuples(st.integers(0, 12), st.integers(0, 12)).map(
        lambda t: {"type": "string", "minLength": min(t), "maxLength": max(t)}
    )
    formats = st.sampled_from(["date", "date-time", "email", "uri", "uuid"]).map(
        lambda f: {"type": "string", "format": f}
    )
    return st.one_of(st.just({"type": "string"}), bounded, formats)


def _numbers(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    scale = 1 if kind == "integer" else 4
    values = st.integers(-400, 400).map(lambda v: v / scale if scale > 1 else v)

    def bounds(pair: tuple[float, float], exclusive: bool) -> dict[str, Any]:
        low, high = sorted(pair)
        if exclusive:
            return {"type": kind, "exclusiveMinimum": low - 1, "exclusiveMaximum": high + 1}
        return {"type": kind, "minimum": low, "maximum": high}

    return st.one_of(
        st.just({"type": kind}),
        values.map(lambda v: {"type": kind, "minimum": v}),
        values.map(lambda v: {"type": kind, "maximum": v}),
        st.builds(bounds, st.tuples(values, values), st.booleans()),
    )


LEAVES = st.one_of(
    _strings(),
    _numbers("integer"),
    _numbers("number"),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(SCALARS, min_size=1, max_size=4, unique_by=json.dumps).map(lambda e: {"enum": e}),
    SCALARS.map(lambda c: {"const": c}),
    st.lists(SCALARS, min_size=1, max_size=3, unique_by=json.dumps).map(
        lambda e: {"enum": e, "default": e[-1]}
    ),
    st.sampled_from(["string", "integer", "boolean"]).map(lambda t: {"type": [t, "null"]}),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def object_of(props: dict[str, Any], strict: bool) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
        if strict:
            schema["additionalProperties"] = False
        return schema

    def array_of(items: dict[str, Any], sizes: tuple[int, int]) -> dict[str, Any]:
        return {"type": "array", "items": items, "minItems": min(sizes), "maxItems": max(sizes)}

    objects = st.builds(object_of, st.dictionaries(NAMES, children, max_size=4), st.booleans())
    # oneOf wants exactly one branch to match: the other one is null, so this one never is.
    never_null = st.one_of(_strings(), _numbers("integer"), st.just({"type": "boolean"}), objects)
    return st.one_of(
        objects,
        st.builds(array_of, children, st.tuples(st.integers(0, 3), st.integers(0, 3))),
        children.map(lambda s: {"anyOf": [{"type": "null"}, s]}),
        never_null.map(lambda s: {"oneOf": [s, {"type": "null"}]}),
        st.just({"type": "object"}),
    )


SCHEMAS = st.recursive(LEAVES, _extend, max_leaves=12)


def _with_defs(main: dict[str, Any], shared: dict[str, Any], key: str) -> dict[str, Any]:
    """A root object using ``shared`` through ``$ref`` from two places."""
    ref = {"$ref": f"#/{key}/Shared"}
    return {
        "type": "object",
        "properties": {"main": main, "ref": ref, "refs": {"type": "array", "items": ref}},
        "required": ["main", "ref", "refs"],
        "additionalProperties": False,
        key: {"Shared": shared},
    }


ROOTS = st.one_of(
    SCHEMAS, st.builds(_with_defs, SCHEMAS, SCHEMAS, st.sampled_from(["$defs", "definitions"]))
)
VALIDATOR = jsonschema.Draft202012Validator


@settings(max_examples=300, deadline=None)
@given(ROOTS, SEEDS)
def test_instances_validate_against_their_schema(schema: dict[str, Any], seed: str) -> None:
    VALIDATOR.check_schema(schema)
    instance = instance_for(schema, seed)
    VALIDATOR(schema, format_checker=VALIDATOR.FORMAT_CHECKER).validate(instance)
    assert instance_for(schema, seed) == instance  # deterministic
    json.dumps(instance)  # and serialisable as it is


@settings(max_examples=100, deadline=None)
@given(ROOTS, SEEDS)
def test_every_api_replies_with_valid_tool_arguments_and_outputs(
    schema: dict[str, Any], seed: str
) -> None:
    """The planners of chat, Messages (pure) answer with instances of the schema they got."""
    validator = VALIDATOR(schema, format_checker=VALIDATOR.FORMAT_CHECKER)
    tool = {"type": "function", "function": {"name": "t", "parameters": schema}}
    chat = {"messages": [{"role": "user", "content": seed}], "tools": [tool]}
    called = plan_chat(chat, seq=1, model="m", created=0)
    formatted = {
        "messages": chat["messages"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    answered = plan_chat(formatted, seq=2, model="m", created=0)
    claude = {
        "model": "c",
        "max_tokens": 10_000,
        "messages": [{"role": "user", "content": seed or "hi"}],
        "tools": [{"name": "t", "input_schema": schema}],
    }
    used = plan_messages(claude, seq=3).blocks[0]
    structured = {
        **claude,
        "tools": [],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    text = plan_messages(structured, seq=4).blocks[0]
    validator.validate(json.loads(called.arguments))
    validator.validate(json.loads(answered.text or ""))
    validator.validate(used["input"])
    validator.validate(json.loads(text["text"]))


@given(SEEDS)
def test_strings_follow_the_seed_and_every_property_is_filled(seed: str) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": ["integer", "null"]}},
        "required": ["a"],
        "additionalProperties": False,
    }
    instance = instance_for(schema, seed)
    assert instance == {"a": " ".join(seed.split()) or "emulated", "b": len(seed.split()) or 1}


def test_recursive_models_terminate() -> None:
    class Node(pydantic.BaseModel):
        name: str
        children: list[Node]
        parent: Node | None

    value = instance_for(Node.model_json_schema(), "root")
    assert Node.model_validate(value).name == "root"


def test_the_tool_rule() -> None:
    tools = [ToolSpec("lookup", {}), ToolSpec("get_weather", {}), ToolSpec("get", {})]

    def pick(**kwargs: Any) -> str | None:
        options: dict[str, Any] = {
            "mode": "auto",
            "named": None,
            "last_user_text": "hi",
            "last_is_user": True,
            "after_tool_result": False,
            **kwargs,
        }
        tool = choose_tool(tools, **options)
        return tool.name if tool else None

    assert pick() == "lookup"
    assert pick(last_user_text="please get weather, then lookup") == "get_weather"
    assert pick(last_user_text="call GET_WEATHER") == "get_weather"
    assert pick(after_tool_result=True, last_is_user=False) is None
    assert pick(mode="none") is None
    assert pick(mode="named", named="get") == "get"
    assert pick(mode="required", after_tool_result=True, called=["lookup"]) == "get_weather"
    assert choose_tool([], mode="required", named=None, last_user_text="", last_is_user=True,
                       after_tool_result=False) is None  # fmt: skip


# ---------------------------------------------------------------- through the openai SDK


def azure(app: Any) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://emulator",
        api_key=KEY,
        api_version=API_VERSION,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
    )


def v1(app: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://emulator/openai/v1",
        api_key=KEY,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
    )


WEATHER_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}},
            "required": ["lat"],
            "additionalProperties": False,
        },
        "days": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2},
        "note": {"type": ["string", "null"]},
    },
    "required": ["city", "unit", "where", "days", "note"],
    "additionalProperties": False,
}
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": WEATHER_PARAMS, "strict": True},
    }
]
ASK = [{"role": "user", "content": "weather in Paris"}]


class Forecast(pydantic.BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"]
    highs: list[float]
    source: str | None


async def test_chat_tool_call_arguments_are_valid_and_streamed_the_same() -> None:
    emulator = AzureEmulator()
    async with azure(emulator) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=ASK, tools=TOOLS, stream=True
        )
        streamed = ""
        async for chunk in stream:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                streamed += call.function.arguments or "" if call.function else ""
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
    jsonschema.validate(arguments, WEATHER_PARAMS)
    assert arguments["city"] == "weather in Paris" and arguments["unit"] == "celsius"
    assert streamed == call.function.arguments  # type: ignore[union-attr]


async def test_a_two_step_tool_loop_ends_in_text_quoting_the_result() -> None:
    emulator = AzureEmulator()
    async with azure(emulator) as client:
        first = await client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        messages: Any = [
            *ASK,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "22 C and sunny"},
        ]
        second = await client.chat.completions.create(
            model="gpt-4o", messages=messages, tools=TOOLS
        )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "22 C and sunny"


async def test_chat_parse_with_a_pydantic_model_and_a_pydantic_tool() -> None:
    emulator = AzureEmulator()
    async with azure(emulator) as client:
        parsed = await client.chat.completions.parse(
            model="gpt-4o", messages=ASK, response_format=Forecast
        )
        tool = await client.chat.completions.parse(
            model="gpt-4o", messages=ASK, tools=[openai.pydantic_function_tool(Forecast)]
        )
        stream_text = ""
        async with client.chat.completions.stream(
            model="gpt-4o", messages=ASK, response_format=Forecast
        ) as stream:
            async for event in stream:
                if event.type == "content.delta":
                    stream_text += event.delta
            final = await stream.get_final_completion()
        loose = await client.chat.completions.create(
            model="gpt-4o", messages=ASK, response_format={"type": "json_object"}
        )
    expected = Forecast(
        city="weather in Paris", unit="celsius", highs=[3.5], source="weather in Paris"
    )
    assert parsed.choices[0].message.parsed == expected
    tool_call = tool.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert tool_call.function.parsed_arguments == expected  # type: ignore[union-attr]
    assert final.choices[0].message.parsed == expected
    assert json.loads(stream_text) == expected.model_dump()
    assert json.loads(loose.choices[0].message.content or "") == {"text": "weather in Paris"}
    schema = emulator.requests[0].json["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["name"] == "Forecast"


async def test_responses_parse_and_a_function_call_loop() -> None:
    emulator = AzureEmulator()
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMS}]
    async with v1(emulator) as client:
        parsed = await client.responses.parse(
            model="gpt-4o", input="weather in Paris", text_format=Forecast
        )
        called = await client.responses.create(
            model="gpt-4o", input="weather in Paris", tools=tools
        )
        call = called.output[0]
        assert call.type == "function_call"
        jsonschema.validate(json.loads(call.arguments), WEATHER_PARAMS)
        answered = await client.responses.create(
            model="gpt-4o",
            tools=tools,
            input=[
                {"role": "user", "content": "weather in Paris"},
                call.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
            ],
        )
        async with client.responses.stream(
            model="gpt-4o", input="weather in Paris", tools=tools
        ) as stream:
            streamed = await stream.get_final_response()
    assert parsed.output_parsed == Forecast(
        city="weather in Paris", unit="celsius", highs=[3.5], source="weather in Paris"
    )
    assert answered.output_text == "sunny"
    streamed_call = streamed.output[0]
    assert streamed_call.type == "function_call"
    assert streamed_call.arguments == call.arguments


def test_hostile_schemas_are_answered_within_bounds() -> None:
    # A body may ask for anything: huge arrays and strings, infinite bounds, odd keywords.
    cube = {"type": "array", "minItems": 10**9, "items": {"type": "array", "minItems": 10**9}}
    assert 0 < len(json.dumps(instance_for(cube, "x"))) < 10**7
    assert len(instance_for({"type": "string", "minLength": 10**12}, "x")) <= 100_001
    assert instance_for({"type": "object", "required": 5, "properties": []}, "x") == {"text": "x"}
    assert instance_for({"type": "integer", "minimum": float("inf")}, "a b") == 2
    cycle = {"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}
    assert instance_for(cycle, "x") == "x"  # a $ref loop means "anything"
