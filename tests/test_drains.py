"""The background drains that keep a stream's upstream connection after its terminal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from azure_asgi._drains import DRAIN_BYTES, Drains
from azure_asgi._transport import UpstreamError


class _Response:
    def __init__(self) -> None:
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def _chunks(*parts: bytes, then: BaseException | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if then is not None:
        raise then
    await asyncio.Event().wait()  # a body that never ends


async def test_a_drain_reads_to_the_end_then_closes_the_response() -> None:
    drains, response = Drains(), _Response()
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        for part in (b"0\r\n", b"\r\n"):
            read.append(part)
            yield part

    drains.start(response, body())
    await drains.wait()
    assert read == [b"0\r\n", b"\r\n"] and response.closed == 1


async def test_a_drain_gives_up_on_a_body_too_long_or_broken() -> None:
    drains = Drains()
    long, broken = _Response(), _Response()
    drains.start(long, _chunks(b"x" * (DRAIN_BYTES + 1)))
    drains.start(broken, _chunks(then=UpstreamError("cut")))
    await drains.wait()  # neither waits for the quarter second
    assert long.closed == 1 and broken.closed == 1


async def test_closing_stops_every_drain_and_closes_its_response_even_unstarted() -> None:
    drains = Drains()
    responses = [_Response(), _Response()]
    drains.start(responses[0], _chunks())
    await asyncio.sleep(0)  # the first drain is reading; the second has not begun
    drains.start(responses[1], _chunks())
    await drains.aclose()
    assert [r.closed for r in responses] == [1, 1]
