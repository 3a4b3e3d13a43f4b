"""Real agent frameworks, unmodified, against the emulator through the gateway (issue 11).

langchain-openai, openai-agents and pydantic-ai each run a whole tool loop and a structured
output against the emulator behind the gateway, on a GPT alias and on a Claude alias (the
chat and Responses translations): what the framework returns must validate against the
schema, and what the emulator received must carry the tools and, in the second turn, the tool
result. The emulator's tool rule is in docs/testing.md ("Tools and structured output in the
emulator").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import agents
import httpx2
import jsonschema
import openai
import pydantic_ai.models.openai as pydantic_openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import AzureChatOpenAI
from pydantic import BaseModel, Field
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai import NativeOutput
from pydantic_ai.providers.openai import OpenAIProvider

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator

from .conftest import API_VERSION, CLIENT_KEY, emulator_gateway, make_config

CLAUDE = {"deployment": "my-claude", "family": "anthropic"}
ALIASES = ["gpt-4o", "claude-sonnet"]
PROMPT = "get weather in Paris"
# The forced tool the chat translation gives Claude for a json_schema response_format.
JSON_TOOL = "azure_asgi_json_response"


class Weather(BaseModel):
    """A weather report."""

    city: str
    unit: Literal["celsius", "fahrenheit"]
    days: int = Field(ge=1, le=7)
    tags: list[str]


Calls = list[dict[str, Any]]


def weather_tool(calls: Calls) -> Any:
    """The tool every framework runs, as a plain function: records the arguments it got."""

    def get_weather(
        city: str, unit: Literal["celsius", "fahrenheit"], days: int, tags: list[str]
    ) -> str:
        """Forecast for a city."""
        calls.append({"city": city, "unit": unit, "days": days, "tags": tags})
        return f"sunny in {city} for {days} days"

    return get_weather


RESULT = f"sunny in {PROMPT} for 4 days"  # the tool's answer to the emulator's arguments


@pytest.fixture
def gateway_config() -> dict[str, Any]:
    config = make_config()
    config["resources"][0]["deployments"]["claude-sonnet"] = CLAUDE
    return config


@pytest.fixture
async def gateway(
    emulator: AzureEmulator, gateway_config: dict[str, Any]
) -> AsyncIterator[AzureGateway]:
    async with emulator_gateway(emulator, gateway_config) as gw:
        yield gw


@pytest.fixture
def calls() -> Calls:
    return []


def transport(gateway: AzureGateway) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway))


def openai_client(gateway: AzureGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=CLIENT_KEY,
        http_client=transport(gateway),
        max_retries=0,
    )


def langchain_llm(gateway: AzureGateway, alias: str, *, stream: bool = False) -> AzureChatOpenAI:
    return AzureChatOpenAI(
        streaming=stream,
        azure_deployment=alias,
        azure_endpoint="http://gateway",
        api_key=CLIENT_KEY,  # type: ignore[arg-type]
        api_version=API_VERSION,
        http_async_client=transport(gateway),
        max_retries=0,
    )


# -- what the emulator received, whichever API the gateway spoke upstream ----------------------


def tools_sent(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tool name -> its JSON schema, from a chat, Responses or Messages request body."""
    out: dict[str, dict[str, Any]] = {}
    for t in body.get("tools") or []:
        if "function" in t:  # chat completions
            out[t["function"]["name"]] = t["function"]["parameters"]
        elif "input_schema" in t:  # Claude Messages
            out[t["name"]] = t["input_schema"]
        else:  # Responses
            out[t["name"]] = t["parameters"]
    return out


def tool_results_sent(body: dict[str, Any]) -> list[str]:
    """The tool results a request carries back to the model, as text."""
    results: list[str] = []
    for item in body.get("messages") or body.get("input") or []:
        if item.get("role") == "tool":
            results.append(item["content"])
        elif item.get("type") == "function_call_output":
            results.append(item["output"])
        elif isinstance(item.get("content"), list):
            for block in item["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    if isinstance(content, list):
                        content = "".join(b["text"] for b in content)
                    results.append(content)
    return results


def upstream_path(alias: str) -> str:
    return "/anthropic/v1/messages" if alias.startswith("claude") else "/openai/"


def assert_tool_loop(
    emulator: AzureEmulator, alias: str, calls: Calls, *, stream: bool = False
) -> None:
    """The framework ran the tool once with schema-valid arguments, and sent its result back."""
    bodies = [r.json for r in emulator.requests]
    assert len(bodies) >= 2
    assert all(bool(b.get("stream")) is stream for b in bodies)
    assert all(upstream_path(alias) in r.path for r in emulator.requests)
    schema = tools_sent(bodies[0])["get_weather"]
    assert set(schema["required"]) >= {"city", "unit", "days", "tags"}
    assert len(calls) == 1
    jsonschema.validate(calls[0], schema)
    assert calls[0]["city"] == PROMPT
    assert calls[0]["unit"] == "celsius"
    assert tool_results_sent(bodies[0]) == []
    assert tool_results_sent(bodies[1]) == [RESULT]


def assert_weather(value: object) -> Weather:
    assert isinstance(value, Weather)
    jsonschema.validate(value.model_dump(), Weather.model_json_schema())
    return value


# -- langchain-openai -------------------------------------------------------------------------

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])


@STREAM
@pytest.mark.parametrize("alias", ALIASES)
async def test_langchain_bind_tools_loop(
    gateway: AzureGateway, emulator: AzureEmulator, calls: Calls, alias: str, stream: bool
) -> None:
    get_weather = tool(weather_tool(calls))
    bound = langchain_llm(gateway, alias, stream=stream).bind_tools([get_weather])
    messages: list[Any] = [HumanMessage(PROMPT)]

    first = await bound.ainvoke(messages)
    assert isinstance(first, AIMessage)
    assert [c["name"] for c in first.tool_calls] == ["get_weather"]
    result = await get_weather.ainvoke(first.tool_calls[0])
    assert isinstance(result, ToolMessage)
    final = await bound.ainvoke([*messages, first, result])

    assert isinstance(final, AIMessage)
    assert final.tool_calls == []
    assert final.content == RESULT
    assert_tool_loop(emulator, alias, calls, stream=stream)


@pytest.mark.parametrize("alias", ALIASES)
async def test_langchain_structured_output(
    gateway: AzureGateway, emulator: AzureEmulator, alias: str
) -> None:
    structured = langchain_llm(gateway, alias).with_structured_output(Weather)
    weather = assert_weather(await structured.ainvoke("weather report for Paris"))
    assert weather.city == "weather report for Paris"
    body = emulator.last_request.json
    if alias.startswith("claude"):
        # The chat translation carries a json_schema response_format to Claude as one forced
        # tool whose input becomes the content (docs/claude.md).
        assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
        schema = tools_sent(body)[JSON_TOOL]
    else:
        assert body["response_format"]["json_schema"]["name"] == "Weather"
        schema = body["response_format"]["json_schema"]["schema"]
    jsonschema.validate(weather.model_dump(), schema)


# -- openai-agents ----------------------------------------------------------------------------

AGENTS_MODELS = {
    "chat": agents.OpenAIChatCompletionsModel,
    "responses": agents.OpenAIResponsesModel,
}


@STREAM
@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("api", sorted(AGENTS_MODELS))
async def test_openai_agents_tool_and_output_type(
    gateway: AzureGateway,
    emulator: AzureEmulator,
    calls: Calls,
    api: str,
    alias: str,
    stream: bool,
) -> None:
    model = AGENTS_MODELS[api](model=alias, openai_client=openai_client(gateway))
    agent = agents.Agent(
        name="weather",
        instructions="help",
        tools=[agents.function_tool(weather_tool(calls))],
        output_type=Weather,
        model=model,
    )
    # Tracing off: the SDK would otherwise export spans to api.openai.com.
    config = agents.RunConfig(tracing_disabled=True)
    if stream:
        streamed = agents.Runner.run_streamed(agent, PROMPT, run_config=config)
        events = [event.type async for event in streamed.stream_events()]
        assert "raw_response_event" in events
        output = streamed.final_output
    else:
        output = (await agents.Runner.run(agent, PROMPT, run_config=config)).final_output
    assert_weather(output)
    assert_tool_loop(emulator, alias, calls, stream=stream)


# -- pydantic-ai ------------------------------------------------------------------------------

PYDANTIC_MODELS = {
    "chat": pydantic_openai.OpenAIChatModel,
    "responses": pydantic_openai.OpenAIResponsesModel,
}


@STREAM
@pytest.mark.parametrize("output", ["tool", "native"])
@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("api", sorted(PYDANTIC_MODELS))
async def test_pydantic_ai_tool_and_structured_output(
    gateway: AzureGateway,
    emulator: AzureEmulator,
    calls: Calls,
    api: str,
    alias: str,
    output: str,
    stream: bool,
) -> None:
    """pydantic-ai's default tool output (a ``final_result`` tool) and its native output (a
    ``json_schema`` response format), whole and streamed."""
    provider = OpenAIProvider(openai_client=openai_client(gateway))
    output_type: Any = Weather if output == "tool" else NativeOutput(Weather)
    agent = PydanticAgent(PYDANTIC_MODELS[api](alias, provider=provider), output_type=output_type)
    agent.tool_plain(weather_tool(calls))
    if stream:
        async with agent.run_stream(PROMPT) as streamed:
            value = await streamed.get_output()
    else:
        value = (await agent.run(PROMPT)).output
    assert_weather(value)
    assert_tool_loop(emulator, alias, calls, stream=stream)
