"""Unmodified ``openai`` SDK clients against the gateway: OpenAI and AzureOpenAI, sync and async."""

from __future__ import annotations

import json

import openai
import pytest

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    API_VERSION,
    CLIENT_KEY,
    EMULATOR_KEY,
    async_azure_openai,
    async_openai,
    make_config,
    serve,
    serve_in_thread,
)

MESSAGES = [{"role": "user", "content": "ping from the sdk"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
    }
]


@pytest.mark.parametrize("model", ["gpt-4o", "azure/gpt-4o"])
async def test_async_openai_chat(
    gateway: AzureGateway, emulator: AzureEmulator, model: str
) -> None:
    client = async_openai(gateway)
    result = await client.chat.completions.create(model=model, messages=MESSAGES, seed=7)
    assert result.choices[0].message.content == "ping from the sdk"
    assert result.choices[0].finish_reason == "stop"
    assert (
        result.model_extra is not None
        and result.model_extra["extra_fields"]["model_deployment"] == "my-gpt4o"
    )
    seen = emulator.last_request
    assert seen.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert seen.query == {"api-version": API_VERSION}
    assert seen.headers["api-key"] == EMULATOR_KEY
    assert seen.json["seed"] == 7 and seen.json["model"] == model  # the caller's bytes
    assert "authorization" not in seen.headers


async def test_async_openai_stream(gateway: AzureGateway, emulator: AzureEmulator) -> None:
    client = async_openai(gateway)
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, usage, chunks = "", None, 0
    async for chunk in stream:
        chunks += 1
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "ping from the sdk"
    assert chunks > 3
    assert usage is not None and usage.total_tokens > 0
    assert emulator.last_request.json["stream_options"] == {"include_usage": True}


async def test_async_openai_tools_pass_through(
    gateway: AzureGateway, emulator: AzureEmulator
) -> None:
    client = async_openai(gateway)
    result = await client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "lookup"}},
    )
    call = result.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"text": "ping from the sdk"}  # type: ignore[union-attr]
    assert emulator.last_request.json["tools"] == TOOLS


async def test_async_openai_streamed_tool_call(gateway: AzureGateway) -> None:
    client = async_openai(gateway)
    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice="required",
        stream=True,  # type: ignore[arg-type]
    )
    name, arguments = "", ""
    async for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name += call.function.name or "" if call.function else ""
            arguments += call.function.arguments or "" if call.function else ""
    assert name == "lookup"
    assert json.loads(arguments) == {"text": "ping from the sdk"}


@pytest.mark.parametrize("model", ["gpt-4o", "my-gpt4o"])
async def test_async_azure_openai_by_alias_or_deployment(
    gateway: AzureGateway, emulator: AzureEmulator, model: str
) -> None:
    client = async_azure_openai(gateway)
    result = await client.chat.completions.create(model=model, messages=MESSAGES)
    assert result.choices[0].message.content == "ping from the sdk"
    seen = emulator.last_request
    assert seen.deployment == "my-gpt4o"
    assert seen.query == {"api-version": API_VERSION}
    assert CLIENT_KEY not in json.dumps(seen.headers)


async def test_async_azure_openai_stream(gateway: AzureGateway) -> None:
    client = async_azure_openai(gateway)
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == "ping from the sdk"


async def test_sdk_sees_upstream_errors_as_its_own_exceptions(
    upstream_endpoint: tuple[str, object], emulator: AzureEmulator
) -> None:
    endpoint, http_client = upstream_endpoint
    async with AzureGateway(
        make_config(endpoint, retries={"max_attempts": 1}), http_client=http_client
    ) as gw:
        client = async_openai(gw)
        client = client.with_options(max_retries=0)
        emulator.inject(Fault.status(429, retry_after_ms=100))
        with pytest.raises(openai.RateLimitError) as rate:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="nope", messages=MESSAGES)
        bad_key = openai.AsyncOpenAI(
            base_url="http://gateway/v1", api_key="wrong", http_client=client._client, max_retries=0
        )
        with pytest.raises(openai.AuthenticationError):
            await bad_key.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert rate.value.status_code == 429
    assert missing.value.code == "model_not_found"


async def test_sdk_stream_cut_raises(emulator: AzureEmulator) -> None:
    emulator.inject(Fault.cut_stream(after_chunks=3))
    async with serve(emulator) as url, AzureGateway(make_config(url)) as gw:
        client = async_openai(gw)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        received: list[object] = []

        async def consume() -> None:
            async for chunk in stream:
                received.append(chunk)

        with pytest.raises(openai.APIError, match="broke off"):
            await consume()
    assert received  # the chunks before the break were delivered


def test_sync_clients_over_a_real_server(emulator: AzureEmulator) -> None:
    """``OpenAI`` and ``AzureOpenAI`` (sync) over loopback, the gateway mounted in Starlette."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    with serve_in_thread(emulator, lifespan="off") as emulator_url:
        gateway = AzureGateway(make_config(emulator_url))
        host = Starlette(routes=[Mount("/llm", app=gateway)], lifespan=gateway.lifespan)
        with serve_in_thread(host) as base:
            plain = openai.OpenAI(base_url=f"{base}/llm/v1", api_key=CLIENT_KEY)
            result = plain.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
            assert result.choices[0].message.content == "ping from the sdk"
            azure = openai.AzureOpenAI(
                azure_endpoint=f"{base}/llm", api_key=CLIENT_KEY, api_version=API_VERSION
            )
            chunks = azure.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == "ping from the sdk"
    assert [r.deployment for r in emulator.requests] == ["my-gpt4o", "my-gpt4o"]
    assert all(r.headers["api-key"] == EMULATOR_KEY for r in emulator.requests)
