"""Reading a request body from ASGI ``receive``: chunks as they arrive, 413 as soon as the body is
known to be too large (before reading, when content-length says so), ClientGone on disconnect."""

from __future__ import annotations

from typing import Any

import pytest

from azure_asgi import GatewayError
from azure_asgi._body import body_chunks
from azure_asgi._errors import ClientGone


class Receiver:
    """An ASGI ``receive`` replaying ``messages``, counting how many were taken."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages = list(messages)
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        assert self.messages, "read past the end of the body"
        self.taken += 1
        return self.messages.pop(0)


def chunk(body: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


async def collect(
    receive: Receiver,
    limit: int = 10,
    headers: dict[bytes, bytes] | None = None,
    into: list[bytes] | None = None,
) -> list[bytes]:
    """The chunks passed on, also appended to ``into`` as they come (to see them on failure)."""
    seen = [] if into is None else into
    async for piece in body_chunks(receive, headers or {}, limit, "limits.some_setting"):
        seen.append(piece)
    return seen


async def test_chunks_come_as_they_arrive_empty_ones_skipped() -> None:
    receive = Receiver(chunk(b"ab"), chunk(b""), chunk(b"cd"), chunk(b"", more=False))
    assert await collect(receive) == [b"ab", b"cd"]
    assert receive.taken == 4


async def test_a_single_message_without_more_body_is_the_whole_body() -> None:
    assert await collect(Receiver({"type": "http.request", "body": b"whole"})) == [b"whole"]
    assert await collect(Receiver({"type": "http.request"})) == []


async def test_a_declared_length_over_the_limit_is_413_before_anything_is_read() -> None:
    receive = Receiver(chunk(b"x" * 11, more=False))
    with pytest.raises(GatewayError) as caught:
        await collect(receive, headers={b"content-length": b"11"})
    assert (caught.value.status, caught.value.code) == (413, "request_too_large")
    assert "limit of 10 bytes" in caught.value.message
    assert "raise limits.some_setting" in caught.value.message
    assert receive.taken == 0


async def test_a_declared_length_at_the_limit_is_read() -> None:
    receive = Receiver(chunk(b"x" * 10, more=False))
    assert await collect(receive, headers={b"content-length": b"10"}) == [b"x" * 10]


@pytest.mark.parametrize("declared", [b"", b"-5", b"ten", b"5", b" 11"])
async def test_without_an_honest_length_the_bytes_read_decide(declared: bytes) -> None:
    receive = Receiver(chunk(b"x" * 6), chunk(b"y" * 6, more=False))
    seen: list[bytes] = []
    with pytest.raises(GatewayError) as caught:
        await collect(receive, headers={b"content-length": declared}, into=seen)
    assert caught.value.status == 413
    assert seen == [b"x" * 6]  # what fit was passed on; the chunk that crossed was not
    assert receive.taken == 2


async def test_a_streamed_body_is_refused_on_the_chunk_that_crosses_the_limit() -> None:
    receive = Receiver(chunk(b"12345"), chunk(b"67890"), chunk(b"!"), chunk(b"never", False))
    seen: list[bytes] = []
    with pytest.raises(GatewayError) as caught:
        await collect(receive, into=seen)
    assert (caught.value.status, caught.value.code) == (413, "request_too_large")
    assert seen == [b"12345", b"67890"]  # exactly the limit is still fine
    assert receive.taken == 3  # nothing read after the refusal


async def test_a_disconnect_before_the_body_ends_is_client_gone() -> None:
    receive = Receiver(chunk(b"half"), {"type": "http.disconnect"})
    seen: list[bytes] = []
    with pytest.raises(ClientGone):
        await collect(receive, into=seen)
    assert seen == [b"half"]


async def test_a_disconnect_first_is_client_gone_too() -> None:
    with pytest.raises(ClientGone):
        await collect(Receiver({"type": "http.disconnect"}))
