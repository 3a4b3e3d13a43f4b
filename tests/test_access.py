"""The access log, request ids end to end, and that no secret or prompt reaches any log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from azure_asgi import AzureGateway, UsageRecord
from azure_asgi.testing import AzureEmulator, Fault

from .conftest import (
    CHAT,
    CLIENT_KEY,
    EMULATOR_KEY,
    Scripted,
    caller,
    emulator_gateway,
    eventually,
    json_step,
    make_config,
    scripted_upstream,
    serve,
    sse_step,
)

FIELDS = (
    "request_id",
    "principal",
    "method",
    "path",
    "request_type",
    "model",
    "resource",
    "deployment",
    "status",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "attempts",
)


class Everything(logging.Handler):
    """Keeps every record of every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        for record in self.records:
            out.append(record.getMessage())
            out.append(repr(record.__dict__))
            if record.exc_info:
                out.append(logging.Formatter().formatException(record.exc_info))
        return out


@pytest.fixture
def everything() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.fixture
def access() -> Iterator[list[logging.LogRecord]]:
    handler = Everything()
    logger = logging.getLogger("azure_asgi.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


async def test_one_access_record_per_request_with_its_fields(
    access: list[logging.LogRecord],
) -> None:
    gw = emulator_gateway(AzureEmulator(api_keys=(EMULATOR_KEY,)))
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
        streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        refused = await client.post("/v1/chat/completions", json=CHAT, headers={"api-key": "x"})
    assert [r.levelno for r in access] == [logging.INFO] * 3
    first, stream, bad = access
    usage = resp.json()["usage"]
    values = {name: getattr(first, name) for name in FIELDS}
    assert values == {
        "request_id": resp.headers["x-request-id"],
        "principal": "client-key",
        "method": "POST",
        "path": "/v1/chat/completions",
        "request_type": "chat_completion",
        "model": "gpt-4o",
        "resource": "eastus",
        "deployment": "my-gpt4o",
        "status": 200,
        "latency_ms": first.latency_ms,
        "ttft_ms": None,
        "input_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "attempts": 1,
    }
    assert first.latency_ms >= 0
    message = first.getMessage()
    assert message.startswith("POST /v1/chat/completions 200 ")
    assert f"request_id={resp.headers['x-request-id']}" in message
    assert "model=gpt-4o" in message and "resource=eastus" in message
    assert stream.request_id == streamed.headers["x-request-id"]
    assert stream.ttft_ms is not None and stream.input_tokens > 0
    assert (bad.status, bad.principal, refused.status_code) == (401, None, 401)


async def test_a_disabled_access_log_builds_nothing() -> None:
    logger = logging.getLogger("azure_asgi.access")
    assert not logger.isEnabledFor(logging.INFO)
    gw = emulator_gateway(AzureEmulator(api_keys=(EMULATOR_KEY,)))
    async with gw:
        scope: dict[str, Any] = {"type": "http", "headers": [], "path": "/", "method": "GET"}
        from azure_asgi._exchange import Exchange

        ex = Exchange(scope, gw._deadlines.new())
        assert gw._observers.begin(ex) is None
        assert ex.watch is None


# -- request ids ---------------------------------------------------------------------------------


async def test_the_request_id_goes_upstream_and_back_on_every_answer() -> None:
    upstream = Scripted(
        json_step({"id": "c", "choices": []}, headers=[(b"x-request-id", b"azure-own")]),
    )
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client)
        async with gw, caller(gw) as c:
            made = await c.post("/v1/chat/completions", json=CHAT)
            given = await c.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": "r1"})
            azure = await c.post(
                "/v1/chat/completions", json=CHAT, headers={"x-ms-client-request-id": "r2"}
            )
    sent = [r["headers"]["x-ms-client-request-id"] for r in upstream.requests]
    assert sent == [made.headers["x-request-id"], "r1", "r2"]
    assert [given.headers["x-request-id"], azure.headers["x-request-id"]] == ["r1", "r2"]
    # The gateway's id wins over the upstream's own x-request-id.
    assert made.headers.get_list("x-request-id") == [sent[0]]


async def test_errors_and_streams_carry_the_request_id_too() -> None:
    upstream = Scripted(sse_step(b'data: {"choices":[]}\n\n', b"data: [DONE]\n\n"))
    async with scripted_upstream("httpx", upstream) as (url, client):
        gw = AzureGateway(make_config(url), http_client=client)
        async with gw, caller(gw) as c:
            stream = await c.post("/v1/chat/completions", json={**CHAT, "stream": True})
            refused = await c.post("/v1/chat/completions", json=CHAT, headers={"api-key": "x"})
            missing = await c.post("/v1/chat/completions", json={**CHAT, "model": "nope"})
    assert (
        stream.headers["x-request-id"] == upstream.requests[0]["headers"]["x-ms-client-request-id"]
    )
    for resp in (refused, missing):
        assert resp.headers["x-request-id"] == resp.json()["event_id"]


async def test_azures_own_id_stays_as_apim_request_id() -> None:
    gw = emulator_gateway(AzureEmulator(api_keys=(EMULATOR_KEY,)))
    async with gw, caller(gw) as client:
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.headers["apim-request-id"].startswith("emu-")
    assert not resp.headers["x-request-id"].startswith("emu-")


async def test_every_log_line_of_a_request_names_it(caplog: pytest.LogCaptureFixture) -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    emulator.inject(Fault.cut_stream(after_chunks=2))
    with caplog.at_level(logging.DEBUG, logger="azure_asgi"):
        async with (
            serve(emulator) as url,
            AzureGateway(make_config(url)) as gw,
            caller(gw, **{"x-request-id": "trace-me"}) as client,
        ):
            await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    lines = [r for r in caplog.records if r.name == "azure_asgi"]
    assert lines, "the broken stream is logged"
    for record in lines:
        assert record.request_id == "trace-me"  # type: ignore[attr-defined]
        assert "request_id=trace-me" in record.getMessage()


# -- nothing secret ------------------------------------------------------------------------------

PROMPT = "the secret plan is purple-elephant-42"
SECRETS = (CLIENT_KEY, EMULATOR_KEY, "caller-bearer-token-xyz", PROMPT, "purple-elephant")


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_no_secret_or_prompt_reaches_any_log_record(
    kind: str, everything: Everything, access: list[logging.LogRecord]
) -> None:
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]}

    def broken(record: UsageRecord) -> None:
        raise RuntimeError("hook broke")

    if kind == "httpx":
        gw = emulator_gateway(emulator, on_usage=broken)
        context: Any = None
    else:
        context = serve(emulator)
        url = await context.__aenter__()
        gw = AzureGateway(make_config(url), on_usage=broken)
    try:
        async with gw, caller(gw) as client:
            await client.post("/v1/chat/completions", json=chat)
            await client.post("/v1/chat/completions", json={**chat, "stream": True})
            await client.post("/v1/responses", json={"model": "gpt-4o", "input": PROMPT})
            await client.post(
                "/v1/chat/completions",
                json=chat,
                headers={"api-key": "", "authorization": "Bearer caller-bearer-token-xyz"},
            )
            emulator.inject(Fault.status(500), times=3)
            await client.post("/v1/chat/completions", json=chat)
            emulator.inject(Fault.cut_stream(after_chunks=1))
            await client.post("/v1/chat/completions", json={**chat, "stream": True})
            await client.post("/v1/chat/completions", content=b'{"model": "gpt-4o", "messages"')
            await eventually(lambda: sum("on_usage failed" in t for t in everything.texts()) >= 5)
    finally:
        if context is not None:
            await context.__aexit__(None, None, None)
    assert len(access) == 7
    texts = everything.texts()
    assert texts
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:300])
