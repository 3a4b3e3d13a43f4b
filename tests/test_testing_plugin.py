"""The pytest plugin, loaded with ``-p`` into a separate pytest run (pytester), one test per
fixture; and the kit's serve helpers and SSE reader."""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest

from azure_asgi.testing import AzureEmulator, gateway_config, serve_in_thread, sse_data, sse_json

pytest_plugins = ["pytester"]

PLUGIN = "azure_asgi.testing.pytest_plugin"
INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(source)
    return pytester.runpytest("-p", PLUGIN, "--strict-markers", *args)


def test_azure_emulator_is_fresh_per_test_and_the_mark_configures_it(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import pytest
        from azure_asgi.testing import AzureEmulator

        def test_default(azure_emulator):
            assert isinstance(azure_emulator, AzureEmulator)
            assert azure_emulator.requests == []
            assert azure_emulator.model_for("anything", "fallback") == "fallback"

        @pytest.mark.azure_emulator(deployments={"chat": "gpt-4o-2024-11-20"}, api_keys=None)
        def test_marked(azure_emulator):
            assert azure_emulator.deployed_models() == ["gpt-4o-2024-11-20"]
        """,
    )
    result.assert_outcomes(passed=2)


def test_azure_emulator_url_serves_streams_on_loopback(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import httpx
        import pytest
        from azure_asgi.testing import sse_json

        @pytest.mark.asyncio
        async def test_stream(azure_emulator, azure_emulator_url):
            assert azure_emulator_url.startswith("http://127.0.0.1:")
            async with httpx.AsyncClient(base_url=azure_emulator_url) as client:
                resp = await client.post(
                    "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                    headers={"api-key": "emulator-key"},
                    json={"messages": [{"role": "user", "content": "one two"}], "stream": True},
                )
            chunks = sse_json(resp.content)
            text = "".join(c["choices"][0]["delta"].get("content") or ""
                           for c in chunks if c["choices"])
            assert text == "one two"
            assert azure_emulator.streams_completed == 1
        """,
    )
    result.assert_outcomes(passed=1)


def test_azure_emulator_thread_url_serves_sync_clients(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import openai

        def test_sync(azure_emulator, azure_emulator_thread_url):
            client = openai.OpenAI(
                base_url=azure_emulator_thread_url + "/openai/v1", api_key="emulator-key"
            )
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "sync hello"}]
            )
            assert reply.choices[0].message.content == "sync hello"
            assert azure_emulator.last_request.deployment == "gpt-4o"
        """,
    )
    result.assert_outcomes(passed=1)


def test_azure_gateway_reaches_the_emulator_in_process(pytester: pytest.Pytester) -> None:
    # asyncio_mode=auto here: the fixtures work in both of pytest-asyncio's modes.
    result = run(
        pytester,
        """
        import httpx
        import pytest
        from azure_asgi import AzureGateway
        from azure_asgi.testing import Fault

        async def test_gateway(azure_gateway, azure_emulator):
            assert isinstance(azure_gateway, AzureGateway)
            azure_emulator.inject(Fault.status(503))  # retried once by the kit's config
            transport = httpx.ASGITransport(app=azure_gateway)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                resp = await client.post(
                    "/v1/chat/completions",
                    json={"model": "gpt-4o",
                          "messages": [{"role": "user", "content": "via the gateway"}]},
                )
            assert resp.status_code == 200, resp.text
            assert resp.json()["choices"][0]["message"]["content"] == "via the gateway"
            assert [r.deployment for r in azure_emulator.requests] == ["gpt-4o", "gpt-4o"]

        class TestOverridden:
            @pytest.fixture
            def azure_gateway_config(self):
                from azure_asgi.testing import gateway_config
                return gateway_config(clients={"api_keys": ["mine"]})

            async def test_config(self, azure_gateway):
                transport = httpx.ASGITransport(app=azure_gateway)
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                    resp = await c.get("/v1/models")
                assert resp.status_code == 401
        """,
        "-o",
        "asyncio_mode=auto",
    )
    result.assert_outcomes(passed=2)


def test_loading_the_plugin_twice_is_one_plugin(pytester: pytest.Pytester) -> None:
    # The entry point is named after the module, so `-p` on top of it is the same plugin.
    result = run(pytester, "def test_x(azure_emulator):\n    pass\n", "-p", PLUGIN)
    result.assert_outcomes(passed=1)


def test_the_entry_point_names_the_plugin_module() -> None:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {PLUGIN: PLUGIN}


# ---------------------------------------------------------------- serve and SSE helpers


def test_serve_in_thread_method_and_function() -> None:
    emulator = AzureEmulator(api_keys=None)
    with emulator.serve_in_thread() as url, serve_in_thread(emulator) as other:
        assert url != other
        for base in (url, other):
            resp = httpx.get(f"{base}/openai/v1/models")
            assert resp.status_code == 200
    assert len(emulator.requests) == 2


async def test_serve_method_streams_chunk_by_chunk(emulator: AzureEmulator) -> None:
    from azure_asgi.testing import Fault

    hold = Fault.hold_stream(after_chunks=1)
    emulator.inject(hold)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "a b"}], "stream": True}
    async with (
        emulator.serve() as url,
        httpx.AsyncClient(base_url=url, headers={"api-key": "emulator-key"}) as client,
        client.stream("POST", "/openai/v1/chat/completions", json=body) as resp,
    ):
        lines = resp.aiter_lines()
        first = await anext(lines)  # arrives while the stream is held
        assert first.startswith("data: ") and emulator.open_streams == 1
        hold.release.set()
        rest = [line async for line in lines]
    assert "data: [DONE]" in rest


def test_sse_reader_reads_events_data_and_json() -> None:
    body = b': ping\n\nevent: a\ndata: {"x": 1}\n\ndata: [DONE]\n\ndata: {"y"'
    assert sse_data(body) == ['{"x": 1}', "[DONE]", '{"y"']
    assert sse_json(body[:-9]) == [{"x": 1}]


def test_gateway_config_has_a_claude_alias_and_overrides() -> None:
    config = gateway_config("http://east", clients={"api_keys": ["k"]})
    deployments = config["resources"][0]["deployments"]
    assert deployments["claude-sonnet"]["family"] == "anthropic"
    assert config["resources"][0]["endpoint"] == "http://east"
    assert config["clients"] == {"api_keys": ["k"]}


# ---------------------------------------------------------------- docs/testing.md's examples

MYSERVICE = """
import openai
from fastapi import Depends, FastAPI

app = FastAPI()


def llm() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url="https://llm-gateway.internal/v1", api_key="from-vault")


@app.post("/summaries")
async def summarize(
    doc: dict[str, str], client: openai.AsyncOpenAI = Depends(llm)
) -> dict[str, str]:
    reply = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": doc["text"]}]
    )
    return {"summary": reply.choices[0].message.content or ""}
"""

TEST_MYSERVICE = """
import httpx
import httpx2
import openai
import pytest

from azure_asgi.testing import Fault
from myservice import app, llm


@pytest.fixture
def service(azure_gateway):
    # openai 3.x speaks httpx2; ASGITransport calls the gateway in-process.
    gateway_client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=azure_gateway))
    app.dependency_overrides[llm] = lambda: openai.AsyncOpenAI(
        base_url="http://gateway/v1", api_key="unused", http_client=gateway_client, max_retries=0
    )
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")
    app.dependency_overrides.clear()


async def test_summary(service, azure_emulator):
    resp = await service.post("/summaries", json={"text": "hello world"})
    assert resp.json() == {"summary": "hello world"}
    assert azure_emulator.last_request.deployment == "gpt-4o"


async def test_a_throttled_first_attempt_is_retried_by_the_gateway(service, azure_emulator):
    azure_emulator.inject(Fault.status(429, retry_after_ms=1))
    resp = await service.post("/summaries", json={"text": "still answered"})
    assert resp.json() == {"summary": "still answered"}
    assert len(azure_emulator.requests) == 2
"""


def test_the_fastapi_example_passes_as_written(pytester: pytest.Pytester) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "testing.md").read_text()
    assert MYSERVICE.strip() in doc and TEST_MYSERVICE.strip() in doc  # the guide shows these
    pytester.makeini(INI + "asyncio_mode = auto\n")
    pytester.makepyfile(myservice=MYSERVICE, test_myservice=TEST_MYSERVICE)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", PLUGIN)
    result.assert_outcomes(passed=2)


async def test_a_failing_region_fails_over_to_the_other_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random

    from azure_asgi.testing import Fault, emulator_gateway

    # Balancing picks at random among healthy resources: here east always goes first.
    monkeypatch.setattr(random, "choices", lambda pool, weights: [pool[0]])

    east, west = AzureEmulator(), AzureEmulator()
    resource = gateway_config()["resources"][0]
    config = gateway_config(
        resources=[
            {**resource, "name": "east", "endpoint": "http://east"},
            {**resource, "name": "west", "endpoint": "http://west"},
        ]
    )
    east.inject(Fault.status(503), times=None)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "anyone there"}]}
    async with emulator_gateway({"east": east, "west": west}, config) as gateway:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            resp = await client.post("/v1/chat/completions", json=body)
            unknown = emulator_gateway({"north": west}, config)
            async with (
                unknown,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=unknown)) as other,
            ):
                lost = await other.post("http://gw/v1/chat/completions", json=body)
    assert resp.status_code == 200 and resp.json()["extra_fields"]["resource"] == "west"
    assert len(west.requests) == 1 and len(east.requests) == 1  # the retry went west
    assert lost.status_code >= 500  # a host with no emulator is a connection error upstream


async def test_structured_output_and_an_agent_loop_with_a_script(
    azure_emulator: AzureEmulator,
) -> None:
    import httpx2
    import openai
    import pydantic

    from azure_asgi.testing import Reply, ToolCall, emulator_gateway

    class Weather(pydantic.BaseModel):
        city: str
        celsius: int

    async with emulator_gateway(azure_emulator) as gateway:
        client = openai.AsyncOpenAI(
            base_url="http://gateway/v1",
            api_key="unused",
            http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway)),
        )
        azure_emulator.script(Reply(text='{"city": "Paris", "celsius": 21}'))
        parsed = await client.chat.completions.parse(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Paris?"}],
            response_format=Weather,
        )
        assert parsed.choices[0].message.parsed == Weather(city="Paris", celsius=21)

        # A minimal agent loop: call the tool the model asks for, send the result, stop on text.
        azure_emulator.script(ToolCall("get_weather", {"city": "Paris"}), "It is sunny.")
        messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            }
        ]
        for _ in range(3):
            reply = await client.chat.completions.create(
                model="gpt-4o",
                messages=messages,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
            )
            message = reply.choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    assert message.content == "It is sunny."
    assert azure_emulator.requests[-1].json["messages"][-1]["role"] == "tool"


def test_every_kit_export_is_documented() -> None:
    import azure_asgi.testing as kit

    for name in kit.__all__:
        member = getattr(kit, name)
        if not isinstance(member, str):
            assert member.__doc__, f"{name} has no docstring"
    assert kit.EMULATOR_KEY == "emulator-key"
