"""Claude deployments called as GPT is: the openai SDKs' Chat Completions and Responses, through
the gateway to the (strict) emulator's Messages API and back, translated."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    API_VERSION,
    CLIENT_KEY,
    EMULATOR_KEY,
    Scripted,
    async_azure_openai,
    async_openai,
    caller,
    emulator_gateway,
    scripted_upstream,
    serve_in_thread,
    sse_json,
    sse_step,
)
from .test_claude_native import MESSAGE_START, claude_config, claude_on_loopback

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}


def sent(emulator: AzureEmulator) -> dict[str, Any]:
    """The Messages body the emulator (as Foundry) received last."""
    assert emulator.last_request.path == "/anthropic/v1/messages"
    body: dict[str, Any] = json.loads(emulator.last_request.body)
    return body


@pytest.fixture
def emulator() -> AzureEmulator:
    return AzureEmulator(api_keys=(EMULATOR_KEY,))


@pytest.fixture
async def gateway(emulator: AzureEmulator) -> Any:
    async with emulator_gateway(emulator, claude_config()) as gw:
        yield gw


async def test_chat_create_is_translated_both_ways(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    reply = await async_openai(gateway).chat.completions.create(
        model="claude-sonnet",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "hello from the openai sdk"},
        ],
        max_completion_tokens=300,
        temperature=0.2,
        stop=["\n\n"],
        user="end-user-7",
        seed=42,
    )
    assert sent(emulator) == {
        "model": "my-claude",
        "max_tokens": 300,
        "system": [{"type": "text", "text": "Answer briefly."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hello from the openai sdk"}]}
        ],
        "temperature": 0.2,
        "stop_sequences": ["\n\n"],
        "metadata": {"user_id": "end-user-7"},
    }
    assert reply.object == "chat.completion"
    assert reply.model == "claude-sonnet"
    assert reply.id.startswith("msg_")
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    assert "hello from the openai sdk" in (choice.message.content or "")
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    extra = reply.model_extra or {}
    assert extra["extra_fields"]["model_deployment"] == "my-claude"
    assert extra["extra_fields"]["request_type"] == "chat_completion"


async def test_default_max_tokens_comes_from_the_deployment_config(emulator: AzureEmulator) -> None:
    config = claude_config()
    config["resources"][0]["deployments"]["claude-sonnet"] = {
        "deployment": "my-claude",
        "max_tokens": 777,
    }
    async with emulator_gateway(emulator, config) as gw:
        await async_openai(gw).chat.completions.create(
            model="claude-sonnet", messages=[{"role": "user", "content": "hi"}]
        )
    assert sent(emulator)["max_tokens"] == 777


async def test_azure_openai_client_reaches_claude_by_deployment(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    reply = await async_azure_openai(gateway).chat.completions.create(
        model="my-claude", messages=[{"role": "user", "content": "via the azure route"}]
    )
    assert "via the azure route" in (reply.choices[0].message.content or "")
    assert sent(emulator)["model"] == "my-claude"
    assert reply.model == "my-claude"


async def test_chat_stream_with_usage_and_the_stream_helper(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    client = async_openai(gateway)
    stream = await client.chat.completions.create(
        model="claude-sonnet",
        messages=[{"role": "user", "content": "stream these words to me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert sent(emulator)["stream"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "stream these words to me" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    async with client.chat.completions.stream(
        model="claude-sonnet", messages=[{"role": "user", "content": "helper stream"}]
    ) as helper:
        final = await helper.get_final_completion()
    assert "helper stream" in (final.choices[0].message.content or "")


async def test_raw_stream_ends_with_done_after_the_finish_chunk(gateway: AzureGateway) -> None:
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions",
            json={
                "model": "claude-sonnet",
                "messages": [{"role": "user", "content": "a b c"}],
                "stream": True,
            },
        )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.rstrip().endswith("data: [DONE]")
    chunks = sse_json(resp.content)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


class Weather(BaseModel):
    city: str
    degrees: int
    sunny: bool


async def test_parse_with_a_pydantic_model_uses_the_json_tool(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    completion = await async_openai(gateway).chat.completions.parse(
        model="claude-sonnet",
        messages=[{"role": "user", "content": "the weather in Paris"}],
        response_format=Weather,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls in (None, [])
    body = sent(emulator)
    assert body["tool_choice"]["type"] == "tool"
    (tool,) = body["tools"]
    assert tool["name"] == body["tool_choice"]["name"]
    assert set(tool["input_schema"]["required"]) == {"city", "degrees", "sunny"}


async def test_tool_call_round_trip(emulator: AzureEmulator, gateway: AzureGateway) -> None:
    client = async_openai(gateway)
    messages: list[Any] = [{"role": "user", "content": "What is the get_weather in Oslo?"}]
    first = await client.chat.completions.create(
        model="claude-sonnet", messages=messages, tools=[WEATHER]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("celsius", "fahrenheit")
    upstream_first = sent(emulator)
    assert upstream_first["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER["function"]["parameters"],
        }
    ]
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "12 degrees and rain"},
    ]
    second = await client.chat.completions.create(
        model="claude-sonnet", messages=messages, tools=[WEATHER]
    )
    assert second.choices[0].finish_reason == "stop"
    assert "12 degrees and rain" in (second.choices[0].message.content or "")
    turns = sent(emulator)["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][-1] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": arguments,
    }
    assert turns[2]["content"][0]["type"] == "tool_result"
    assert turns[2]["content"][0]["tool_use_id"] == call.id


async def test_streamed_tool_call_accumulates_in_the_sdk(gateway: AzureGateway) -> None:
    async with async_openai(gateway).chat.completions.stream(
        model="claude-sonnet",
        messages=[{"role": "user", "content": "get_weather for Rome please"}],
        tools=[WEATHER],
    ) as stream:
        final = await stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "unit"}
    assert final.choices[0].finish_reason == "tool_calls"


async def test_images_become_base64_and_url_blocks(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    await async_openai(gateway).chat.completions.create(
        model="claude-sonnet",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what are these"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    content = sent(emulator)["messages"][0]["content"]
    assert content[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert content[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }


async def test_thinking_round_trip_keeps_the_signed_blocks(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    client = async_openai(gateway)
    messages: list[Any] = [{"role": "user", "content": "get_weather in Lima, think first"}]
    first = await client.chat.completions.create(
        model="claude-sonnet", messages=messages, tools=[WEATHER], reasoning_effort="low"
    )
    thinking = sent(emulator)["thinking"]
    assert thinking["type"] == "enabled" and thinking["budget_tokens"] >= 1024
    message = first.choices[0].message
    extra = message.model_extra or {}
    assert extra["reasoning_content"]
    (block,) = extra["thinking_blocks"]
    assert block["type"] == "thinking" and block["signature"]
    (call,) = message.tool_calls or []
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "warm"},
    ]
    # The emulator verifies the signature, as Claude does: a mangled block would be a 400.
    second = await client.chat.completions.create(
        model="claude-sonnet", messages=messages, tools=[WEATHER], reasoning_effort="low"
    )
    assert "warm" in (second.choices[0].message.content or "")
    assistant = sent(emulator)["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": block["thinking"],
        "signature": block["signature"],
    }


async def test_responses_create_and_stream(emulator: AzureEmulator, gateway: AzureGateway) -> None:
    client = async_openai(gateway)
    response = await client.responses.create(
        model="claude-sonnet",
        instructions="Be terse.",
        input="hello responses api",
        max_output_tokens=250,
    )
    assert sent(emulator)["system"] == [{"type": "text", "text": "Be terse."}]
    assert sent(emulator)["max_tokens"] == 250
    assert response.status == "completed" and response.model == "claude-sonnet"
    assert "hello responses api" in response.output_text
    async with client.responses.stream(model="claude-sonnet", input="stream responses") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert "stream responses" in final.output_text


async def test_responses_function_call_round_trip(gateway: AzureGateway) -> None:
    client = async_openai(gateway)
    tool = {"type": "function", **WEATHER["function"]}
    first = await client.responses.create(
        model="claude-sonnet", input="get_weather in Cairo", tools=[tool]
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert set(json.loads(call.arguments)) == {"city", "unit"}
    second = await client.responses.create(
        model="claude-sonnet",
        input=[
            {"role": "user", "content": "get_weather in Cairo"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "hot"},
        ],
        tools=[tool],
    )
    assert "hot" in second.output_text


async def test_previous_response_id_is_refused_for_claude(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await async_openai(gateway).responses.create(
            model="claude-sonnet", input="again", previous_response_id="resp_1"
        )
    assert refused.value.code == "unsupported_parameter"
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"audio": {"voice": "x"}}, "audio")],
)
async def test_untranslatable_fields_are_refused_with_nothing_sent(
    emulator: AzureEmulator, gateway: AzureGateway, extra: dict[str, Any], param: str
) -> None:
    async with caller(gateway) as client:
        resp = await client.post(
            "/v1/chat/completions",
            json={
                "model": "claude-sonnet",
                "messages": [{"role": "user", "content": "x"}],
                **extra,
            },
        )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "unsupported_parameter" and error["param"] == param
    assert resp.json()["is_gateway_error"] is True
    assert emulator.requests == []


async def test_operations_claude_does_not_offer_are_refused(
    emulator: AzureEmulator, gateway: AzureGateway
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await async_openai(gateway).embeddings.create(model="claude-sonnet", input="x")
    assert refused.value.code == "unsupported_operation"
    assert emulator.requests == []


async def test_an_overloaded_claude_error_keeps_its_status_and_type(
    emulator: AzureEmulator,
) -> None:
    emulator.inject(Fault.status(529), times=1)
    config = claude_config(retries={"max_attempts": 1})
    async with emulator_gateway(emulator, config) as gw:
        with pytest.raises(openai.InternalServerError) as failed:
            # No SDK retry: the gateway's own answer is what is checked.
            await (
                async_openai(gw)
                .with_options(max_retries=0)
                .chat.completions.create(
                    model="claude-sonnet", messages=[{"role": "user", "content": "x"}]
                )
            )
    assert failed.value.status_code == 529
    assert failed.value.code == "overloaded_error"
    body = failed.value.response.json()
    assert body["is_gateway_error"] is False and body["status_code"] == 529


async def test_an_error_event_mid_stream_is_raised_by_the_sdk_never_done() -> None:
    start = MESSAGE_START
    error = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    upstream = Scripted(sse_step(start, error))
    async with claude_gateway("aiohttp", upstream) as (gw, c):
        resp = await c.post("/v1/chat/completions", json=STREAMED)
        assert b"[DONE]" not in resp.content
        last = sse_json(resp.content)[-1]
        assert last["error"]["type"] == "overloaded_error" and last["status_code"] == 529
        assert last["is_gateway_error"] is False
        stream = await async_openai(gw).chat.completions.create(
            model="claude-sonnet", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass


async def test_claude_falls_back_to_gpt_and_gpt_to_claude(emulator: AzureEmulator) -> None:
    config = claude_config(retries={"max_attempts": 1})
    deployments = config["resources"][0]["deployments"]
    deployments["claude-sonnet"] = {**deployments["claude-sonnet"], "fallbacks": ["gpt-4o"]}
    deployments["gpt-4o"] = {"deployment": "my-gpt4o", "fallbacks": ["claude-sonnet"]}
    ask = [{"role": "user", "content": "fall over"}]
    async with emulator_gateway(emulator, config) as gw:
        client = async_openai(gw)
        emulator.inject(Fault.status(529), path_contains="/anthropic/")
        reply = await client.chat.completions.create(model="claude-sonnet", messages=ask)
        assert emulator.last_request.path.startswith("/openai/deployments/my-gpt4o/")
        assert json.loads(emulator.last_request.body)["messages"] == ask
        assert (reply.model_extra or {})["extra_fields"]["model_deployment"] == "my-gpt4o"
        emulator.inject(Fault.status(500), path_contains="/deployments/my-gpt4o/")
        reply = await client.chat.completions.create(model="gpt-4o", messages=ask)
        assert sent(emulator)["model"] == "my-claude"
        assert (reply.model_extra or {})["extra_fields"]["model_deployment"] == "my-claude"
        assert "fall over" in (reply.choices[0].message.content or "")


async def test_a_slow_translated_stream_arrives_chunk_by_chunk_over_loopback() -> None:
    words = " ".join(f"w{i}" for i in range(20))
    async with claude_on_loopback(0.05) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY)
        started = time.perf_counter()
        arrivals = []
        stream = await client.chat.completions.create(
            model="claude-sonnet", messages=[{"role": "user", "content": words}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.perf_counter() - started)
        await client.close()
    assert len(arrivals) >= 10
    assert arrivals[-1] - arrivals[0] > 0.25  # not one buffered burst


def test_sync_clients_reach_claude() -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    with serve_in_thread(emulator) as upstream_url:
        gateway = AzureGateway(claude_config(upstream_url))
        with serve_in_thread(gateway) as url:
            plain = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY)
            azure = openai.AzureOpenAI(
                azure_endpoint=url, api_key=CLIENT_KEY, api_version=API_VERSION
            )
            chat = plain.chat.completions.create(
                model="claude-sonnet", messages=[{"role": "user", "content": "sync hello"}]
            )
            streamed = azure.chat.completions.create(
                model="my-claude",
                messages=[{"role": "user", "content": "sync stream"}],
                stream=True,
            )
            text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
            response = plain.responses.create(model="claude-sonnet", input="sync responses")
            plain.close()
            azure.close()
    assert "sync hello" in (chat.choices[0].message.content or "")
    assert "sync stream" in text
    assert "sync responses" in response.output_text


STREAMED = {
    "model": "claude-sonnet",
    "messages": [{"role": "user", "content": "x"}],
    "stream": True,
}


@contextlib.asynccontextmanager
async def claude_gateway(
    kind: str, upstream: Scripted
) -> AsyncIterator[tuple[AzureGateway, httpx.AsyncClient]]:
    """A gateway with a Claude alias in front of ``upstream``, and a raw client for it."""
    async with (
        scripted_upstream(kind, upstream) as (url, client),
        AzureGateway(claude_config(url), http_client=client) as gw,
        caller(gw) as c,
    ):
        yield gw, c


def _claude_stream(text_pieces: list[str]) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
            for t in text_pieces
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    body = MESSAGE_START + b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n".encode()
        for e in events
    )
    return body


@pytest.mark.parametrize("chunk_size", [1, 5, 64, 0])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
async def test_a_translated_stream_is_the_same_however_the_upstream_splits_it(
    chunk_size: int, line_end: str
) -> None:
    pieces = ["Hello", ", ", 'a "quoted"', " word\\n", " é😀", ""]
    body = _claude_stream(pieces).replace(b"\n", line_end.encode())
    parts = (
        [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        if chunk_size
        else [body]
    )
    upstream = Scripted(sse_step(*parts))
    async with claude_gateway("httpx", upstream) as (_, c):
        resp = await c.post("/v1/chat/completions", json=STREAMED)
    assert resp.text.rstrip().endswith("data: [DONE]")
    chunks = sse_json(resp.content)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "".join(pieces)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
