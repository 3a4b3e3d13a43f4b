"""The per-request Exchange: the request id it takes from the caller or makes, the target it
records, its latency; and the request id as a caller sees it, in the error envelope."""

from __future__ import annotations

import re
import time

import pytest

from azure_asgi._catalog import Resource, Target
from azure_asgi._deadlines import Deadlines
from azure_asgi._exchange import Exchange
from azure_asgi._identity import ApiKeyAuth
from azure_asgi._routing import RouteTable

from .conftest import CHAT, caller, mock_gateway

GENERATED = re.compile(r"[0-9a-f]{16}")


async def exchange(*headers: tuple[bytes, bytes]) -> Exchange:
    scope = {"type": "http", "headers": list(headers)}
    return Exchange(scope, Deadlines(5).new())


@pytest.mark.parametrize("name", [b"x-request-id", b"x-ms-client-request-id"])
async def test_the_callers_request_id_is_kept(name: bytes) -> None:
    ex = await exchange((name, b"trace-1234_ABC.z"))
    assert ex.request_id == "trace-1234_ABC.z"


async def test_x_request_id_wins_over_the_azure_header() -> None:
    ex = await exchange((b"x-ms-client-request-id", b"azure-id"), (b"x-request-id", b"plain-id"))
    assert ex.request_id == "plain-id"


async def test_a_request_id_of_128_characters_is_kept() -> None:
    given = "a" * 128
    assert (await exchange((b"x-request-id", given.encode()))).request_id == given


@pytest.mark.parametrize(
    "given",
    [
        b"a" * 129,  # too long to echo
        b"",
        b"   ",  # nothing but blanks
        b"line\nbreak",
        b"carriage\rreturn",
        b"tab\tinside",
        b"nul\x00inside",
        b"del\x7finside",
        b"caf\xc3\xa9",  # UTF-8 é: not ASCII
        b"\xff\xfe",
    ],
    ids=["129-chars", "empty", "blanks", "lf", "cr", "tab", "nul", "del", "utf8", "high-bytes"],
)
@pytest.mark.parametrize("name", [b"x-request-id", b"x-ms-client-request-id"])
async def test_anything_but_a_short_printable_ascii_id_is_replaced(
    name: bytes, given: bytes
) -> None:
    ex = await exchange((name, given))
    assert GENERATED.fullmatch(ex.request_id), ex.request_id
    assert ex.request_id != given.decode("latin-1")


async def test_without_a_caller_id_a_random_one_is_made_once_per_exchange() -> None:
    first, second = await exchange(), await exchange()
    assert GENERATED.fullmatch(first.request_id)
    assert first.request_id == first.request_id  # made once, then kept
    assert first.request_id != second.request_id


async def test_describe_records_the_answering_target() -> None:
    ex = await exchange()
    resource = Resource("westus", "https://westus.example/", ApiKeyAuth("k"))
    target = Target(resource, "gpt-4o", "dep-4o", "openai")
    ex.describe(target)
    assert ex.target is target
    assert ex.extra == {"provider": "azure", "model_deployment": "dep-4o", "resource": "westus"}


async def test_latency_is_whole_milliseconds_since_the_exchange_began() -> None:
    ex = await exchange()
    assert 0 <= ex.latency_ms() < 100
    ex.started = time.perf_counter() - 1.25
    latency = ex.latency_ms()
    assert isinstance(latency, int)
    assert 1250 <= latency < 1500


async def test_operation_is_the_routes() -> None:
    ex = await exchange()
    with pytest.raises(AssertionError, match="no route yet"):
        _ = ex.operation
    ex.route = RouteTable().match("POST", ("v1", "chat", "completions"))
    assert ex.operation.request_type == "chat_completion"


async def test_the_request_id_is_the_error_envelopes_event_id() -> None:
    def never(request: object) -> None:
        raise AssertionError("nothing should go upstream")

    async with mock_gateway(never) as gw, caller(gw) as client:
        given = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "nope"},
            headers={"x-request-id": "trace-42"},
        )
        hostile = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "nope"},
            headers={"x-request-id": "x" * 200},
        )
    assert given.status_code == hostile.status_code == 404
    assert given.json()["event_id"] == "trace-42"
    assert GENERATED.fullmatch(hostile.json()["event_id"])
